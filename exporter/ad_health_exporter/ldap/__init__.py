"""LDAP to domain controllers: the one place that opens connections.

``directory`` (per-domain connections, back-off, credentials) stands on ``connection``
(reads and paged searches), ``tls``, ``resolver`` and ``errors``; ``paging`` and ``ber``
are the pipelined paged search and its decoder; ``cldap`` is the LDAP ping over UDP (no
connection, no bind); ``dn`` holds DN string helpers. The names below are what checks use.
"""

from .connection import Connection, Scope
from .directory import Directory
from .entry import ROOT_DSE_ATTRIBUTES, Entry, RootDSE
from .errors import BindRefused, LdapError, describe

__all__ = [
    "ROOT_DSE_ATTRIBUTES", "BindRefused", "Connection", "Directory", "Entry", "LdapError", "RootDSE", "Scope",
    "describe",
]

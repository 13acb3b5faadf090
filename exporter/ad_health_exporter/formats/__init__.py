"""Pure decoders for Active Directory wire formats.

Each module turns bytes or text read from a directory into frozen dataclasses.
They do no I/O and raise only :class:`DecodeError` on bad input.

- :mod:`.filetime`   FILETIME, DSTIME and GeneralizedTime values
- :mod:`.repsfrom`   ``repsFrom`` values (REPS_FROM v1/v2) and the shared neighbour record
- :mod:`.neighbors`  ``msDS-NCReplInboundNeighbors`` (XML and ``;binary``)
- :mod:`.dnsrecord`  ``dnsRecord`` values of AD-integrated DNS zones
- :mod:`.winerror`   names and meanings of Win32/DRS/SSPI/NTSTATUS result codes
- :mod:`.spn`        service principal names and ``sPNMappings``
- :mod:`.netlogon`   the LDAP ping's answer (NETLOGON_SAM_LOGON_RESPONSE_EX)
- :mod:`.kerberos_ticket`  a Kerberos Ticket's clear-text envelope (realm, server, enctype, kvno)
"""

from .errors import DecodeError

__all__ = ["DecodeError"]

"""Typed configuration, read from one YAML file and validated as a whole.

Every error names the key path (``domains[0].tls.mode``) and what is wrong with it, and
never echoes a secret. ``tree`` reads YAML with key paths, ``model`` holds the frozen
result, ``bind`` reads credentials, ``loader`` validates a whole file against the checks
it is given.
"""

from .loader import load, parse
from .model import (
    BindConfig,
    BindMethod,
    CheckSettings,
    Config,
    DeclaredCheck,
    DomainConfig,
    LdapConfig,
    Secret,
    TlsConfig,
    TlsMode,
)
from .tree import ConfigError

__all__ = [
    "BindConfig", "BindMethod", "CheckSettings", "Config", "ConfigError", "DeclaredCheck", "DomainConfig",
    "LdapConfig", "Secret", "TlsConfig", "TlsMode", "load", "parse",
]

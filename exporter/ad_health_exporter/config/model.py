"""The validated configuration: frozen dataclasses, built only by the loader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from .tree import Node

TlsMode = Literal["ldaps", "starttls", "none"]
BindMethod = Literal["simple", "gssapi"]
S = TypeVar("S")


class Secret:
    """A string that never shows itself in repr(), str() or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class BindConfig:
    user: str  # simple: the bind name; gssapi: the Kerberos principal
    password: Secret | None  # None for gssapi: the key comes from the keytab
    # Where the password came from, for messages that must not show the password itself.
    password_source: str
    method: BindMethod = "simple"
    keytab: Path | None = None  # gssapi only


@dataclass(frozen=True)
class TlsConfig:
    mode: TlsMode = "ldaps"
    ca_file: Path | None = None
    allow_insecure_bind: bool = False


@dataclass(frozen=True)
class LdapConfig:
    port: int | None = None  # default from TLS mode: 636 for ldaps, 389 otherwise
    connect_timeout: float = 5.0
    receive_timeout: int = 30  # ldap3 needs an int here
    page_size: int = 1000

    def port_for(self, mode: TlsMode) -> int:
        if self.port is not None:
            return self.port
        return 636 if mode == "ldaps" else 389


@dataclass(frozen=True)
class CheckSettings(Generic[S]):
    """How a check's own section of a domain (``spn:``, ``time:`` ...) is read."""

    default: S
    parse: Callable[[Node], S]


class DeclaredCheck(Protocol):
    """What the configuration needs of a check: its name (its key under ``intervals``,
    ``timeouts`` and of its own section), its default interval, and its section's reader."""

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float: ...

    @property
    def settings(self) -> CheckSettings[Any] | None: ...


@dataclass(frozen=True)
class DomainConfig:
    name: str
    bind: BindConfig
    domain_controllers: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    tls: TlsConfig = field(default_factory=TlsConfig)
    ldap: LdapConfig = field(default_factory=LdapConfig)
    # Every check's interval (its default unless configured), its configured time limits,
    # and its own settings, keyed by check name.
    intervals: Mapping[str, float] = field(default_factory=dict)
    timeouts: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, object] = field(default_factory=dict)

    def interval(self, check: str) -> float:
        return self.intervals[check]

    def timeout(self, check: str) -> float:
        """Hard time limit of one run: configured, else the interval (a run never overlaps the next)."""
        return self.timeouts.get(check, self.intervals[check])


@dataclass(frozen=True)
class Config:
    domains: tuple[DomainConfig, ...]
    source: Path | None = None

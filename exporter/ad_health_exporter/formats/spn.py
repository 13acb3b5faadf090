"""Service principal names and the ``sPNMappings`` alias table.

An SPN is ``class/host[:port|:instance][/service]``: two or three parts
separated by ``/``.  Examples: ``HOST/fs01.lab.example``,
``MSSQLSvc/sql.lab.example:1433``, ``ldap/dc1.lab.example/lab.example``,
``E3514235-4B06-11D1-AB04-00C04FC2DCD2/<DSA GUID>/lab.example``.

AD compares SPNs case-insensitively, so each SPN has a lower-cased ``key``.

``sPNMappings`` (on ``CN=Directory Service,CN=Windows NT,CN=Services,`` in
the Configuration NC) lists classes the KDC resolves through another class,
e.g. ``host=alerter,http,cifs,...``: a ticket request for ``cifs/x`` is served
by the account holding ``HOST/x`` when no account holds ``cifs/x`` itself.  So
``HOST/x`` on one account and ``cifs/x`` on another is an effective duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from .errors import DecodeError

_STRUCTURE = "servicePrincipalName"
_MAPPINGS = "sPNMappings"


@dataclass(frozen=True)
class ServicePrincipalName:
    """A parsed SPN, with its parts as written."""

    service_class: str
    host: str
    #: Port number or SQL instance name after ``:``, if any.
    port_or_instance: str | None = None
    #: Third part (e.g. the domain for ``ldap/dc/domain``), if any.
    service_name: str | None = None

    def __str__(self) -> str:
        text = f"{self.service_class}/{self.host}"
        if self.port_or_instance is not None:
            text += f":{self.port_or_instance}"
        if self.service_name is not None:
            text += f"/{self.service_name}"
        return text

    @property
    def key(self) -> str:
        """The SPN lower-cased: equal keys mean AD treats the SPNs as the same value.

        ``str.lower`` rather than ``casefold``: AD's case-insensitive match
        does not fold ``ß`` to ``ss``.
        """
        return str(self).lower()

    def with_class(self, service_class: str) -> ServicePrincipalName:
        """The same SPN under another service class."""
        return ServicePrincipalName(service_class, self.host, self.port_or_instance, self.service_name)


def _blank(text: str) -> bool:
    return not text.strip()


def parse_spn(value: str) -> ServicePrincipalName:
    """Parse ``class/host[:port|:instance][/service]``.

    The host may be a bracketed IPv6 literal (``[fd00::1]:389``).  Parts are
    kept as written (not stripped, not case-folded).

    Raises :class:`DecodeError` for a value that is not text, has fewer than
    two or more than three ``/``-separated parts, or has an empty (or blank)
    class, host, port/instance after ``:``, or service name.
    """
    if not isinstance(value, str):
        raise DecodeError(_STRUCTURE, f"expected text, got {type(value).__name__}")
    shown = value if len(value) <= 200 else value[:200] + "..."
    parts = value.split("/")
    if len(parts) not in (2, 3):
        raise DecodeError(_STRUCTURE, f"{shown!r} has {len(parts)} '/'-separated parts, expected 2 or 3")
    service_class, host_part = parts[0], parts[1]
    service_name = parts[2] if len(parts) == 3 else None
    if _blank(service_class):
        raise DecodeError(_STRUCTURE, f"{shown!r} has an empty service class")
    if host_part.startswith("["):
        close = host_part.find("]")
        if close < 0:
            raise DecodeError(_STRUCTURE, f"{shown!r} has an unclosed '[' in the host")
        host, rest = host_part[:close + 1], host_part[close + 1:]
        if rest and not rest.startswith(":"):
            raise DecodeError(_STRUCTURE, f"{shown!r} has text after the bracketed host")
        port = rest[1:] if rest else None
        if host == "[]":
            raise DecodeError(_STRUCTURE, f"{shown!r} has an empty host")
    else:
        host, colon, port_text = host_part.partition(":")
        port = port_text if colon else None
    if _blank(host):
        raise DecodeError(_STRUCTURE, f"{shown!r} has an empty host")
    if port is not None and _blank(port):
        raise DecodeError(_STRUCTURE, f"{shown!r} has an empty port or instance after ':'")
    if service_name is not None and _blank(service_name):
        raise DecodeError(_STRUCTURE, f"{shown!r} has an empty service name after the second '/'")
    return ServicePrincipalName(service_class, host, port, service_name)


@dataclass(frozen=True)
class SpnMappings:
    """``sPNMappings`` as a lower-case alias → canonical class map."""

    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def canonical_class(self, service_class: str) -> str:
        """The class ``service_class`` resolves to (lower case); itself when not an alias."""
        folded = service_class.lower()
        return self.aliases.get(folded, folded)

    def aliases_of(self, canonical: str) -> frozenset[str]:
        """Every alias that resolves to ``canonical`` (lower case)."""
        return self._by_canonical.get(canonical.lower(), frozenset())

    @cached_property
    def _by_canonical(self) -> dict[str, frozenset[str]]:
        # Built once: a forest-wide scan asks this for every SPN.
        grouped: dict[str, set[str]] = {}
        for alias, target in self.aliases.items():
            grouped.setdefault(target, set()).add(alias)
        return {target: frozenset(names) for target, names in grouped.items()}


def parse_spn_mappings(values: Iterable[str] | str) -> SpnMappings:
    """Parse the values of ``sPNMappings`` (each ``canonical=alias,alias,...``).

    Names are lower-cased and stripped of surrounding blanks; empty list items
    are skipped and an alias equal to its own canonical class is ignored.

    Raises :class:`DecodeError` for a value without ``=``, with an empty
    canonical class, or an alias mapped to two different canonical classes.
    """
    if isinstance(values, str):
        values = [values]
    aliases: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            raise DecodeError(_MAPPINGS, f"expected text, got {type(value).__name__}")
        shown = value if len(value) <= 80 else value[:80] + "..."
        canonical, equals, alias_list = value.partition("=")
        canonical = canonical.strip().lower()
        if not equals:
            raise DecodeError(_MAPPINGS, f"{shown!r} has no '=' (expected canonical=alias,...)")
        if not canonical:
            raise DecodeError(_MAPPINGS, f"{shown!r} has an empty class before '='")
        for alias in alias_list.split(","):
            alias = alias.strip().lower()
            if not alias or alias == canonical:
                continue
            previous = aliases.setdefault(alias, canonical)
            if previous != canonical:
                raise DecodeError(
                    _MAPPINGS, f"alias {alias!r} is mapped to both {previous!r} and {canonical!r}"
                )
    return SpnMappings(MappingProxyType(aliases))


def equivalent_keys(spn: ServicePrincipalName, mappings: SpnMappings) -> frozenset[str]:
    """Keys under which ``spn`` answers ticket requests.

    Always the SPN's own key.  When its class is the target of aliases
    (``HOST``), also the key of the SPN under every alias class, because the
    KDC serves ``cifs/x`` from the holder of ``HOST/x``.  An alias-class SPN
    (``cifs/x``) answers only for itself.

    Two SPNs on different accounts collide when their key sets intersect:
    ``HOST/x`` and ``cifs/x`` do (on ``cifs/x``), ``cifs/x`` and ``http/x`` do
    not.  To count duplicates, index every account under every key of every
    SPN it holds, then look only at the keys of SPN values actually present,
    so one SPN is not counted once per alias.
    """
    keys = {spn.key}
    for alias in mappings.aliases_of(spn.service_class):
        keys.add(spn.with_class(alias).key)
    return frozenset(keys)

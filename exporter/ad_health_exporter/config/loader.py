"""Reads the exporter's configuration file and validates it as a whole.

The checks are passed in (the check catalogue): each brings its name, default interval
and the reader of its own section, so this module knows no check by name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .bind import bind as read_bind
from .model import BindMethod, Config, DeclaredCheck, DomainConfig, LdapConfig, TlsConfig, TlsMode
from .tree import ConfigError, Node, hostname, ip_address, optional, read_yaml, readable_file

_DOMAIN_KEYS = ("name", "domain_controllers", "dns_servers", "bind", "tls", "ldap", "intervals", "timeouts")
_TLS_MODES: dict[str, TlsMode] = {"ldaps": "ldaps", "starttls": "starttls", "none": "none"}


def _tls(node: Node, base: Path, bind_method: BindMethod = "simple") -> TlsConfig:
    keys = node.mapping(("mode", "ca_file", "allow_insecure_bind"))
    mode = _TLS_MODES.get(optional(keys, "mode", lambda n: n.string().lower(), "ldaps"))
    if mode is None:
        raise keys["mode"].fail(f"must be one of ldaps, starttls, none; got {keys['mode'].value!r}")
    if mode == "none" and bind_method == "gssapi":
        # ldap3 has no SASL signing/sealing layer: without TLS nothing would protect the session.
        raise keys["mode"].fail(
            "bind method gssapi needs ldaps or starttls (ldap3 cannot sign or seal a plain LDAP session)"
        )
    ca_file = optional(keys, "ca_file", lambda n: readable_file(n, base), None)
    allow = optional(keys, "allow_insecure_bind", Node.boolean, False)
    if mode == "none" and not allow:
        raise node.fail(
            "mode 'none' sends the bind password in clear text; set allow_insecure_bind: true to accept that"
        )
    return TlsConfig(mode=mode, ca_file=ca_file, allow_insecure_bind=allow)


def _ldap(node: Node) -> LdapConfig:
    keys = node.mapping(("port", "connect_timeout", "receive_timeout", "page_size"))
    receive = optional(keys, "receive_timeout", lambda n: n.duration(), 30.0)
    return LdapConfig(
        port=optional(keys, "port", lambda n: n.integer(1, 65535), None),
        connect_timeout=optional(keys, "connect_timeout", lambda n: n.duration(), 5.0),
        # Round up: a fraction of a second would become 0, which ldap3 reads as "no timeout".
        receive_timeout=max(1, int(receive + 0.999)),
        page_size=optional(keys, "page_size", lambda n: n.integer(1, 100000), 1000),
    )


def _per_check_durations(node: Node, checks: Sequence[DeclaredCheck]) -> dict[str, float]:
    keys = node.mapping(c.name for c in checks)
    return {name: n.duration() for name, n in keys.items() if n.value is not None}


# Typed wrappers of ``optional`` for an empty default: the return type tells mypy what ``{}`` and ``[]`` hold.
def _durations(keys: dict[str, Node], key: str, checks: Sequence[DeclaredCheck]) -> dict[str, float]:
    return optional(keys, key, lambda n: _per_check_durations(n, checks), {})


def _list(keys: dict[str, Node], key: str) -> list[Node]:
    return optional(keys, key, Node.items, [])


def _domain(node: Node, base: Path, environ: dict[str, str], checks: Sequence[DeclaredCheck]) -> DomainConfig:
    sections = {c.name: c.settings for c in checks if c.settings is not None}
    keys = node.mapping(_DOMAIN_KEYS + tuple(sections))
    for required in ("name", "bind"):
        if required not in keys:
            raise node.fail(f"missing required key '{required}'")
    intervals = {c.name: c.interval for c in checks}
    intervals.update(_durations(keys, "intervals", checks))
    timeouts = _durations(keys, "timeouts", checks)
    for check, limit in timeouts.items():
        if limit > intervals[check]:
            raise keys["timeouts"].fail(
                f"{check}: timeout {limit:g}s is longer than the check's interval {intervals[check]:g}s"
            )
    bind = read_bind(keys["bind"], base, environ)
    return DomainConfig(
        name=hostname(keys["name"]),
        domain_controllers=tuple(hostname(n) for n in _list(keys, "domain_controllers")),
        dns_servers=tuple(ip_address(n) for n in _list(keys, "dns_servers")),
        bind=bind,
        tls=optional(keys, "tls", lambda n: _tls(n, base, bind.method), TlsConfig()),
        ldap=optional(keys, "ldap", _ldap, LdapConfig()),
        intervals=intervals,
        timeouts=timeouts,
        settings={name: optional(keys, name, spec.parse, spec.default) for name, spec in sections.items()},
    )


def parse(
    data: Any,
    checks: Sequence[DeclaredCheck],
    *,
    base: Path,
    environ: dict[str, str] | None = None,
    source: Path | None = None,
) -> Config:
    """Validate a parsed YAML document; relative paths are taken from ``base``."""
    environ = dict(os.environ) if environ is None else environ
    root = Node(data, "")
    if data is None:
        raise ConfigError("the file is empty: it needs at least a 'domains' list")
    keys = root.mapping(("domains",))
    if "domains" not in keys:
        raise ConfigError("missing required key 'domains'")
    items = keys["domains"].items()
    if not items:
        raise keys["domains"].fail("must list at least one domain")
    domains = tuple(_domain(item, base, environ, checks) for item in items)
    seen: set[str] = set()
    for i, domain in enumerate(domains):
        if domain.name in seen:
            raise ConfigError(f"domains[{i}].name: domain {domain.name} is configured twice")
        seen.add(domain.name)
    return Config(domains=domains, source=source)


def load(path: Path | str, checks: Sequence[DeclaredCheck], environ: dict[str, str] | None = None) -> Config:
    """Read and validate the file; every problem is a ConfigError whose message starts with the file name."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return parse(data, checks, base=path.parent.resolve(), environ=environ, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

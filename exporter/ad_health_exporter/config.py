"""Typed configuration, read from one YAML file and validated as a whole.

Every error names the key path (``domains[0].tls.mode``) and what is wrong with it, and
never echoes a secret. Secrets are read when the file is loaded, so an unreadable
password file fails at start-up (and in ``--check-config``), not at the first bind.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, TypeVar

import yaml

from . import kerberos

CHECK_NAMES = ("inventory", "spn", "accounts", "time", "dns", "replication")

DEFAULT_INTERVALS: dict[str, float] = {
    "inventory": 60.0,
    "spn": 900.0,
    "accounts": 900.0,
    "time": 60.0,
    "dns": 300.0,
    "replication": 60.0,
}

TlsMode = Literal["ldaps", "starttls", "none"]
BindMethod = Literal["simple", "gssapi"]
T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem; str() is one line naming where and what."""


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
class ExpectedSpn:
    spn: str
    account: str


@dataclass(frozen=True)
class SpnConfig:
    expected: tuple[ExpectedSpn, ...] = ()
    duplicate_series_limit: int = 100
    expect_domain_controller_spns: bool = True
    expect_host_spn_on_computers: bool = True


@dataclass(frozen=True)
class AccountsConfig:
    watched_computers: tuple[str, ...] = ()
    password_age_days: tuple[int, ...] = (45, 90, 180)
    watch_domain_controllers: bool = True


@dataclass(frozen=True)
class TimeConfig:
    ntp: bool = True
    ntp_timeout: float = 2.0
    ldap: bool = True
    # Offsets the check report calls a warning / an error (Kerberos' MaxClockSkew is 5 minutes).
    warning_offset: float = 30.0
    error_offset: float = 240.0


@dataclass(frozen=True)
class DnsConfig:
    # Empty: ask each DC as a DNS server (up to max_servers of them).
    servers: tuple[str, ...] = ()
    max_servers: int = 4
    timeout: float = 2.0
    probe_timeout: float = 2.0
    read_zones: bool = True


@dataclass(frozen=True)
class DomainConfig:
    name: str
    bind: BindConfig
    domain_controllers: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    tls: TlsConfig = field(default_factory=TlsConfig)
    ldap: LdapConfig = field(default_factory=LdapConfig)
    intervals: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    timeouts: dict[str, float] = field(default_factory=dict)
    spn: SpnConfig = field(default_factory=SpnConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)

    def interval(self, check: str) -> float:
        return self.intervals[check]

    def timeout(self, check: str) -> float:
        """Hard time limit of one run: configured, else the interval (a run never overlaps the next)."""
        return self.timeouts.get(check, self.intervals[check])


@dataclass(frozen=True)
class Config:
    domains: tuple[DomainConfig, ...]
    source: Path | None = None


# --- parsing helpers -------------------------------------------------------------------------

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$", re.I)


class _Node:
    """A value in the YAML tree together with its key path, for messages."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {problem}")

    def mapping(self, allowed: Iterable[str]) -> dict[str, _Node]:
        if not isinstance(self.value, dict):
            raise self.fail(f"must be a mapping, got {_kind(self.value)}")
        allowed = tuple(allowed)
        out: dict[str, _Node] = {}
        for key, value in self.value.items():
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {_kind(key)} {key!r}")
            if key not in allowed:
                hint = f"; known keys: {', '.join(allowed)}" if allowed else ""
                raise ConfigError(f"{self._child(key)}: unknown key{hint}")
            out[key] = _Node(value, self._child(key))
        return out

    def items(self) -> list[_Node]:
        if not isinstance(self.value, list):
            raise self.fail(f"must be a list, got {_kind(self.value)}")
        return [_Node(v, f"{self.path}[{i}]") for i, v in enumerate(self.value)]

    def string(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail(f"must be a non-empty string, got {_kind(self.value)}")
        return self.value.strip()

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"must be true or false, got {_kind(self.value)}")
        return self.value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail(f"must be a whole number, got {_kind(self.value)}")
        _bounds(self, self.value, minimum, maximum)
        return self.value

    def duration(self, minimum: float = 0.0) -> float:
        """Seconds, from a number or a Go-style duration string such as '90s', '5m', '1h30m'."""
        value = self.value
        if isinstance(value, bool):
            raise self.fail(f"must be a duration such as 30s, 5m or 1h, got {_kind(value)}")
        if isinstance(value, (int, float)):
            seconds = float(value)
        elif isinstance(value, str) and _DURATION.match(value.strip()):
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value.strip()))
        else:
            raise self.fail(f"must be a duration such as 30s, 5m or 1h, got {value!r}")
        if seconds <= minimum:
            raise self.fail(f"must be longer than {minimum:g}s, got {value!r}")
        return seconds

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


def _bounds(node: _Node, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise node.fail(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise node.fail(f"must be at most {maximum}, got {value}")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _optional(nodes: dict[str, _Node], key: str, parse: Callable[[_Node], T], default: T) -> T:
    node = nodes.get(key)
    if node is None or node.value is None:
        return default
    return parse(node)


def _hostname(node: _Node) -> str:
    name = node.string().lower().rstrip(".")
    if not _HOSTNAME.match(name):
        raise node.fail(f"is not a valid DNS name: {node.value!r}")
    return name


def _ip(node: _Node) -> str:
    text = node.string()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise node.fail(f"must be an IP address, got {text!r}") from None


def file_path(node: _Node, base: Path) -> Path:
    """A configured path; a relative one is relative to the configuration file's directory."""
    path = Path(node.string())
    return path if path.is_absolute() else base / path


def _readable_file(node: _Node, base: Path) -> Path:
    path = file_path(node, base)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise node.fail(f"cannot read {path}: {exc.strerror or exc}") from None
    return path


# --- sections ---------------------------------------------------------------------------------


def _bind(node: _Node, base: Path, environ: dict[str, str]) -> BindConfig:
    keys = node.mapping(("method", "user", "password_file", "password_env", "principal", "keytab"))
    method = _optional(keys, "method", lambda n: n.string().lower(), "simple")
    if method == "gssapi":
        return _gssapi_bind(node, keys, base)
    if method != "simple":
        raise keys["method"].fail(f"must be simple or gssapi; got {keys['method'].value!r}")
    for key in ("principal", "keytab"):
        if key in keys:
            raise keys[key].fail("is for method gssapi; method simple binds with user and a password")
    if "user" not in keys:
        raise node.fail("missing required key 'user'")
    user = keys["user"].string()
    has_file = "password_file" in keys and keys["password_file"].value is not None
    has_env = "password_env" in keys and keys["password_env"].value is not None
    if has_file == has_env:
        raise node.fail("give exactly one of 'password_file' or 'password_env'")
    if has_file:
        path = _readable_file(keys["password_file"], base)
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise keys["password_file"].fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        password = raw.rstrip("\r\n")
        source = f"file {path}"
        where = keys["password_file"]
    else:
        var = keys["password_env"].string()
        if var not in environ:
            raise keys["password_env"].fail(f"environment variable {var} is not set")
        password = environ[var]
        source = f"environment variable {var}"
        where = keys["password_env"]
    if not password:
        # An empty password makes an LDAP simple bind anonymous (RFC 4513 5.1.2): refuse it.
        raise where.fail(f"the password in {source} is empty")
    return BindConfig(user=user, password=Secret(password), password_source=source)


def _gssapi_bind(node: _Node, keys: dict[str, _Node], base: Path) -> BindConfig:
    for key in ("user", "password_file", "password_env"):
        if key in keys:
            raise keys[key].fail("is for method simple; method gssapi takes its key from 'keytab' and names 'principal'")
    missing = kerberos.gssapi_missing()
    if missing:
        raise keys["method"].fail(f"gssapi cannot be used: {missing}")
    if "keytab" not in keys:
        raise node.fail("method gssapi needs 'keytab' (export one with ktpass or samba-tool domain exportkeytab)")
    path = _readable_file(keys["keytab"], base)
    try:
        available = kerberos.principals(path)
    except (OSError, kerberos.KeytabError) as exc:
        raise keys["keytab"].fail(f"cannot read {path} as a keytab: {getattr(exc, 'strerror', None) or exc}") from None
    if not available:
        raise keys["keytab"].fail(f"{path} holds no keys")
    if "principal" in keys:
        wanted = keys["principal"].string()
        principal = kerberos.match_principal(wanted, available)
        if principal is None:
            raise keys["principal"].fail(f"{path} holds no key for {wanted} (it holds: {', '.join(available)})")
    elif len(available) == 1:
        principal = available[0]
    else:
        raise node.fail(f"{path} holds several principals ({', '.join(available)}): name one with 'principal'")
    return BindConfig(user=principal, password=None, password_source=f"keytab {path}", method="gssapi", keytab=path)


def _tls(node: _Node, base: Path, bind_method: BindMethod = "simple") -> TlsConfig:
    keys = node.mapping(("mode", "ca_file", "allow_insecure_bind"))
    mode = _optional(keys, "mode", lambda n: n.string().lower(), "ldaps")
    if mode not in ("ldaps", "starttls", "none"):
        raise keys["mode"].fail(f"must be one of ldaps, starttls, none; got {keys['mode'].value!r}")
    if mode == "none" and bind_method == "gssapi":
        # ldap3 has no SASL signing/sealing layer: without TLS nothing would protect the session.
        raise keys["mode"].fail("bind method gssapi needs ldaps or starttls (ldap3 cannot sign or seal a plain LDAP session)")
    ca_file = _optional(keys, "ca_file", lambda n: _readable_file(n, base), None)
    allow = _optional(keys, "allow_insecure_bind", _Node.boolean, False)
    if mode == "none" and not allow:
        raise node.fail(
            "mode 'none' sends the bind password in clear text; set allow_insecure_bind: true to accept that"
        )
    return TlsConfig(mode=mode, ca_file=ca_file, allow_insecure_bind=allow)  # type: ignore[arg-type]


def _ldap(node: _Node) -> LdapConfig:
    keys = node.mapping(("port", "connect_timeout", "receive_timeout", "page_size"))
    receive = _optional(keys, "receive_timeout", lambda n: n.duration(), 30.0)
    return LdapConfig(
        port=_optional(keys, "port", lambda n: n.integer(1, 65535), None),
        connect_timeout=_optional(keys, "connect_timeout", lambda n: n.duration(), 5.0),
        # Round up: a fraction of a second would become 0, which ldap3 reads as "no timeout".
        receive_timeout=max(1, int(receive + 0.999)),
        page_size=_optional(keys, "page_size", lambda n: n.integer(1, 100000), 1000),
    )


def _per_check_durations(node: _Node) -> dict[str, float]:
    keys = node.mapping(CHECK_NAMES)
    return {name: n.duration() for name, n in keys.items() if n.value is not None}


def _spn(node: _Node) -> SpnConfig:
    keys = node.mapping(("expected", "duplicate_series_limit", "expect_domain_controller_spns", "expect_host_spn_on_computers"))
    expected: list[ExpectedSpn] = []
    if "expected" in keys and keys["expected"].value is not None:
        for item in keys["expected"].items():
            fields = item.mapping(("spn", "account"))
            for required in ("spn", "account"):
                if required not in fields:
                    raise item.fail(f"missing required key '{required}'")
            spn = fields["spn"].string()
            if spn.count("/") not in (1, 2) or any(not p for p in spn.split("/")[:2]):
                raise fields["spn"].fail(f"is not an SPN of the form class/host[:port][/service]: {spn!r}")
            expected.append(ExpectedSpn(spn=spn, account=fields["account"].string()))
    return SpnConfig(
        expected=tuple(expected),
        duplicate_series_limit=_optional(keys, "duplicate_series_limit", lambda n: n.integer(0, 100000), 100),
        expect_domain_controller_spns=_optional(keys, "expect_domain_controller_spns", _Node.boolean, True),
        expect_host_spn_on_computers=_optional(keys, "expect_host_spn_on_computers", _Node.boolean, True),
    )


def _accounts(node: _Node) -> AccountsConfig:
    keys = node.mapping(("watched_computers", "password_age_days", "watch_domain_controllers"))
    watched: tuple[str, ...] = ()
    if "watched_computers" in keys and keys["watched_computers"].value is not None:
        watched = tuple(n.string().rstrip("$").upper() for n in keys["watched_computers"].items())
    ages: tuple[int, ...] = (45, 90, 180)
    if "password_age_days" in keys and keys["password_age_days"].value is not None:
        items = keys["password_age_days"].items()
        if not items:
            raise keys["password_age_days"].fail("must list at least one number of days")
        ages = tuple(sorted({n.integer(1, 100000) for n in items}))
    return AccountsConfig(
        watched_computers=watched,
        password_age_days=ages,
        watch_domain_controllers=_optional(keys, "watch_domain_controllers", _Node.boolean, True),
    )


def _time(node: _Node) -> TimeConfig:
    keys = node.mapping(("ntp", "ntp_timeout", "ldap", "warning_offset", "error_offset"))
    cfg = TimeConfig(
        ntp=_optional(keys, "ntp", _Node.boolean, True),
        ntp_timeout=_optional(keys, "ntp_timeout", lambda n: n.duration(), 2.0),
        ldap=_optional(keys, "ldap", _Node.boolean, True),
        warning_offset=_optional(keys, "warning_offset", lambda n: n.duration(), 30.0),
        error_offset=_optional(keys, "error_offset", lambda n: n.duration(), 240.0),
    )
    if not (cfg.ntp or cfg.ldap):
        raise node.fail("ntp and ldap are both false: the time check would have no source to read")
    if cfg.warning_offset >= cfg.error_offset:
        where = keys.get("warning_offset") or keys.get("error_offset") or node
        raise where.fail(
            f"warning_offset ({cfg.warning_offset:g}s) must be smaller than error_offset ({cfg.error_offset:g}s)"
        )
    return cfg


def _dns(node: _Node) -> DnsConfig:
    keys = node.mapping(("servers", "max_servers", "timeout", "probe_timeout", "read_zones"))
    servers: tuple[str, ...] = ()
    if "servers" in keys and keys["servers"].value is not None:
        servers = tuple(_ip(n) for n in keys["servers"].items())
    return DnsConfig(
        servers=servers,
        max_servers=_optional(keys, "max_servers", lambda n: n.integer(1, 64), 4),
        timeout=_optional(keys, "timeout", lambda n: n.duration(), 2.0),
        probe_timeout=_optional(keys, "probe_timeout", lambda n: n.duration(), 2.0),
        read_zones=_optional(keys, "read_zones", _Node.boolean, True),
    )


_DOMAIN_KEYS = (
    "name", "domain_controllers", "dns_servers", "bind", "tls", "ldap",
    "intervals", "timeouts", "spn", "accounts", "time", "dns",
)


def _domain(node: _Node, base: Path, environ: dict[str, str]) -> DomainConfig:
    keys = node.mapping(_DOMAIN_KEYS)
    for required in ("name", "bind"):
        if required not in keys:
            raise node.fail(f"missing required key '{required}'")
    intervals = dict(DEFAULT_INTERVALS)
    intervals.update(_optional(keys, "intervals", _per_check_durations, {}))
    timeouts = _optional(keys, "timeouts", _per_check_durations, {})
    for check, limit in timeouts.items():
        if limit > intervals[check]:
            raise keys["timeouts"].fail(
                f"{check}: timeout {limit:g}s is longer than the check's interval {intervals[check]:g}s"
            )
    bind = _bind(keys["bind"], base, environ)
    return DomainConfig(
        name=_hostname(keys["name"]),
        domain_controllers=tuple(_hostname(n) for n in _optional(keys, "domain_controllers", _Node.items, [])),
        dns_servers=tuple(_ip(n) for n in _optional(keys, "dns_servers", _Node.items, [])),
        bind=bind,
        tls=_optional(keys, "tls", lambda n: _tls(n, base, bind.method), TlsConfig()),
        ldap=_optional(keys, "ldap", _ldap, LdapConfig()),
        intervals=intervals,
        timeouts=timeouts,
        spn=_optional(keys, "spn", _spn, SpnConfig()),
        accounts=_optional(keys, "accounts", _accounts, AccountsConfig()),
        time=_optional(keys, "time", _time, TimeConfig()),
        dns=_optional(keys, "dns", _dns, DnsConfig()),
    )


def parse(data: Any, *, base: Path, environ: dict[str, str] | None = None, source: Path | None = None) -> Config:
    """Validate a parsed YAML document; relative paths are taken from ``base``."""
    environ = dict(os.environ) if environ is None else environ
    root = _Node(data, "")
    if data is None:
        raise ConfigError("the file is empty: it needs at least a 'domains' list")
    keys = root.mapping(("domains",))
    if "domains" not in keys:
        raise ConfigError("missing required key 'domains'")
    items = keys["domains"].items()
    if not items:
        raise keys["domains"].fail("must list at least one domain")
    domains = tuple(_domain(item, base, environ) for item in items)
    seen: set[str] = set()
    for i, domain in enumerate(domains):
        if domain.name in seen:
            raise ConfigError(f"domains[{i}].name: domain {domain.name} is configured twice")
        seen.add(domain.name)
    return Config(domains=domains, source=source)


def read_yaml(path: Path, error: type[Exception] = ConfigError) -> Any:
    """A YAML file's content; a missing, unreadable or malformed file raises ``error`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise error(f"{path}: not valid YAML{where}: {problem}") from None


def load(path: Path | str, environ: dict[str, str] | None = None) -> Config:
    """Read and validate the file; every problem is a ConfigError whose message starts with the file name."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return parse(data, base=path.parent.resolve(), environ=environ, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

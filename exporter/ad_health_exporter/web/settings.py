"""``--web.config.file``: what the file may say, and its parsing into a ``WebConfig``.

The file has the format of the Prometheus exporter-toolkit (the one node_exporter and
Prometheus itself read), so ``promtool check web-config`` accepts it:

    tls_server_config:   {cert_file, key_file, client_auth_type, client_ca_file,
                          client_allowed_sans, min_version, max_version, cipher_suites,
                          prefer_server_cipher_suites}
    http_server_config:  {http2, headers}
    basic_auth_users:    {name: bcrypt hash}

Stricter than the toolkit where it would be unsafe: TLS below 1.2, cipher suites without
forward secrecy or with CBC, client certificates that are requested but not verified,
and bcrypt hashes of cost below 10 are refused with a message naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..config.tree import Node, file_path, read_yaml
from .tls_names import (
    CLIENT_AUTH,
    STRONG_SUITES,
    TLS13_SUITES,
    UNVERIFIED_CLIENT_AUTH,
    VERSIONS,
    WEAK_SUITES,
    WEAK_VERSIONS,
)

MIN_BCRYPT_COST = 10

# The exporter-toolkit allows these headers only, some with fixed values.
_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

_TLS_KEYS = (
    "cert_file", "key_file", "client_auth_type", "client_ca_file", "client_allowed_sans", "min_version",
    "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "cert", "key", "client_ca",
)


class WebConfigError(ConfigError):
    """The web configuration cannot be used; str() names the file and the key."""


@dataclass(frozen=True)
class TlsServerConfig:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    client_allowed_sans: tuple[str, ...] = ()
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()  # OpenSSL names; empty: DEFAULT_CIPHERS
    prefer_server_cipher_suites: bool = True

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p is not None)


@dataclass(frozen=True)
class WebConfig:
    tls: TlsServerConfig | None = None
    # user -> bcrypt hash. Not secret like a password, but not shown either.
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    source: Path | None = None


def parse(data: Any, base: Path, source: Path | None = None) -> WebConfig:
    """Validate a parsed YAML document; relative paths are taken from ``base``."""
    if data is None:
        return WebConfig(source=source)
    root = Node(data, "")
    keys = root.mapping(("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"))
    if "rate_limit" in keys:
        raise WebConfigError(
            "rate_limit: is not supported by this exporter "
            "(scrapes never reach AD; put a proxy in front to limit rates)"
        )
    tls = None
    if "tls_server_config" in keys and keys["tls_server_config"].value is not None:
        tls = _tls(keys["tls_server_config"], base)
    headers: tuple[tuple[str, str], ...] = ()
    if "http_server_config" in keys and keys["http_server_config"].value is not None:
        headers = _http(keys["http_server_config"])
    users: dict[str, bytes] = {}
    if "basic_auth_users" in keys and keys["basic_auth_users"].value is not None:
        users = _users(keys["basic_auth_users"])
    return WebConfig(tls=tls, users=users, headers=headers, source=source)


def _tls(node: Node, base: Path) -> TlsServerConfig:
    keys = node.mapping(_TLS_KEYS)
    for inline, instead in (("cert", "cert_file"), ("key", "key_file"), ("client_ca", "client_ca_file")):
        if inline in keys:
            raise keys[inline].fail(f"inline PEM is not supported: put it in a file and name it with {instead}")
    if "curve_preferences" in keys:
        raise keys["curve_preferences"].fail(
            "is not supported by this exporter (Python's ssl module cannot set a curve list); remove it to use "
            "OpenSSL's defaults (X25519, P-256, P-384, P-521)"
        )
    for required in ("cert_file", "key_file"):
        if required not in keys or keys[required].value in (None, ""):
            raise node.fail(f"missing {required} (TLS needs both cert_file and key_file)")
    cert_file = file_path(keys["cert_file"], base)
    key_file = file_path(keys["key_file"], base)

    client_auth = "NoClientCert"
    if "client_auth_type" in keys and keys["client_auth_type"].value not in (None, ""):
        client_auth = keys["client_auth_type"].string()
        if client_auth in UNVERIFIED_CLIENT_AUTH:
            raise keys["client_auth_type"].fail(
                f"{client_auth} accepts client certificates without verifying them, which proves nothing; "
                "use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"
            )
        if client_auth not in CLIENT_AUTH:
            raise keys["client_auth_type"].fail(f"must be one of {', '.join(CLIENT_AUTH)}; got {client_auth!r}")
    client_ca = None
    if "client_ca_file" in keys and keys["client_ca_file"].value not in (None, ""):
        client_ca = file_path(keys["client_ca_file"], base)
        if client_auth == "NoClientCert":
            raise keys["client_ca_file"].fail(
                "a client CA is set but client_auth_type is NoClientCert: "
                "set client_auth_type: RequireAndVerifyClientCert"
            )
    elif client_auth != "NoClientCert":
        raise node.fail(f"client_auth_type {client_auth} needs client_ca_file (the CA that issues client certificates)")

    sans: tuple[str, ...] = ()
    if "client_allowed_sans" in keys and keys["client_allowed_sans"].value is not None:
        sans = tuple(n.string() for n in keys["client_allowed_sans"].items())
        if client_auth != "RequireAndVerifyClientCert":
            raise keys["client_allowed_sans"].fail("needs client_auth_type RequireAndVerifyClientCert")

    min_version = _version(keys.get("min_version"), "TLS12")
    max_version = _version(keys.get("max_version"), "TLS13")
    if VERSIONS[min_version] > VERSIONS[max_version]:
        raise keys["max_version"].fail(f"{max_version} is below min_version {min_version}")

    suites: list[str] = []
    if "cipher_suites" in keys and keys["cipher_suites"].value is not None:
        for item in keys["cipher_suites"].items():
            name = item.string()
            if name in TLS13_SUITES:
                continue  # TLS 1.3 suites are always the AEAD three; nothing to set
            if name in WEAK_SUITES:
                raise item.fail(f"{name} is weak (no forward secrecy or CBC mode); use ECDHE with AES-GCM or ChaCha20")
            if name not in STRONG_SUITES:
                raise item.fail(f"unknown cipher suite {name!r}; use one of {', '.join(list(STRONG_SUITES)[:6])}")
            suites.append(STRONG_SUITES[name])
    prefer = True
    if "prefer_server_cipher_suites" in keys and keys["prefer_server_cipher_suites"].value is not None:
        prefer = keys["prefer_server_cipher_suites"].boolean()
    return TlsServerConfig(
        cert_file=cert_file,
        key_file=key_file,
        client_auth_type=client_auth,
        client_ca_file=client_ca,
        client_allowed_sans=sans,
        min_version=min_version,
        max_version=max_version,
        cipher_suites=tuple(dict.fromkeys(suites)),
        prefer_server_cipher_suites=prefer,
    )


def _version(node: Node | None, default: str) -> str:
    if node is None or node.value in (None, ""):
        return default
    text = node.string()
    if text in WEAK_VERSIONS:
        raise node.fail(f"{text} is too weak: use TLS12 or TLS13")
    if text not in VERSIONS:
        raise node.fail(f"must be TLS12 or TLS13; got {text!r}")
    return text


def _http(node: Node) -> tuple[tuple[str, str], ...]:
    keys = node.mapping(("http2", "headers"))
    if "http2" in keys and keys["http2"].value is not None:
        keys["http2"].boolean()  # accepted for compatibility: this server speaks HTTP/1.1 only
    out: list[tuple[str, str]] = []
    if "headers" in keys and keys["headers"].value is not None:
        headers = keys["headers"].mapping(_HEADERS)
        for name, value_node in headers.items():
            if not isinstance(value_node.value, str):
                raise value_node.fail("must be a string")
            value = value_node.value
            if "\r" in value or "\n" in value:
                raise value_node.fail("must be one line")
            allowed = _HEADERS[name]
            if allowed and value not in allowed:
                raise value_node.fail(f"must be one of {', '.join(allowed)}; got {value!r}")
            out.append((name, value))
    return tuple(out)


def _users(node: Node) -> dict[str, bytes]:
    if not isinstance(node.value, dict):
        raise node.fail("must be a mapping of user name to bcrypt hash")
    users: dict[str, bytes] = {}
    for name, value in node.value.items():
        where = Node(value, f"{node.path}.{name}")
        if not isinstance(name, str) or not name or ":" in name:
            raise node.fail(f"user names must be non-empty strings without ':'; got {name!r}")
        if not isinstance(value, str):
            raise where.fail("must be a bcrypt hash (htpasswd -nBC 10 USER), as a string")
        hashed = value.strip().encode()
        cost = bcrypt_cost(hashed)
        if cost is None:
            # Never echo the value: a plain password pasted here by mistake must not reach a log.
            raise where.fail("is not a bcrypt hash (generate one with htpasswd -nBC 10 USER)")
        if cost < MIN_BCRYPT_COST:
            raise where.fail(f"bcrypt cost {cost} is too low: use at least {MIN_BCRYPT_COST} (htpasswd -nBC 10 USER)")
        users[name] = hashed
    return users


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost of a modular-crypt bcrypt hash ($2a$/$2b$/$2y$, 60 characters), or None."""
    if len(hashed) != 60 or hashed[:4] not in (b"$2a$", b"$2b$", b"$2y$") or hashed[6:7] != b"$":
        return None
    try:
        cost = int(hashed[4:6])
    except ValueError:
        return None
    return cost if 4 <= cost <= 31 else None


def load(path: Path | str) -> WebConfig:
    """Read and validate the file; every problem is a WebConfigError starting with the file name."""
    path = Path(path)
    data = read_yaml(path, WebConfigError)
    try:
        return parse(data, base=path.parent.resolve(), source=path)
    except ConfigError as exc:
        raise WebConfigError(f"{path}: {exc}") from None

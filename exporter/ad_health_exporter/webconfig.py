"""``--web.config.file``: TLS, client certificates, basic auth and headers for the HTTP endpoint.

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

Reload: like the Go exporters, which re-read this file for every connection, a change is
picked up without a restart. The files are checked (stat) when a connection is accepted,
and re-read only when one of them changed; a new file that does not load is logged once
and the last good one stays in force, so a half-written certificate never takes the
endpoint down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import ssl
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import bcrypt

from .config import ConfigError, _Node, file_path, read_yaml

log = logging.getLogger(__name__)

MIN_BCRYPT_COST = 10

# The exporter-toolkit's client_auth_type values. Python's ssl module always verifies a
# certificate it asks for, and a certificate that is accepted unverified proves nothing:
# the two unverified kinds are refused.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")

_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_WEAK_VERSIONS = ("TLS10", "TLS11")

# Go's names of the TLS 1.2 suites worth offering (ECDHE key exchange, AEAD) -> OpenSSL's.
_STRONG_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    # Go also accepts the _SHA256-less spellings of the ChaCha20 suites.
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
}
# TLS 1.3 suites are not configurable (in Go either): always the three AEAD ones.
_TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_WEAK_SUITES = (
    "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
)
# Without cipher_suites: only the strong ones (OpenSSL's default list still has CBC and RSA).
DEFAULT_CIPHERS = ":".join(dict.fromkeys(_STRONG_SUITES.values()))

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


# --- parsing ---------------------------------------------------------------------------------


def parse(data: Any, base: Path, source: Path | None = None) -> WebConfig:
    """Validate a parsed YAML document; relative paths are taken from ``base``."""
    if data is None:
        return WebConfig(source=source)
    root = _Node(data, "")
    keys = root.mapping(("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"))
    if "rate_limit" in keys:
        raise WebConfigError("rate_limit: is not supported by this exporter (scrapes never reach AD; put a proxy in front to limit rates)")
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


def _tls(node: _Node, base: Path) -> TlsServerConfig:
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
        if client_auth in _UNVERIFIED_CLIENT_AUTH:
            raise keys["client_auth_type"].fail(
                f"{client_auth} accepts client certificates without verifying them, which proves nothing; "
                "use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"
            )
        if client_auth not in _CLIENT_AUTH:
            raise keys["client_auth_type"].fail(f"must be one of {', '.join(_CLIENT_AUTH)}; got {client_auth!r}")
    client_ca = None
    if "client_ca_file" in keys and keys["client_ca_file"].value not in (None, ""):
        client_ca = file_path(keys["client_ca_file"], base)
        if client_auth == "NoClientCert":
            raise keys["client_ca_file"].fail(
                "a client CA is set but client_auth_type is NoClientCert: set client_auth_type: RequireAndVerifyClientCert"
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
    if _VERSIONS[min_version] > _VERSIONS[max_version]:
        raise keys["max_version"].fail(f"{max_version} is below min_version {min_version}")

    suites: list[str] = []
    if "cipher_suites" in keys and keys["cipher_suites"].value is not None:
        for item in keys["cipher_suites"].items():
            name = item.string()
            if name in _TLS13_SUITES:
                continue  # TLS 1.3 suites are always the AEAD three; nothing to set
            if name in _WEAK_SUITES:
                raise item.fail(f"{name} is weak (no forward secrecy or CBC mode); use ECDHE with AES-GCM or ChaCha20")
            if name not in _STRONG_SUITES:
                raise item.fail(f"unknown cipher suite {name!r}; use one of {', '.join(list(_STRONG_SUITES)[:6])}")
            suites.append(_STRONG_SUITES[name])
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


def _version(node: _Node | None, default: str) -> str:
    if node is None or node.value in (None, ""):
        return default
    text = node.string()
    if text in _WEAK_VERSIONS:
        raise node.fail(f"{text} is too weak: use TLS12 or TLS13")
    if text not in _VERSIONS:
        raise node.fail(f"must be TLS12 or TLS13; got {text!r}")
    return text


def _http(node: _Node) -> tuple[tuple[str, str], ...]:
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


def _users(node: _Node) -> dict[str, bytes]:
    if not isinstance(node.value, dict):
        raise node.fail("must be a mapping of user name to bcrypt hash")
    users: dict[str, bytes] = {}
    for name, value in node.value.items():
        where = _Node(value, f"{node.path}.{name}")
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


# --- TLS -------------------------------------------------------------------------------------


def _no_passphrase() -> str:
    raise WebConfigError("the key is encrypted with a passphrase: give an unencrypted key file (mode 0600)")


def ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server context for ``tls``; every file is read now, so a bad one fails here."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    ctx.set_ciphers(":".join(tls.cipher_suites) if tls.cipher_suites else DEFAULT_CIPHERS)
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    for name, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if not os.access(path, os.R_OK):
            raise WebConfigError(f"tls_server_config.{name}: cannot read {path}")
    try:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
    except WebConfigError as exc:
        raise WebConfigError(f"tls_server_config.key_file: {exc}") from None
    except (ssl.SSLError, OSError) as exc:
        raise WebConfigError(
            f"tls_server_config: cannot use cert_file {tls.cert_file} with key_file {tls.key_file}: {_ssl_reason(exc)}"
        ) from None
    ctx.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=str(tls.client_ca_file))
        except (ssl.SSLError, OSError) as exc:
            raise WebConfigError(f"tls_server_config.client_ca_file: cannot load {tls.client_ca_file}: {_ssl_reason(exc)}") from None
        if not ctx.get_ca_certs():
            raise WebConfigError(f"tls_server_config.client_ca_file: {tls.client_ca_file} holds no CA certificate")
    return ctx


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return (exc.reason or str(exc)).replace("_", " ").lower()
    return getattr(exc, "strerror", None) or str(exc)


def peer_sans(cert: dict | None) -> set[str]:
    """The subjectAltName values of a verified peer certificate, as the exporter-toolkit compares them."""
    out: set[str] = set()
    for kind, value in (cert or {}).get("subjectAltName", ()):
        if kind == "IP Address":
            try:
                value = str(ipaddress.ip_address(value.strip()))
            except ValueError:
                pass
        out.add(value)
    return out


# --- basic auth ------------------------------------------------------------------------------


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes without telling users apart by timing.

    An unknown user is checked against a dummy hash of the same cost, so a wrong name
    costs what a wrong password costs. bcrypt runs one at a time (it is CPU-bound). Results
    are remembered under an HMAC of (user, password, hash) with a per-process key, so a
    scraper that sends the same right credentials every 15 s costs one bcrypt, not one per
    scrape, and no password is kept in memory in a readable form.
    """

    def __init__(self, users: Mapping[str, bytes], cache_size: int = 256, checkpw=bcrypt.checkpw) -> None:
        self._users = dict(users)
        cost = max((bcrypt_cost(h) or MIN_BCRYPT_COST for h in self._users.values()), default=MIN_BCRYPT_COST)
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost)) if self._users else b""
        self._checkpw = checkpw
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, header: str | None) -> str | None:
        """The authenticated user name, or None."""
        parsed = _parse_basic(header)
        if parsed is None:
            return None
        user, password = parsed
        known = self._users.get(user)
        hashed = known if known is not None else self._dummy
        key = hmac.new(self._key, b"\0".join((user.encode(), password, hashed)), hashlib.sha256).digest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            with self._bcrypt_lock:
                try:
                    cached = bool(self._checkpw(password, hashed))
                except ValueError:
                    cached = False
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        # Both conditions are evaluated whatever the first one says.
        ok = (known is not None) & cached
        return user if ok else None


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


# --- the live configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class Active:
    """One loaded web configuration with what serving it needs."""

    config: WebConfig
    context: ssl.SSLContext | None
    auth: BasicAuth


def activate(config: WebConfig) -> Active:
    if config.users and config.tls is None:
        log.warning(
            "basic_auth_users without tls_server_config: passwords cross the network in clear text",
            extra={"file": str(config.source)},
        )
    context = ssl_context(config.tls) if config.tls is not None else None
    return Active(config, context, BasicAuth(config.users))


def _signature(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int, int], ...]:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), -1, -1, -1))
    return tuple(out)


class WebConfigSource:
    """The web configuration in force, re-read when its files change (or on ``reload()``)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is None:
            self._active = activate(WebConfig())
        else:
            self._active = activate(load(self.path))  # errors at start-up stop the exporter
        self._signature: tuple = self._current_signature(self._active.config)
        self._failed_signature: tuple | None = None

    @property
    def tls(self) -> bool:
        """Whether the endpoint serves TLS: fixed at start, a reload cannot switch it on or off."""
        return self._active.context is not None

    def active(self) -> Active:
        with self._lock:
            return self._active

    def _current_signature(self, config: WebConfig | None) -> tuple:
        if self.path is None:
            return ()
        files = (self.path,) + (config.tls.files() if config is not None and config.tls is not None else ())
        return _signature(files)

    def refresh(self) -> Active:
        """Re-read the files if they changed since the last look; the active configuration."""
        if self.path is None:
            return self._active
        with self._lock:
            signature = self._current_signature(self._active.config)
            if signature == self._signature or signature == self._failed_signature:
                return self._active
        return self.reload(signature)

    def reload(self, signature: tuple | None = None) -> Active:
        """Re-read now; on error keep the active configuration and log why (once per change)."""
        if self.path is None:
            return self._active
        if signature is None:
            with self._lock:
                signature = self._current_signature(self._active.config)
        try:
            config = load(self.path)
            if (config.tls is None) != (self._active.context is None):
                raise WebConfigError(f"{self.path}: switching TLS on or off needs a restart")
            new = activate(config)
        except (ConfigError, ssl.SSLError, OSError) as exc:
            with self._lock:
                first = signature != self._failed_signature
                self._failed_signature = signature
            if first:
                log.error("web configuration not reloaded; keeping the previous one", extra={"reason": str(exc)})
            return self.active()
        with self._lock:
            changed = new.config != self._active.config or signature != self._signature
            self._active = new
            self._signature = self._current_signature(config)
            self._failed_signature = None
        if changed:
            log.info("web configuration reloaded", extra={"file": str(self.path), "tls": new.context is not None,
                                                          "basic_auth_users": len(new.config.users)})
        return new

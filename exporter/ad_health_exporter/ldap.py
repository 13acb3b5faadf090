"""The one place that opens LDAP connections to domain controllers.

One connection per DC (per-DC facts such as repsFrom or currentTime need exactly that DC),
always to an IP address resolved by our own resolver, with the DC's host name used for SNI
and for the certificate check. ldap3 is used with ``get_info=NONE`` and ``check_names=False``:
with a schema loaded it refuses rootDSE-only names such as ``currentTime`` client-side.
"""

from __future__ import annotations

import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Literal

import ldap3
from ldap3.core import exceptions as lx

from .config import DomainConfig
from .resolver import ResolveError, Resolver

Scope = Literal["base", "level", "subtree"]
_SCOPES = {"base": ldap3.BASE, "level": ldap3.LEVEL, "subtree": ldap3.SUBTREE}
_PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"

ROOT_DSE_ATTRIBUTES = (
    "dnsHostName",
    "dsServiceName",
    "serverName",
    "namingContexts",
    "defaultNamingContext",
    "configurationNamingContext",
    "schemaNamingContext",
    "rootDomainNamingContext",
    "currentTime",
    "isGlobalCatalogReady",
    "isSynchronized",
)


class LdapError(Exception):
    """An LDAP operation against one DC failed. str() is safe to log: it never holds a secret."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    dn: str
    # Attribute names lower-cased; values as the raw bytes the DC sent.
    attributes: dict[str, list[bytes]] = field(default_factory=dict)

    def raw(self, name: str) -> list[bytes]:
        return self.attributes.get(name.lower(), [])

    def first_raw(self, name: str) -> bytes | None:
        values = self.raw(name)
        return values[0] if values else None

    def texts(self, name: str) -> list[str]:
        return [v.decode("utf-8", errors="replace") for v in self.raw(name)]

    def text(self, name: str) -> str | None:
        value = self.first_raw(name)
        return None if value is None else value.decode("utf-8", errors="replace")

    def integer(self, name: str) -> int | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def boolean(self, name: str) -> bool | None:
        text = self.text(name)
        return None if text is None else text.upper() == "TRUE"


@dataclass(frozen=True)
class RootDSE:
    dns_host_name: str | None
    ds_service_name: str | None
    server_name: str | None
    naming_contexts: tuple[str, ...]
    default_naming_context: str | None
    configuration_naming_context: str | None
    schema_naming_context: str | None
    root_domain_naming_context: str | None
    current_time: str | None
    is_global_catalog_ready: bool | None
    is_synchronized: bool | None

    @classmethod
    def from_entry(cls, entry: Entry) -> "RootDSE":
        host = entry.text("dnsHostName")
        return cls(
            dns_host_name=host.lower() if host else None,
            ds_service_name=entry.text("dsServiceName"),
            server_name=entry.text("serverName"),
            naming_contexts=tuple(entry.texts("namingContexts")),
            default_naming_context=entry.text("defaultNamingContext"),
            configuration_naming_context=entry.text("configurationNamingContext"),
            schema_naming_context=entry.text("schemaNamingContext"),
            root_domain_naming_context=entry.text("rootDomainNamingContext"),
            current_time=entry.text("currentTime"),
            is_global_catalog_ready=entry.boolean("isGlobalCatalogReady"),
            is_synchronized=entry.boolean("isSynchronized"),
        )


class Connection:
    """An open (and usually bound) connection to one DC at one address."""

    def __init__(self, host: str, address: str, port: int, conn: ldap3.Connection, page_size: int) -> None:
        self.host = host
        self.address = address
        self.port = port
        self._conn = conn
        self._page_size = page_size

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._conn.unbind()
        except Exception:  # noqa: BLE001 - closing a broken socket must not mask the real error
            pass

    def root_dse(self, attributes: Iterable[str] = ROOT_DSE_ATTRIBUTES) -> RootDSE:
        entry = self.read("", attributes)
        if entry is None:
            raise LdapError(self.host, "the rootDSE returned no entry")
        return RootDSE.from_entry(entry)

    def read(self, dn: str, attributes: Iterable[str], filter_: str = "(objectClass=*)") -> Entry | None:
        """One object by DN, or None if it does not exist."""
        try:
            for entry in self.search(dn, filter_, attributes, scope="base", page_size=0):
                return entry
        except LdapError as exc:
            if "noSuchObject" in exc.reason:
                return None
            raise
        return None

    def search(
        self,
        base: str,
        filter_: str,
        attributes: Iterable[str],
        scope: Scope = "subtree",
        page_size: int | None = None,
    ) -> Iterator[Entry]:
        """Stream entries; paged (RFC 2696) unless page_size is 0. Referrals are skipped."""
        size = self._page_size if page_size is None else page_size
        attrs = list(attributes)
        cookie: bytes | None = None
        while True:
            try:
                if size:
                    self._conn.search(base, filter_, _SCOPES[scope], attributes=attrs, paged_size=size, paged_cookie=cookie)
                else:
                    self._conn.search(base, filter_, _SCOPES[scope], attributes=attrs)
            except lx.LDAPException as exc:
                raise LdapError(self.host, f"search of {base or 'the rootDSE'} failed: {describe(exc)}") from None
            for item in self._conn.response or ():
                if item.get("type") != "searchResEntry":
                    continue
                raw = item.get("raw_attributes") or {}
                yield Entry(dn=item.get("dn", ""), attributes={k.lower(): list(v) for k, v in raw.items()})
            if not size:
                return
            controls = (self._conn.result or {}).get("controls") or {}
            cookie = controls.get(_PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
            if not cookie:
                return


class Directory:
    """Opens connections to the DCs of one configured domain.

    Remembers which address of a DC last answered, so a stale extra A record costs one
    connect timeout once rather than on every run.
    """

    def __init__(self, domain: DomainConfig, resolver: Resolver | None = None) -> None:
        self.domain = domain
        self.resolver = resolver or Resolver(domain.dns_servers)
        self._good_address: dict[str, str] = {}
        self._lock = threading.Lock()

    def connect(self, host: str, *, bind: bool = True, port: int | None = None, address: str | None = None) -> Connection:
        """Connect to ``host`` (a DC's DNS name), trying each of its addresses in turn.

        With ``address`` given, only that address is tried (and the certificate must still
        name ``host``): that is how a DNS record's address is probed.
        """
        host = host.lower()
        cfg = self.domain
        use_port = port or cfg.ldap.port_for(cfg.tls.mode)
        if address is not None:
            candidates: tuple[str, ...] = (address,)
        else:
            try:
                candidates = self.resolver.addresses(host)
            except ResolveError as exc:
                raise LdapError(host, f"cannot resolve: {exc}") from None
            if not candidates:
                raise LdapError(host, "the name has no A or AAAA record")
            with self._lock:
                good = self._good_address.get(host)
            if good in candidates:
                candidates = (good,) + tuple(a for a in candidates if a != good)
        errors: list[str] = []
        for addr in candidates:
            try:
                conn = self._open(host, addr, use_port, bind)
            except _ConnectFailed as exc:
                errors.append(f"{_fmt_addr(addr, use_port)}: {exc}")
                continue
            if address is None:
                with self._lock:
                    self._good_address[host] = addr
            return conn
        raise LdapError(host, "; ".join(errors))

    def _tls(self, host: str) -> ldap3.Tls:
        ca = self.domain.tls.ca_file
        return ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(ca) if ca else None,
            valid_names=[host],
            sni=host,
        )

    def _open(self, host: str, address: str, port: int, bind: bool) -> Connection:
        cfg = self.domain
        mode = cfg.tls.mode
        server = ldap3.Server(
            address,
            port=port,
            use_ssl=mode == "ldaps",
            tls=self._tls(host) if mode != "none" else None,
            get_info=ldap3.NONE,
            connect_timeout=cfg.ldap.connect_timeout,
        )
        user = cfg.bind.user if bind else None
        password = cfg.bind.password.reveal() if bind else None
        conn = ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.SIMPLE if bind else ldap3.ANONYMOUS,
            client_strategy=ldap3.SYNC,
            auto_bind=ldap3.AUTO_BIND_NONE,
            raise_exceptions=True,
            receive_timeout=cfg.ldap.receive_timeout,
            auto_referrals=False,
            read_only=True,
            check_names=False,
        )
        try:
            conn.open()
            if mode == "starttls":
                conn.start_tls()
        except lx.LDAPException as exc:
            _close_quietly(conn)
            raise _ConnectFailed(describe(exc)) from None
        if bind:
            try:
                conn.bind()
            except lx.LDAPException as exc:
                _close_quietly(conn)
                # A refused bind is not an address problem: do not try the next address.
                raise LdapError(host, f"bind as {cfg.bind.user} failed: {describe(exc)}") from None
        return Connection(host, address, port, conn, cfg.ldap.page_size)


class _ConnectFailed(Exception):
    pass


def _close_quietly(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001
        pass


def _fmt_addr(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


_ERRNO = re.compile(r"\[Errno (-?\d+)\] ([^'\]\)]+)")
_VERIFY = re.compile(r"certificate verify failed: ([^(]+)")


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for an ldap3 exception."""
    text = str(exc)
    if isinstance(exc, lx.LDAPCertificateError) or "doesn't match any name" in text:
        return "TLS certificate does not match the DC's host name"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        m = _VERIFY.search(text)
        return f"TLS certificate does not verify: {m.group(1).strip() if m else 'verification failed'}"
    if "WRONG_VERSION_NUMBER" in text or "UNEXPECTED_EOF" in text:
        return "TLS handshake failed (is the port speaking TLS?)"
    if isinstance(exc, lx.LDAPSocketReceiveError) and "timed out" in text.lower():
        return "no answer within the receive timeout"
    if "timed out" in text.lower():
        return "connection timed out"
    m = _ERRNO.search(text)
    if m:
        return m.group(2).strip().lower()
    if isinstance(exc, lx.LDAPOperationResult):
        desc = getattr(exc, "description", None) or type(exc).__name__
        message = (getattr(exc, "message", None) or "").strip().rstrip("\x00")
        return f"{desc}: {message}" if message else str(desc)
    if isinstance(exc, lx.LDAPSocketOpenError):
        return text.split(":", 1)[-1].strip()[:200] or "cannot open the connection"
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__

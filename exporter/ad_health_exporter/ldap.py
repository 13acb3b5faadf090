"""The one place that opens LDAP connections to domain controllers.

One connection per DC (per-DC facts such as repsFrom or currentTime need exactly that DC),
always to an IP address resolved by our own resolver, with the DC's host name used for SNI
and for the certificate check. ldap3 is used with ``get_info=NONE`` and ``check_names=False``:
with a schema loaded it refuses rootDSE-only names such as ``currentTime`` client-side.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal

import ldap3
from ldap3.core import exceptions as lx

from . import authfail, kerberos
from .backoff import Backoff, Policy
from .config import DomainConfig
from .ldap_paging import PagingError, paged_search
from .resolver import ResolveError, Resolver

log = logging.getLogger(__name__)

# After a DC fails to connect or to bind: wait 5 s, 10 s, 20 s ... at most 5 minutes.
DC_BACKOFF = Policy(initial=5.0, maximum=300.0)
# After the bind account itself is refused (wrong password, locked, disabled): every attempt
# on any DC may count towards the lockout threshold, so wait 1, 2, 4 ... at most 30 minutes,
# for the whole domain. A reload (SIGHUP) with a fixed password starts afresh.
CREDENTIAL_BACKOFF = Policy(initial=60.0, maximum=1800.0)

Scope = Literal["base", "level", "subtree"]
_SCOPES = {"base": ldap3.BASE, "level": ldap3.LEVEL, "subtree": ldap3.SUBTREE}

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
            # The canonical form the inventory keys DCs by: lower case, no root dot.
            dns_host_name=(host.lower().rstrip(".") or None) if host else None,
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

    def __init__(
        self,
        host: str,
        address: str,
        port: int,
        conn: ldap3.Connection,
        page_size: int,
        on_close: Callable[["Connection"], None] | None = None,
    ) -> None:
        self.host = host
        self.address = address
        self.port = port
        self._conn = conn
        self._page_size = page_size
        self._on_close = on_close

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._conn.unbind()
        except Exception:  # noqa: BLE001 - closing a broken socket must not mask the real error
            pass
        if self._on_close is not None:
            self._on_close(self)

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
        if size:
            # Pipelined: the next page is requested before this one is decoded (see ldap_paging).
            try:
                for dn, values in paged_search(self._conn, base, filter_, attrs, _SCOPES[scope], size):
                    yield Entry(dn=dn, attributes=values)
            except PagingError as exc:
                raise LdapError(self.host, f"search of {base or 'the rootDSE'} failed: {exc}") from None
            return
        try:
            self._conn.search(base, filter_, _SCOPES[scope], attributes=attrs)
        except lx.LDAPException as exc:
            raise LdapError(self.host, f"search of {base or 'the rootDSE'} failed: {describe(exc)}") from None
        for item in self._conn.response or ():
            if item.get("type") == "searchResEntry":
                raw = item.get("raw_attributes") or {}
                yield Entry(dn=item.get("dn", ""), attributes={k.lower(): list(v) for k, v in raw.items()})


class HostVerifyingTls(ldap3.Tls):
    """TLS that verifies the DC's certificate against the DC's host name, and only that.

    The connection goes to an IP address we resolved ourselves. ldap3 2.9.1 would accept a
    certificate that names that address even when ``valid_names`` says otherwise, so the
    socket is wrapped here with Python's own host-name check (``check_hostname``) against
    the DC's name, which is also sent as SNI.
    """

    def __init__(self, host: str, ca_file: str | None) -> None:
        # The CA file is read in wrap_socket, not handed to ldap3: ldap3 checks it when the Tls
        # object is built, outside any connection error handling, so a CA file that vanished
        # would fail the whole check instead of this connection.
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.host = host
        self.ca_file = ca_file

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        try:
            # Per connection, so a renewed CA file is used without a reload.
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise OSError(f"cannot load tls.ca_file {self.ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        connection.socket = context.wrap_socket(
            connection.socket, server_side=False, do_handshake_on_connect=do_handshake, server_hostname=self.host
        )


class Directory:
    """Opens connections to the DCs of one configured domain.

    Remembers which address of a DC last answered, so a stale extra A record costs one
    connect timeout once rather than on every run.
    """

    def __init__(
        self, domain: DomainConfig, resolver: Resolver | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.domain = domain
        self.resolver = resolver or Resolver(domain.dns_servers)
        self._good_address: dict[str, str] = {}
        self._lock = threading.Lock()
        self.dc_backoff = Backoff(DC_BACKOFF, clock) if clock else Backoff(DC_BACKOFF)
        self.credential_backoff = Backoff(CREDENTIAL_BACKOFF, clock) if clock else Backoff(CREDENTIAL_BACKOFF)
        self._open_connections: set[Connection] = set()
        self._closed = False

    # -- back-off -----------------------------------------------------------------------------
    # Bound connections to a DC that just failed, and any bind after the account was refused,
    # are not attempted until their delay has passed: the reason is raised at once instead.
    # Anonymous connections without ``address`` (the inventory's once-per-run reachability
    # probe) are always made: they cannot lock an account out, and a success clears the DC's
    # back-off, so a DC that comes back is used again at the next inventory run.

    def _check_backoff(self, host: str, bind: bool, address: str | None) -> None:
        if self._closed:
            raise LdapError(host, "the exporter is shutting down")
        if not bind:
            return
        blocked = self.credential_backoff.blocked("credential")
        if blocked is not None:
            raise LdapError(
                host,
                f"not binding as {self.domain.bind.user}: {blocked.reason}; "
                f"next attempt in {blocked.retry_in:.0f}s ({_times(blocked.failures)} in a row)",
            )
        if address is None:
            for key in (("connect", host), ("bind", host)):
                blocked = self.dc_backoff.blocked(key)
                if blocked is not None:
                    raise LdapError(
                        host,
                        f"not contacted: {blocked.reason}; next attempt in {blocked.retry_in:.0f}s "
                        f"({_times(blocked.failures)} in a row)",
                    )

    def _failed(self, backoff: Backoff, key: object, host: str, reason: str) -> None:
        first = backoff.failures(key) == 0
        delay = backoff.failed(key, reason)
        (log.warning if first else log.debug)(
            "domain controller failed; backing off",
            extra={"domain": self.domain.name, "domain_controller": host, "reason": reason,
                   "retry_in_seconds": round(delay), "failures": backoff.failures(key)},
        )

    def _succeeded(self, host: str, bind: bool) -> None:
        keys: list[tuple[Backoff, object]] = [(self.dc_backoff, ("connect", host))]
        if bind:
            keys += [(self.dc_backoff, ("bind", host)), (self.credential_backoff, "credential")]
        recovered = [backoff.succeeded(key) for backoff, key in keys]
        if any(recovered):
            log.info("domain controller answers again", extra={"domain": self.domain.name, "domain_controller": host})

    def close(self) -> None:
        """Close every open connection (unbind) and refuse new ones: for shutdown and reload."""
        with self._lock:
            self._closed = True
            open_now = list(self._open_connections)
        for conn in open_now:
            conn.close()

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            self._open_connections.discard(conn)

    def connect(
        self,
        host: str,
        *,
        bind: bool = True,
        port: int | None = None,
        address: str | None = None,
        timeout: float | None = None,
    ) -> Connection:
        """Connect to ``host`` (a DC's DNS name), trying each of its addresses in turn.

        With ``address`` given, only that address is tried (and the certificate must still
        name ``host``): that is how a DNS record's address is probed. ``timeout`` replaces
        both configured LDAP timeouts for this connection (short probes).
        """
        host = host.lower()
        cfg = self.domain
        self._check_backoff(host, bind, address)
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
                conn = self._open(host, addr, use_port, bind, timeout)
            except _ConnectFailed as exc:
                errors.append(f"{_fmt_addr(addr, use_port)}: {exc}")
                continue
            except BindRefused as exc:
                if exc.account_problem:
                    self._failed(self.credential_backoff, "credential", host, f"{host} refused it: {exc.cause}")
                elif address is None:
                    self._failed(self.dc_backoff, ("bind", host), host, exc.reason)
                raise
            if address is None:
                with self._lock:
                    self._good_address[host] = addr
                self._succeeded(host, bind)
            with self._lock:
                self._open_connections.add(conn)
            return conn
        reason = "; ".join(errors)
        if address is None:
            self._failed(self.dc_backoff, ("connect", host), host, reason)
        raise LdapError(host, reason)

    def _tls(self, host: str) -> ldap3.Tls:
        ca = self.domain.tls.ca_file
        return HostVerifyingTls(host, str(ca) if ca else None)

    def _open(self, host: str, address: str, port: int, bind: bool, timeout: float | None = None) -> Connection:
        cfg = self.domain
        mode = cfg.tls.mode
        server = ldap3.Server(
            address,
            port=port,
            use_ssl=mode == "ldaps",
            tls=self._tls(host) if mode != "none" else None,
            get_info=ldap3.NONE,
            connect_timeout=cfg.ldap.connect_timeout if timeout is None else timeout,
        )
        conn = ldap3.Connection(
            server,
            **self._credentials(host, bind),
            client_strategy=ldap3.SYNC,
            auto_bind=ldap3.AUTO_BIND_NONE,
            raise_exceptions=True,
            # ldap3 needs an int; rounding up keeps a sub-second probe timeout from becoming 0 (none).
            receive_timeout=cfg.ldap.receive_timeout if timeout is None else max(1, math.ceil(timeout)),
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
            except Exception as exc:  # noqa: BLE001 - ldap3 and gssapi errors alike
                _close_quietly(conn)
                failure = _bind_failure(exc, host)
                how = " (Kerberos)" if cfg.bind.method == "gssapi" else ""
                # A refused bind is not an address problem: do not try the next address.
                raise BindRefused(
                    host, f"bind as {cfg.bind.user}{how} failed: {failure.reason}", failure.account_problem, failure.reason
                ) from None
        return Connection(host, address, port, conn, cfg.ldap.page_size, on_close=self._forget)

    def _credentials(self, host: str, bind: bool) -> dict[str, object]:
        """ldap3.Connection arguments for the configured bind; the password is revealed only here."""
        cfg = self.domain.bind
        if not bind:
            return {"authentication": ldap3.ANONYMOUS}
        if cfg.method == "gssapi":
            assert cfg.keytab is not None  # config guarantees it for gssapi
            return {
                "authentication": ldap3.SASL,
                "sasl_mechanism": ldap3.KERBEROS,
                "user": cfg.user,
                # The service ticket is for ldap/<DC host name>: we connect to an address.
                "sasl_credentials": (host,),
                "cred_store": kerberos.credential_store(cfg.keytab, f"ad-health-exporter-{self.domain.name}"),
            }
        assert cfg.password is not None  # config guarantees it for simple
        return {"authentication": ldap3.SIMPLE, "user": cfg.user, "password": cfg.password.reveal()}


class BindRefused(LdapError):
    """The DC answered but refused the bind; ``account_problem`` when any DC would refuse it."""

    def __init__(self, host: str, reason: str, account_problem: bool, cause: str = "") -> None:
        super().__init__(host, reason)
        self.account_problem = account_problem
        self.cause = cause or reason  # the DC's answer alone, without "bind as ... failed"


def _bind_failure(exc: BaseException, host: str) -> authfail.AuthFailure:
    if isinstance(exc, lx.LDAPOperationResult):
        return authfail.simple_bind_failure(
            str(getattr(exc, "description", "") or type(exc).__name__), str(getattr(exc, "message", "") or "")
        )
    if type(exc).__module__.startswith("gssapi"):
        return authfail.gss_failure(str(exc), host)
    if isinstance(exc, lx.LDAPException):
        return authfail.AuthFailure(describe(exc), False)
    return authfail.AuthFailure(f"{type(exc).__name__}: {str(exc)[:200]}", False)


class _ConnectFailed(Exception):
    pass


def _close_quietly(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001
        pass


def _times(n: int) -> str:
    return "1 failure" if n == 1 else f"{n} failures"


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

"""The DCs of one configured domain: connections, with back-off and the bind credentials.

One connection per DC (per-DC facts such as repsFrom or currentTime need exactly that DC),
always to an IP address resolved by our own resolver, with the DC's host name used for SNI
and for the certificate check. ldap3 is used with ``get_info=NONE`` and ``check_names=False``:
with a schema loaded it refuses rootDSE-only names such as ``currentTime`` client-side.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import ldap3
from ldap3.core import exceptions as lx

from ..config import DomainConfig
from . import kerberos
from .backoff import Backoff, Policy
from .connection import Connection
from .errors import BindRefused, LdapError, bind_failure, describe
from .resolver import ResolveError, Resolver
from .tls import HostVerifyingTls

log = logging.getLogger(__name__)

# After a DC fails to connect or to bind: wait 5 s, 10 s, 20 s ... at most 5 minutes.
DC_BACKOFF = Policy(initial=5.0, maximum=300.0)
# After the bind account itself is refused (wrong password, locked, disabled): every attempt
# on any DC may count towards the lockout threshold, so wait 1, 2, 4 ... at most 30 minutes,
# for the whole domain. A reload (SIGHUP) with a fixed password starts afresh.
CREDENTIAL_BACKOFF = Policy(initial=60.0, maximum=1800.0)


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
                failure = bind_failure(exc, host)
                how = " (Kerberos)" if cfg.bind.method == "gssapi" else ""
                # A refused bind is not an address problem: do not try the next address.
                raise BindRefused(
                    host,
                    f"bind as {cfg.bind.user}{how} failed: {failure.reason}",
                    failure.account_problem,
                    failure.reason,
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


class _ConnectFailed(Exception):
    pass


def _close_quietly(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - the connection already failed: unbinding it has nothing to add
        pass


def _times(n: int) -> str:
    return "1 failure" if n == 1 else f"{n} failures"


def _fmt_addr(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"



"""Back-off after failed connects and binds, per DC and for the bind account, with an injected clock."""

from __future__ import annotations

import logging

import pytest

from ad_health_exporter.ldap import BindRefused, Connection, Directory, LdapError, authfail
from ad_health_exporter.ldap.backoff import Backoff, Policy
from ad_health_exporter.ldap.directory import CREDENTIAL_BACKOFF, DC_BACKOFF, _ConnectFailed
from support.builders import domain_config
from support.resolver import DnsAnswers, StaticResolver

PASSWORD = "hunter2-not-in-logs"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_policy_doubles_and_caps() -> None:
    p = Policy(initial=5, maximum=300)
    assert [p.delay(n) for n in range(0, 9)] == [0, 5, 10, 20, 40, 80, 160, 300, 300]
    assert p.delay(10_000) == 300  # no overflow after a long outage
    assert DC_BACKOFF.maximum == 300 and CREDENTIAL_BACKOFF.initial >= 60


def test_backoff_blocks_until_the_delay_passes_and_resets_on_success() -> None:
    clock = Clock()
    b = Backoff(Policy(5, 300), clock)
    assert b.blocked("dc1") is None
    assert b.failed("dc1", "connection refused") == 5
    blocked = b.blocked("dc1")
    assert blocked is not None and blocked.failures == 1 and blocked.reason == "connection refused"
    assert blocked.retry_in == pytest.approx(5)
    assert b.blocked("dc2") is None  # per key
    clock.now += 5
    assert b.blocked("dc1") is None
    assert b.failed("dc1", "connection refused") == 10
    clock.now += 9.9
    assert b.blocked("dc1") is not None
    assert b.succeeded("dc1") is True and b.blocked("dc1") is None and b.failures("dc1") == 0
    assert b.succeeded("dc1") is False


class FakeConn(Connection):
    """What the scripted network step opens: a Connection that can only be closed, which is all
    the Directory does with one (so Connection.__init__, which wants a socket, is not called)."""

    def __init__(self, directory: Directory, host: str) -> None:
        self.host = host
        self.closed = False
        self._directory = directory

    def close(self) -> None:
        self.closed = True
        self._directory._forget(self)


class ScriptedDirectory(Directory):
    """A Directory whose network step follows a script: 'ok', 'down', 'wrongpw', 'strong'."""

    def __init__(self, clock: Clock) -> None:
        domain = domain_config(password=PASSWORD, password_source="file pw")
        both = {h: ("10.0.0.1",) for h in ("dc1.lab.example", "dc2.lab.example")}
        super().__init__(domain, resolver=StaticResolver(DnsAnswers(addresses=both)), clock=clock)
        self.script: dict[str, str] = {}
        self.attempts: list[tuple[str, bool]] = []

    def _open(self, host: str, address: str, port: int, bind: bool, timeout: float | None = None) -> Connection:
        self.attempts.append((host, bind))
        what = self.script.get(host, "ok")
        if what == "down":
            raise _ConnectFailed("connection refused")
        if bind and what == "wrongpw":
            failure = authfail.simple_bind_failure(
                "invalidCredentials",
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1",
            )
            raise BindRefused(
                host, f"bind as monitor@lab.example failed: {failure.reason}", failure.account_problem, failure.reason
            )
        if bind and what == "strong":
            failure = authfail.simple_bind_failure("strongerAuthRequired", "Transport encryption required.")
            raise BindRefused(host, f"bind failed: {failure.reason}", failure.account_problem)
        return FakeConn(self, host)


def test_unreachable_dc_is_not_retried_before_its_delay(caplog) -> None:
    clock = Clock()
    d = ScriptedDirectory(clock)
    d.script["dc2.lab.example"] = "down"
    with caplog.at_level(logging.DEBUG, logger="ad_health_exporter.ldap"):
        with pytest.raises(LdapError, match="connection refused"):
            d.connect("dc2.lab.example")
        for _ in range(5):  # every other check in the next seconds
            with pytest.raises(LdapError) as info:
                d.connect("dc2.lab.example")
            assert "not contacted: 10.0.0.1:636: connection refused; next attempt in 5s (1 failure in a row)" in str(
                info.value
            )
    assert d.attempts == [("dc2.lab.example", True)]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].domain_controller == "dc2.lab.example"
    assert "connection refused" in warnings[0].reason and warnings[0].retry_in_seconds == 5
    # dc1 is not affected.
    d.connect("dc1.lab.example").close()
    clock.now += 5
    with pytest.raises(LdapError, match="connection refused"):
        d.connect("dc2.lab.example")
    with pytest.raises(LdapError, match="next attempt in 10s"):
        d.connect("dc2.lab.example")
    # Over a long outage the delay grows to the cap, never beyond it.
    for _ in range(20):
        clock.now += 1000
        with pytest.raises(LdapError):
            d.connect("dc2.lab.example")
    blocked = d.dc_backoff.blocked(("connect", "dc2.lab.example"))
    assert blocked is not None and blocked.retry_in == pytest.approx(300)


def test_anonymous_probe_goes_through_and_clears_the_backoff() -> None:
    clock = Clock()
    d = ScriptedDirectory(clock)
    d.script["dc2.lab.example"] = "down"
    with pytest.raises(LdapError):
        d.connect("dc2.lab.example")
    d.script["dc2.lab.example"] = "ok"  # the DC is back
    with pytest.raises(LdapError, match="not contacted"):
        d.connect("dc2.lab.example")
    d.connect("dc2.lab.example", bind=False).close()  # the inventory's reachability probe
    d.connect("dc2.lab.example").close()  # used again at once
    assert d.attempts[-2:] == [("dc2.lab.example", False), ("dc2.lab.example", True)]


def test_probing_one_address_does_not_back_off_the_dc() -> None:
    d = ScriptedDirectory(Clock())
    d.script["dc1.lab.example"] = "down"
    with pytest.raises(LdapError):
        d.connect("dc1.lab.example", address="10.0.0.250", bind=False)
    with pytest.raises(LdapError):
        d.connect("dc1.lab.example", address="10.0.0.250")
    d.script["dc1.lab.example"] = "ok"
    d.connect("dc1.lab.example").close()


def test_refused_credentials_stop_binds_on_every_dc(caplog) -> None:
    clock = Clock()
    d = ScriptedDirectory(clock)
    d.script["dc1.lab.example"] = "wrongpw"
    d.script["dc2.lab.example"] = "wrongpw"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(LdapError, match=r"wrong password \(or unknown user\) \(AD error 0x52e\)"):
            d.connect("dc1.lab.example")
        for host in ("dc2.lab.example", "dc1.lab.example"):
            with pytest.raises(LdapError) as info:
                d.connect(host)
            assert "not binding as monitor@lab.example: dc1.lab.example refused it: wrong password" in str(info.value)
            assert "next attempt in 60s" in str(info.value)
        # Anonymous reads (rootDSE) still work: they send no credential.
        d.connect("dc2.lab.example", bind=False).close()
    assert [a for a in d.attempts if a[1]] == [("dc1.lab.example", True)]
    clock.now += CREDENTIAL_BACKOFF.initial
    with pytest.raises(BindRefused):
        d.connect("dc2.lab.example")
    with pytest.raises(LdapError, match="next attempt in 120s"):
        d.connect("dc1.lab.example")
    assert PASSWORD not in caplog.text


def test_a_dc_that_refuses_the_bind_method_backs_off_alone() -> None:
    clock = Clock()
    d = ScriptedDirectory(clock)
    d.script["dc1.lab.example"] = "strong"
    with pytest.raises(LdapError, match="requires an encrypted connection"):
        d.connect("dc1.lab.example")
    with pytest.raises(LdapError, match="not contacted: bind failed"):
        d.connect("dc1.lab.example")
    d.connect("dc2.lab.example").close()  # not an account problem: other DCs are still tried
    # An anonymous probe succeeding does not clear a bind problem.
    d.connect("dc1.lab.example", bind=False).close()
    with pytest.raises(LdapError, match="not contacted"):
        d.connect("dc1.lab.example")


def test_close_unbinds_open_connections_and_refuses_new_ones() -> None:
    d = ScriptedDirectory(Clock())
    a, b = d.connect("dc1.lab.example"), d.connect("dc2.lab.example")
    b.close()
    d.close()
    assert isinstance(a, FakeConn) and isinstance(b, FakeConn)
    assert a.closed and b.closed
    with pytest.raises(LdapError, match="shutting down"):
        d.connect("dc1.lab.example")


@pytest.mark.parametrize(
    ("message", "reason", "account"),
    [
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563",
            "wrong password",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563",
            "locked out (AD error 0x775)",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563",
            "is disabled",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 532, v4563",
            "password has expired",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 701, v4563",
            "account has expired",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 773, v4563",
            "must change its password",
            True,
        ),
        (
            "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 9999, v4563",
            "credentials refused (AD error 0x9999)",
            True,
        ),
        ("", "credentials refused", True),
    ],
)
def test_simple_bind_reasons(message: str, reason: str, account: bool) -> None:
    failure = authfail.simple_bind_failure("invalidCredentials", message)
    assert reason in failure.reason and failure.account_problem is account


def test_samba_refusing_unsigned_gssapi_is_explained() -> None:
    failure = authfail.simple_bind_failure("strongerAuthRequired", "SASL:[GSSAPI]: Sign or Seal are required.")
    assert "allow_sasl_over_tls" in failure.reason and not failure.account_problem
    plain = authfail.simple_bind_failure("strongerAuthRequired", "Transport encryption required.")
    assert "use tls.mode ldaps or starttls" in plain.reason


@pytest.mark.parametrize(
    ("text", "reason", "account"),
    [
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529638936): "
            "Preauthentication failed",
            "keytab's key is refused",
            True,
        ),
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529638918): "
            "Client 'nobody@LAB.EXAMPLE' not found in Kerberos database",
            "does not know the bind principal",
            True,
        ),
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529638919): "
            "Server ldap/dc9.lab.example@LAB.EXAMPLE not found in Kerberos database",
            "no service principal ldap/dc9.lab.example",
            False,
        ),
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529638930): "
            "Clients credentials have been revoked",
            "disabled or locked out",
            True,
        ),
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529639068): "
            "Cannot contact any KDC for realm 'LAB.EXAMPLE'",
            "cannot contact any KDC",
            False,
        ),
        (
            "Major (851968): Unspecified GSS failure.  Minor code may provide more information, Minor (2529638949): "
            "Clock skew too great",
            "clock",
            False,
        ),
    ],
)
def test_gssapi_reasons(text: str, reason: str, account: bool) -> None:
    failure = authfail.gss_failure(text, "dc9.lab.example")
    assert reason in failure.reason and failure.account_problem is account

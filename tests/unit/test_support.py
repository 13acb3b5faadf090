"""The tests' own fakes behave as the things they stand in for, where the checks rely on it."""

from __future__ import annotations

import pytest

from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.base import DirectoryAccess
from ad_health_exporter.ldap import Entry, LdapError
from ad_health_exporter.ldap.resolver import ResolveError
from support.builders import DOMAIN_DN
from support.directory import FakeDc, FakeDirectory, root_dse
from support.lab import TEST_INTERVAL_SECONDS, TEST_INTERVALS
from support.resolver import DnsAnswers, DnsServers, StaticResolver
from support.wait import wait_until

USERS = f"CN=Users,{DOMAIN_DN}"


def entry(dn: str) -> Entry:
    return Entry(dn, {})


def test_a_search_finds_what_is_under_its_base_in_its_scope() -> None:
    dns = [USERS, f"CN=a,{USERS}", f"CN=b,CN=a,{USERS}", f"CN=c,CN=Computers,{DOMAIN_DN}"]
    entries = [entry(dn) for dn in dns]
    # Typed as what the checks take: mypy holds the fake to the protocol.
    directory: DirectoryAccess = FakeDirectory({"dc1": FakeDc(entries)})
    with directory.connect("dc1") as conn:
        assert [e.dn for e in conn.search(USERS.lower(), "(x=*)", ())] == [e.dn for e in entries[:3]]
        assert [e.dn for e in conn.search(USERS, "(x=*)", (), scope="level")] == [f"CN=a,{USERS}"]
        assert [e.dn for e in conn.search(USERS, "(x=*)", (), scope="base")] == [USERS]
        assert len(list(conn.search("", "(x=*)", ()))) == 4


def test_answers_by_filter_and_failures_show_when_the_entries_are_read() -> None:
    dc = FakeDc([entry(f"CN=a,{USERS}")], answers={"(only=b)": [entry(f"CN=b,{USERS}")]},
                absent_bases=(f"CN=System,{DOMAIN_DN}",))
    directory = FakeDirectory({"dc1": dc})
    conn = directory.connect("dc1")
    assert [e.dn for e in conn.search(DOMAIN_DN, "(only=b)", ("cn",))] == [f"CN=b,{USERS}"]
    missing = conn.search(f"CN=x,CN=System,{DOMAIN_DN}", "(x=*)", ())  # recorded, not yet failed
    with pytest.raises(LdapError, match="noSuchObject"):
        list(missing)
    dc.search_failure = "search failed: connection lost"
    with pytest.raises(LdapError, match="connection lost"):
        list(conn.search(DOMAIN_DN, "(x=*)", ()))
    assert [(s.base, s.filter_, s.attributes) for s in directory.searches][:1] == [(DOMAIN_DN, "(only=b)", ("cn",))]
    assert len(directory.searches) == 3


def test_reads_root_dse_and_connect_faults() -> None:
    directory = FakeDirectory(
        {"dc1": FakeDc(objects={DOMAIN_DN: entry(DOMAIN_DN)}, root=root_dse(dnsHostName="DC1.lab.example."))},
        faults={"10.0.0.9": LdapError("dc1", "10.0.0.9:636: connection refused"),
                "dc2": lambda: LdapError("dc2", "connection timed out")},
    )
    with directory.connect("dc1", bind=False) as conn:
        assert conn.root_dse().dns_host_name == "dc1.lab.example"
        assert conn.read(DOMAIN_DN.upper(), ()) == entry(DOMAIN_DN) and conn.read(USERS, ()) is None
    assert conn.closed
    with pytest.raises(LdapError, match="refused"):
        directory.connect("dc1", address="10.0.0.9")  # the address's own fault, though dc1 answers
    with pytest.raises(LdapError, match="timed out"):
        directory.connect("dc2")
    with pytest.raises(LdapError, match="not a DC"):
        directory.connect("dc3")
    assert [(c.host, c.bind, c.address) for c in directory.connects] == [
        ("dc1", False, None), ("dc1", True, "10.0.0.9"), ("dc2", True, None), ("dc3", True, None)]


def test_resolvers_answer_from_their_tables() -> None:
    resolver = StaticResolver(DnsAnswers(addresses={"dc1.lab.example": ("10.0.0.1",)}))
    assert resolver.addresses("dc1.lab.example") == ("10.0.0.1",)
    assert resolver.addresses("10.0.0.7") == ("10.0.0.7",)  # a literal is not asked for
    assert resolver.addresses("gone.lab.example") == () and resolver.srv("_x._tcp") is None
    servers = DnsServers({"10.0.0.53": DnsAnswers(refuses=True), "10.0.0.54": DnsAnswers(silent=True)})
    with pytest.raises(ResolveError, match="REFUSED"):
        servers(("10.0.0.53",)).cname("x")
    with pytest.raises(ResolveError, match="timed out asking DNS servers 10.0.0.54"):
        servers(("10.0.0.54",), timeout=0.01).addresses("x")
    assert [(q.server, q.kind) for q in servers.asked] == [("10.0.0.53", "CNAME"), ("10.0.0.54", "A")]


def test_every_check_has_a_short_test_interval() -> None:
    assert set(TEST_INTERVALS) == {c.name for c in CHECKS}
    for check in CHECKS:
        assert 5 <= TEST_INTERVAL_SECONDS[check.name] <= check.interval
        assert TEST_INTERVALS[check.name] == f"{TEST_INTERVAL_SECONDS[check.name]:.0f}s"


def test_wait_until_returns_the_value_or_fails_naming_what_it_waited_for() -> None:
    answers = iter([None, "", "done"])
    assert wait_until(lambda: next(answers), 5, "the third answer", interval=0) == "done"
    with pytest.raises(pytest.fail.Exception, match="waiting for nothing\nbecause"):
        wait_until(lambda: None, 0, "nothing", detail=lambda: "because")

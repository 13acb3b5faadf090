"""Locator check: per-DC LDAP pings answered with the lab's captured answers, findings, series, report, config."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ad_health_exporter import config
from ad_health_exporter import metrics as m
from ad_health_exporter.catalogue import BY_NAME, CHECKS
from ad_health_exporter.checks.base import CheckContext, CheckFailed
from ad_health_exporter.checks.locator import ping as locator
from ad_health_exporter.checks.locator import report, series
from ad_health_exporter.checks.locator.settings import LocatorSettings
from ad_health_exporter.config import ConfigError
from ad_health_exporter.ldap import ber, cldap
from ad_health_exporter.topology import Inventory
from support.builders import context, dc, inventory
from support.directory import FakeDirectory
from support.resolver import DnsAnswers, StaticResolver

DATA = Path(__file__).parent / "data"
DC1, DC2 = "dc1.lab.example", "dc2.lab.example"
ADDRESSES = {DC1: "10.99.0.11", DC2: "10.99.0.12"}
EXPORTER_ADDRESS = "10.99.0.1"


def netlogon(label: str) -> bytes:
    """The Netlogon value of a lab capture (tests/unit/data/netlogon_lab.txt)."""
    for line in (DATA / "netlogon_lab.txt").read_text().splitlines():
        if line.startswith(label + " "):
            datagram = bytes.fromhex(line.split()[2])
            end = ber.frame_end(datagram)
            assert end is not None
            return ber.decode_entry(datagram[:end])[1]["netlogon"][0]
    raise KeyError(label)


def with_flags(value: bytes, flags: int) -> bytes:
    return value[:4] + flags.to_bytes(4, "little") + value[8:]


def without_client_site(value: bytes) -> bytes:
    # ClientSiteName is a pointer to DcSiteName (c0 38) just before the 8-byte tail: make it empty.
    assert value[-10:-8] == b"\xc0\x38"
    return value[:-10] + b"\x00" + value[-8:]


Reply = bytes | cldap.PingError | Callable[[], bytes]


class Pings:
    """Stands in for cldap.ldap_ping: answers by address, and records what was asked."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        self.replies = replies
        self.asked: list[tuple[str, str, int, float, int]] = []

    def __call__(self, address: str, domain: str, *, nt_version: int, timeout: float, retries: int,
                 **_: object) -> cldap.PingAnswer:
        self.asked.append((address, domain, nt_version, timeout, retries))
        reply = self.replies.get(address, cldap.PingError(f"no answer on UDP 389 to {retries + 1} request(s)"))
        if isinstance(reply, cldap.PingError):
            raise reply
        value = reply() if callable(reply) else reply
        return cldap.PingAnswer(value, address, EXPORTER_ADDRESS, rtt=0.0015, attempts=1)


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Reply]], Pings]:
    def install(replies: dict[str, Reply]) -> Pings:
        fake = Pings(replies)
        monkeypatch.setattr(cldap, "ldap_ping", fake)
        return fake

    return install


def lab_inventory(**kwargs: object) -> Inventory:
    dcs = (dc(DC1, pdc=True, site=str(kwargs.pop("site", "Default-First-Site-Name"))), dc(DC2))
    return inventory(*dcs, addresses=kwargs.pop("addresses", ADDRESSES))  # type: ignore[arg-type]


def ctx(
    inv: Inventory, dns: dict[str, tuple[str, ...]] | None = None, **kwargs: float
) -> CheckContext[LocatorSettings]:
    directory = FakeDirectory(resolver=StaticResolver(DnsAnswers(addresses=dns or {})))
    return context(LocatorSettings(), directory, inventory=inv, **kwargs)  # type: ignore[arg-type]


def values(result: locator.LocatorResult) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.metric.name, s.labels): s.value for s in series.series("lab.example", result)}


HEALTHY = {"10.99.0.11": netlogon("dc1"), "10.99.0.12": netlogon("dc2")}


# --- the lab as it is -----------------------------------------------------------------------------


def test_healthy_lab_has_every_role_where_the_lab_has_it(pings) -> None:
    asked = pings(HEALTHY)
    result = locator.run(ctx(lab_inventory()))
    assert report.findings(result) == []
    v = values(result)
    for host in (DC1, DC2):
        assert v[(m.LDAP_PING_SUCCESS.name, ("lab.example", host))] == 1
        assert v[(m.DC_CHECK_SUCCESS.name, ("lab.example", host, "locator"))] == 1
        assert v[(m.LDAP_PING_RTT.name, ("lab.example", host))] == pytest.approx(0.0015)
        site = "Default-First-Site-Name"
        assert v[(m.LDAP_PING_INFO.name, ("lab.example", host, site, site))] == 1
        for role in ("gc", "kdc", "timeserv", "good_timeserv", "writable", "ldap", "ds"):
            assert v[(m.DC_ADVERTISED.name, ("lab.example", host, role))] == 1, (host, role)
        assert v[(m.DC_ADVERTISED.name, ("lab.example", host, "rodc"))] == 0
    assert v[(m.DC_ADVERTISED.name, ("lab.example", DC1, "pdc"))] == 1
    assert v[(m.DC_ADVERTISED.name, ("lab.example", DC2, "pdc"))] == 0
    # Each DC at its inventory address, with the request's NtVer and the configured timing.
    assert sorted(asked.asked) == [("10.99.0.11", "lab.example", 6, 1.0, 2), ("10.99.0.12", "lab.example", 6, 1.0, 2)]


def test_summary_is_a_roles_table(pings) -> None:
    pings(HEALTHY)
    lines = report.summary(locator.run(ctx(lab_inventory())))
    assert lines[0].split()[-9:] == ["pdc", "gc", "kdc", "timeserv", "good_timeserv", "writable", "rodc", "ldap", "ds"]
    assert lines[1].split()[0] == DC1 and lines[1].split()[-9:] == ["x", "x", "x", "x", "x", "x", "-", "x", "x"]
    assert lines[2].split()[-9:] == ["-", "x", "x", "x", "x", "x", "-", "x", "x"]
    assert "1.5 ms" in lines[1]
    assert lines[3] == (f"this exporter's address {EXPORTER_ADDRESS} is in site Default-First-Site-Name, "
                        f"as {DC1}, {DC2} say")


# --- faults ---------------------------------------------------------------------------------------


def test_kdc_stopped_on_dc2(pings) -> None:
    pings({**HEALTHY, "10.99.0.12": netlogon("dc2_kdc_stopped")})
    result = locator.run(ctx(lab_inventory()))
    (finding,) = report.findings(result)
    assert (finding.severity, finding.subject) == ("error", DC2)
    assert "does not advertise a KDC" in finding.message
    assert finding.fix is not None and f"Get-Service kdc -ComputerName {DC2}" in finding.fix
    assert f"dcdiag /test:advertising /s:{DC2}" in finding.fix
    v = values(result)
    assert v[(m.DC_ADVERTISED.name, ("lab.example", DC2, "kdc"))] == 0
    assert v[(m.DC_ADVERTISED.name, ("lab.example", DC1, "kdc"))] == 1
    assert v[(m.LDAP_PING_SUCCESS.name, ("lab.example", DC2))] == 1


def test_a_dc_that_does_not_answer_costs_its_own_slot(pings) -> None:
    pings({"10.99.0.11": netlogon("dc1"), "10.99.0.12": cldap.PingError("UDP 389 refused (ICMP port unreachable)")})
    result = locator.run(ctx(lab_inventory()))
    findings = report.findings(result)
    assert [(f.severity, f.subject) for f in findings] == [("error", DC2)]
    assert "does not answer the LDAP ping (UDP 389): 10.99.0.12: UDP 389 refused" in findings[0].message
    assert findings[0].fix is not None and f"nltest /dsgetdc:lab.example /server:{DC2}" in findings[0].fix
    v = values(result)
    assert v[(m.LDAP_PING_SUCCESS.name, ("lab.example", DC2))] == 0
    assert v[(m.DC_CHECK_SUCCESS.name, ("lab.example", DC2, "locator"))] == 0
    # Silence is never "advertises nothing": no roles, rtt or sites for it.
    assert not [k for k in v if k[1][1] == DC2 and k[0] != m.LDAP_PING_SUCCESS.name
                and k[0] != m.DC_CHECK_SUCCESS.name]
    assert v[(m.LDAP_PING_SUCCESS.name, ("lab.example", DC1))] == 1
    assert f"{DC2:<32} no answer: 10.99.0.12: UDP 389 refused" in "\n".join(report.summary(result))


def test_a_hung_dc_is_cut_off_by_the_budget(pings) -> None:
    def hang() -> bytes:
        time.sleep(3)
        return netlogon("dc2")

    pings({"10.99.0.11": netlogon("dc1"), "10.99.0.12": hang})
    started = time.monotonic()
    result = locator.run(ctx(lab_inventory(), timeout=1.0))
    assert time.monotonic() - started < 2
    by_host = {d.host: d for d in result.dcs}
    hung = by_host[DC2].answer
    assert isinstance(hung, locator.PingFailure) and "no answer within 0.9s" in hung.reason
    assert by_host[DC1].advertisement is not None


def test_no_dc_answering_fails_the_check_with_what_it_saw(pings) -> None:
    pings({})
    with pytest.raises(CheckFailed, match=r"no DC answered the LDAP ping on UDP 389 \(2 tried\)") as caught:
        locator.run(ctx(lab_inventory()))
    partial = caught.value.partial
    assert isinstance(partial, locator.LocatorResult) and not partial.answering
    # Each DC's own finding, and no domain-level guess about roles nobody could be asked about.
    assert [f.subject for f in report.findings(partial)] == [DC1, DC2]


def test_pdc_down_means_no_pdc_advertised(pings) -> None:
    pings({"10.99.0.12": netlogon("dc2")})
    findings = report.findings(locator.run(ctx(lab_inventory())))
    domain = [f for f in findings if f.subject == "lab.example"]
    assert len(domain) == 1 and domain[0].severity == "error"
    assert domain[0].message.startswith(f"no DC advertises the PDC emulator (1 of 2 DCs answered; {DC1}, the PDC")
    assert domain[0].fix is not None and "netdom query fsmo" in domain[0].fix


def test_no_global_catalog_advertised(pings) -> None:
    pings({a: with_flags(v, int.from_bytes(v[4:8], "little") & ~0x4) for a, v in HEALTHY.items()})
    findings = report.findings(locator.run(ctx(lab_inventory())))
    assert [f.subject for f in findings if "global catalog" in f.message] == [DC1, DC2, "lab.example"]
    (domain,) = [f for f in findings if f.subject == "lab.example"]
    assert domain.message.startswith("no DC advertises a global catalog (2 of 2 DCs answered)")
    assert domain.fix is not None and "repadmin /options <DC> +IS_GC" in domain.fix


def test_time_service_and_directory_flags(pings) -> None:
    # dc2 without TIMESERV (0x40), LDAP (0x8) and DS (0x10).
    pings({**HEALTHY, "10.99.0.12": with_flags(netlogon("dc2"), 0x13FC & ~0x58)})
    findings = report.findings(locator.run(ctx(lab_inventory())))
    assert [(f.severity, f.message.split(":")[0]) for f in findings] == [
        ("warning", "does not advertise the time service"),
        ("error", "does not advertise LDAP and DS"),
    ]
    assert findings[0].fix is not None and f"Get-Service w32time -ComputerName {DC2}" in findings[0].fix


def test_directory_and_advertisement_disagree(pings) -> None:
    pings(HEALTHY)
    inv = inventory(dc(DC1, pdc=False, site="Branch"), dc(DC2, pdc=True), addresses=ADDRESSES)
    findings = report.findings(locator.run(ctx(inv)))
    messages = {(f.subject, f.message.split(" in ")[0].split(":")[0]) for f in findings}
    assert (DC1, "does not hold the PDC emulator role") in messages
    assert (DC2, "holds the PDC emulator role") in messages
    assert (DC1, "says it is") in messages
    assert all(f.severity == "warning" for f in findings)


def test_exporter_address_in_no_site(pings) -> None:
    pings({a: without_client_site(v) for a, v in HEALTHY.items()})
    result = locator.run(ctx(lab_inventory()))
    (finding,) = report.findings(result)
    assert finding.subject == "lab.example" and finding.severity == "warning"
    assert f"{DC1}, {DC2} place this exporter's address {EXPORTER_ADDRESS} in no site" in finding.message
    assert finding.fix is not None and "New-ADReplicationSubnet" in finding.fix
    assert values(result)[(m.LDAP_PING_INFO.name, ("lab.example", DC1, "Default-First-Site-Name", ""))] == 1


# --- addresses ------------------------------------------------------------------------------------


def test_the_inventory_address_first_then_dns(pings) -> None:
    asked = pings({"10.99.0.11": netlogon("dc1"), "10.99.0.12": netlogon("dc2")})
    inv = lab_inventory(addresses={DC2: "10.99.0.12"})  # dc1 did not answer LDAP: no address known
    dns = {DC1: ("10.99.0.250", "10.99.0.11"), DC2: ("10.99.0.12",)}
    result = locator.run(ctx(inv, dns))
    assert [a for a, *_ in asked.asked if a != "10.99.0.12"] == ["10.99.0.250", "10.99.0.11"]
    assert all(d.advertisement is not None for d in result.dcs)
    assert {d.host: d.advertisement.address for d in result.dcs if d.advertisement} == ADDRESSES


def test_an_address_that_answers_as_another_dc_does_not_count(pings) -> None:
    pings({"10.99.0.11": netlogon("dc1"), "10.99.0.12": netlogon("dc1")})
    result = locator.run(ctx(lab_inventory()))
    (dc2,) = [d for d in result.dcs if d.host == DC2]
    assert isinstance(dc2.answer, locator.PingFailure)
    assert dc2.answer.reason == f"10.99.0.12: answers as {DC1}"


def test_an_answer_that_does_not_decode(pings) -> None:
    pings({**HEALTHY, "10.99.0.12": b"\x13\x00" + netlogon("dc2")[2:]})
    (dc2,) = [d for d in locator.run(ctx(lab_inventory())).dcs if d.host == DC2]
    assert isinstance(dc2.answer, locator.PingFailure)
    assert "10.99.0.12: the Netlogon value does not decode" in dc2.answer.reason and "opcode 19" in dc2.answer.reason


def test_a_dc_without_any_address(pings) -> None:
    pings(HEALTHY)
    result = locator.run(ctx(lab_inventory(addresses={DC1: "10.99.0.11"})))
    (dc2,) = [d for d in result.dcs if d.host == DC2]
    assert dc2.answer == locator.PingFailure(f"{DC2} has no A or AAAA record")


# --- configuration --------------------------------------------------------------------------------


def parse(section: object) -> LocatorSettings:
    data = {"domains": [{"name": "lab.example", "bind": {"user": "m@lab.example", "password_env": "PW"},
                         "locator": section}]}
    (domain,) = config.parse(data, CHECKS, base=Path("."), environ={"PW": "x"}).domains
    settings = domain.settings["locator"]
    assert isinstance(settings, LocatorSettings)
    return settings


def test_settings() -> None:
    assert BY_NAME["locator"].settings is not None and BY_NAME["locator"].interval == 60.0
    assert parse({}) == LocatorSettings(timeout=1.0, retries=2)
    assert parse({"timeout": "500ms", "retries": 0}) == LocatorSettings(timeout=0.5, retries=0)
    with pytest.raises(ConfigError, match=r"domains\[0\]\.locator\.retries: must be at most 10"):
        parse({"retries": 11})
    with pytest.raises(ConfigError, match=r"domains\[0\]\.locator\.timeout: must be longer than 0s"):
        parse({"timeout": 0})
    with pytest.raises(ConfigError, match=r"domains\[0\]\.locator\.port: unknown key"):
        parse({"port": 389})

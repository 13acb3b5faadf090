"""DNS check: locator expectations, address probes, dnsRecord timestamps, metrics and the report."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter import metrics as m
from ad_health_exporter.checks.base import CheckContext, CheckFailed
from ad_health_exporter.checks.dns import model as dns_check
from ad_health_exporter.checks.dns import read as dns_read
from ad_health_exporter.checks.dns import report as dns_report
from ad_health_exporter.checks.dns import series as dns_samples
from ad_health_exporter.checks.dns.settings import DnsSettings
from ad_health_exporter.formats.dnsrecord import AddressData, decode_dns_record
from ad_health_exporter.ldap import Entry, LdapError, RootDSE
from ad_health_exporter.ldap.resolver import SrvTarget
from ad_health_exporter.topology import Inventory
from support.builders import DOMAIN_DN, SITE, context, dc, inventory
from support.directory import FakeDc, FakeDirectory, root_dse
from support.resolver import DnsAnswers, DnsServers

DATA = Path(__file__).parent / "data"
DC1_GUID = uuid.UUID("3417a2d1-8edb-4162-a366-36fe25a6c1db")
DC2_GUID = uuid.UUID("9b5f5264-bc11-4353-84f7-6e2d43d37083")
# The worked example of ad-protocol-facts.md: A 10.0.0.11, TTL 600, serial 16, timestamp 3707928 h.
WORKED_EXAMPLE = bytes.fromhex("0400010005f0000010000000000002580000000018943800 0a00000b".replace(" ", ""))


LAB = inventory(dc("dc1.lab.example", guid=DC1_GUID, pdc=True), dc("dc2.lab.example", guid=DC2_GUID),
                addresses={"dc1.lab.example": "10.99.4.11", "dc2.lab.example": "10.99.4.12"})


# --- what should be registered ------------------------------------------------------------------


def test_locator_records_follow_who_registers_what() -> None:
    inv = inventory(
        dc("dc1.lab.example", guid=DC1_GUID, pdc=True),
        dc("dc2.lab.example", guid=DC2_GUID, gc=False),
        dc("rodc.lab.example", site="Branch", rodc=True, gc=False),
    )
    records = {r.record: r for r in dns_check.locator_records(inv)}
    assert records["_ldap._tcp.dc._msdcs"].expected == ("dc1.lab.example", "dc2.lab.example")  # no RODC
    assert records["_kerberos._udp"].name == "_kerberos._udp.lab.example"
    assert records["_ldap._tcp.pdc._msdcs"].expected == ("dc1.lab.example",)
    assert records["_gc._tcp"].expected == ("dc1.lab.example",) and records["_gc._tcp"].forest_wide
    assert records["_ldap._tcp.Branch._sites.dc._msdcs"].expected == ("rodc.lab.example",)
    assert records[f"_kerberos._tcp.{SITE}._sites"].expected == ("dc1.lab.example", "dc2.lab.example")
    assert f"_gc._tcp.{SITE}._sites" in records and "_gc._tcp.Branch._sites" not in records
    wanted = {"_ldap._tcp.dc._msdcs", "_ldap._tcp", "_kerberos._tcp", "_kerberos._udp", "_kpasswd._tcp", "_gc._tcp"}
    assert wanted <= set(records)


def srv(*targets: str, port: int = 389) -> tuple[SrvTarget, ...]:
    return tuple(SrvTarget(t, port, 0, 100) for t in targets)


def result_with(
    views: list[dns_check.ServerView], probes=(), forest_hosts=("dc1.lab.example", "dc2.lab.example"), **kw
) -> dns_check.DnsResult:
    return dns_check.DnsResult(
        domain="lab.example",
        forest="lab.example",
        checked_at=kw.pop("checked_at", 1_800_000_000.0),
        dcs=LAB.domain_controllers,
        down=kw.pop("down", ()),
        servers=tuple(views),
        probes=tuple(probes),
        forest_dc_hosts=forest_hosts,
        **kw,
    )


def test_unknown_targets_and_missing_dcs() -> None:
    records = {r.record: r for r in dns_check.locator_records(LAB)}
    # What the lab's DNS returns: both DCs plus a decommissioned DC and one that never had an address.
    ldap = dns_check.SrvLookup(
        records["_ldap._tcp.dc._msdcs"],
        srv("dc1.lab.example", "dc2.lab.example", "olddc.lab.example", "ghostdc.lab.example"),
    )
    partial = dns_check.SrvLookup(records["_kerberos._udp"], srv("dc2.lab.example", port=88))
    absent = dns_check.SrvLookup(records["_gc._tcp"], ())
    failed = dns_check.SrvLookup(records["_kpasswd._tcp"], None, "timed out")
    result = result_with([dns_check.ServerView("10.99.4.11", "dc1.lab.example", srv=(ldap, partial, absent, failed))])
    assert [t.target for t in result.srv_unknown(ldap) or ()] == ["olddc.lab.example", "ghostdc.lab.example"]
    assert result.srv_missing(ldap) == ()
    assert result.srv_missing(partial) == ("dc1.lab.example",)
    assert result.srv_missing(absent) == ("dc1.lab.example", "dc2.lab.example")
    assert result.srv_unknown(failed) is None and result.srv_missing(failed) is None
    # Forest-wide records cannot be judged when the forest's DCs are unknown.
    assert result_with([], forest_hosts=None).srv_unknown(absent) is None

    series = {
        (s.metric.name, s.labels[1]): s.value
        for s in dns_samples.series("lab.example", result)
        if s.metric.check == "dns"
    }
    assert series[(m.DNS_SRV_UNKNOWN.name, "_ldap._tcp.dc._msdcs")] == 2
    assert series[(m.DNS_SRV_MISSING.name, "_kerberos._udp")] == 1
    assert (m.DNS_SRV_UNKNOWN.name, "_kpasswd._tcp") not in series  # could not be looked up: no series
    fixes = [f.fix for f in dns_report.findings(result)]
    assert (
        "dnscmd 10.99.4.11 /recorddelete _msdcs.lab.example _ldap._tcp.dc SRV 0 100 389 olddc.lab.example /f" in fixes
    )
    assert "nltest /server:dc1.lab.example /dsregdns (Samba: samba_dnsupdate --verbose on dc1.lab.example)" in fixes


def test_judge_probe() -> None:
    dc1 = LAB.dc("dc1.lab.example")

    def root(host: str | None, dsa: str | None) -> RootDSE:
        attrs = {}
        if host:
            attrs["dnshostname"] = [host.encode()]
        if dsa:
            attrs["dsservicename"] = [dsa.encode()]
        return RootDSE.from_entry(Entry("", attrs))

    dc2 = LAB.dc("dc2.lab.example")
    assert dc1 is not None and dc2 is not None
    assert not dns_check.judge_probe(dc1, "10.99.4.11", root("DC1.lab.example", dc1.dsa_dn.upper())).stale
    other = dns_check.judge_probe(dc1, "10.99.4.12", root("dc2.lab.example", dc2.dsa_dn))
    assert other.stale and other.reason == "dc2.lab.example answers there"
    moved = dns_check.judge_probe(dc1, "10.99.4.12", root("dc1.lab.example", "CN=NTDS Settings,CN=OLD,CN=Servers,CN=x"))
    assert moved.stale and "the DSA CN=NTDS Settings,CN=OLD" in (moved.reason or "")
    assert dns_check.judge_probe(dc1, "10.99.4.12", root(None, None)).stale


@pytest.mark.parametrize(
    "name, zone, node",
    [
        ("dc1.lab.example", "lab.example", "dc1"),
        ("_ldap._tcp.dc._msdcs.lab.example", "_msdcs.lab.example", "_ldap._tcp.dc"),
        (f"{DC1_GUID}._msdcs.lab.example", "_msdcs.lab.example", str(DC1_GUID)),
        ("_kerberos._tcp.lab.example.", "lab.example", "_kerberos._tcp"),
        ("lab.example", "lab.example", "@"),
        ("dc9.other.test", "other.test", "dc9"),
    ],
)
def test_record_location(name: str, zone: str, node: str) -> None:
    assert dns_check.record_location(name, "lab.example", "lab.example") == (zone, node)


# --- dnsRecord values ---------------------------------------------------------------------------


def lab_zone_entries() -> list[Entry]:
    values: dict[str, list[bytes]] = {}
    for line in (DATA / "dnsrecord_lab_zones.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        dn, value = line.split("\t")
        values.setdefault(dn, []).append(bytes.fromhex(value))
    return [Entry(dn, {"dnsrecord": v}) for dn, v in values.items()]


def test_worked_example_is_a_dynamic_record() -> None:
    record = decode_dns_record(WORKED_EXAMPLE)
    assert (record.ttl_seconds, record.serial, record.timestamp_hours) == (600, 16, 3707928)
    assert isinstance(record.data, AddressData)
    assert str(record.data.address) == "10.0.0.11" and not record.is_static
    assert record.timestamp_unix == 3707928 * 3600 - 11_644_473_600 == 1704067200  # 2024-01-01T00:00:00Z


def test_lab_zone_values_decode_and_only_dc_addresses_are_kept() -> None:
    entries = lab_zone_entries()
    for entry in entries:
        for value in entry.raw("dnsRecord"):
            decode_dns_record(value)  # every value Samba wrote decodes
    records, errors = dns_check.zone_records(entries, LAB.hosts)
    assert errors == []
    # Samba's node name for dc2 is "DC2": zone names are case-insensitive.
    assert sorted((r.host, r.address) for r in records) == [
        ("dc1.lab.example", "10.99.4.11"), ("dc1.lab.example", "10.99.4.250"), ("dc2.lab.example", "10.99.4.12")]
    assert all(r.timestamp is None and r.zone == "lab.example" for r in records)  # Samba's records are static


def test_dynamic_record_timestamp_is_exported_and_static_ones_are_not() -> None:
    dynamic = Entry(
        "DC=dc2,DC=lab.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=lab,DC=example", {"dnsrecord": [WORKED_EXAMPLE]}
    )
    records, _ = dns_check.zone_records(lab_zone_entries() + [dynamic], LAB.hosts)
    result = result_with([], zone_records=tuple(records), zones_read=True, checked_at=1704067200.0 + 20 * 86400)
    stamps = [
        (s.labels, s.value) for s in dns_samples.series("lab.example", result) if s.metric is m.DNS_RECORD_TIMESTAMP
    ]
    assert stamps == [(("lab.example", "dc2.lab.example", "10.0.0.11"), 1704067200.0)]
    (old,) = [f for f in dns_report.findings(result) if "refreshed" in f.message]
    assert old.severity == "warning" and "20 days ago" in old.message and old.subject == "dc2.lab.example"


def test_undecodable_zone_value_is_named_not_raised() -> None:
    entry = Entry(
        "DC=dc1,DC=lab.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=lab,DC=example",
        {"dnsrecord": [WORKED_EXAMPLE[:-1], WORKED_EXAMPLE]},
    )
    records, errors = dns_check.zone_records([entry], LAB.hosts)
    assert len(records) == 1 and len(errors) == 1 and "dnsRecord value 1" in errors[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=4))
def test_zone_records_never_raise_on_arbitrary_values(values: list[bytes]) -> None:
    entry = Entry("DC=dc1,DC=lab.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=lab,DC=example", {"dnsrecord": values})
    records, errors = dns_check.zone_records([entry], LAB.hosts)
    assert len(records) + len(errors) <= len(values)


# --- the whole check with fake DNS servers and LDAP ---------------------------------------------


def lab_answers() -> DnsAnswers:
    """What the lab's DNS servers answer: dc1 has a stale extra address, dc2's alias is missing, and
    three locator records list two DCs that are gone."""
    locators: dict[str, tuple[SrvTarget, ...]] = {}
    for record in dns_check.locator_records(LAB):
        targets = [h for h in record.expected]
        if record.record in ("_ldap._tcp", "_ldap._tcp.dc._msdcs", "_kerberos._tcp"):
            targets += ["olddc.lab.example", "ghostdc.lab.example"]
        locators[record.name] = srv(*targets)
    return DnsAnswers(
        addresses={"dc1.lab.example": ("10.99.4.11", "10.99.4.250"), "dc2.lab.example": ("10.99.4.12",)},
        srv=locators,
        cnames={f"{DC1_GUID}._msdcs.lab.example": "dc1.lab.example"},
    )


def lab_directory() -> FakeDirectory:
    """Both DCs answer as themselves and hold the lab's zones (no zones under CN=System); dc1's stale
    address refuses connections."""

    def answering(host: str) -> FakeDc:
        d = LAB.dc(host)
        assert d is not None
        return FakeDc(lab_zone_entries(), root=root_dse(dnsHostName=d.host, dsServiceName=d.dsa_dn),
                      absent_bases=(f"CN=MicrosoftDNS,CN=System,{DOMAIN_DN}",))

    return FakeDirectory(
        {h: answering(h) for h in LAB.hosts},
        faults={"10.99.4.250": LdapError("dc1.lab.example", "10.99.4.250:636: connection refused")},
    )


def dns_context(dns: DnsSettings | None = None, interval: float = 60.0, inv: Inventory = LAB,
                directory: FakeDirectory | None = None) -> CheckContext[DnsSettings]:
    return context(dns or DnsSettings(), directory or lab_directory(), inventory=inv, interval=interval,
                   clock=lambda: 1_800_000_000.0)


def test_run_against_the_lab_faults(monkeypatch) -> None:
    fake = DnsServers({"10.99.4.11": lab_answers(), "10.99.4.12": lab_answers()})
    monkeypatch.setattr(dns_read, "Resolver", fake)
    directory = lab_directory()
    result = dns_read.run(dns_context(directory=directory))

    # Each DC's own DNS service is asked (default), and each address is probed once, anonymously.
    assert {s for s, _, _ in fake.asked} == {"10.99.4.11", "10.99.4.12"}
    probes = [(c.host, c.address) for c in directory.connects if c.address is not None]
    assert sorted(probes) == [
        ("dc1.lab.example", "10.99.4.11"),
        ("dc1.lab.example", "10.99.4.250"),
        ("dc2.lab.example", "10.99.4.12"),
    ]
    assert all(c.bind is False for c in directory.connects if c.address is not None)

    series = {
        (s.metric.name, s.labels[1], s.labels[2]): s.value
        for s in dns_samples.series("lab.example", result)
        if len(s.labels) == 3
    }
    for server in ("10.99.4.11", "10.99.4.12"):
        assert series[(m.DNS_DC_ADDRESSES.name, "dc1.lab.example", server)] == 2
        assert series[(m.DNS_STALE_ADDRESSES.name, "dc1.lab.example", server)] == 1
        assert series[(m.DNS_STALE_ADDRESSES.name, "dc2.lab.example", server)] == 0
        assert series[(m.DNS_DSA_ALIAS.name, "dc1.lab.example", server)] == 1
        assert series[(m.DNS_DSA_ALIAS.name, "dc2.lab.example", server)] == 0
        assert series[(m.DNS_SRV_UNKNOWN.name, "_kerberos._tcp", server)] == 2
        assert series[(m.DNS_SRV_MISSING.name, "_kerberos._tcp", server)] == 0
    assert series[(m.DC_CHECK_SUCCESS.name, "dc1.lab.example", "dns")] == 1
    assert result.zones_read and len(result.zone_records) == 3

    found = dns_report.findings(result)
    stale = next(f for f in found if f.subject == "dc1.lab.example")
    assert "10.99.4.250" in stale.message and "connection refused" in stale.message
    assert stale.fix == "dnscmd 10.99.4.11 /recorddelete lab.example dc1 A 10.99.4.250 /f"
    alias = next(f for f in found if f.subject == "dc2.lab.example")
    assert "8524" in alias.message
    assert alias.fix == f"dnscmd 10.99.4.11 /recordadd _msdcs.lab.example {DC2_GUID} CNAME dc2.lab.example"
    lines = "\n".join(dns_report.summary(result))
    assert "10.99.4.250 STALE" in lines and "alias MISSING" in lines


def test_a_dead_dns_server_costs_one_timeout_and_only_its_own_series(monkeypatch) -> None:
    fake = DnsServers({"10.99.4.11": lab_answers(), "10.99.4.12": DnsAnswers(silent=True)})
    monkeypatch.setattr(dns_read, "Resolver", fake)
    started = time.monotonic()
    result = dns_read.run(dns_context(DnsSettings(timeout=0.3)))
    assert time.monotonic() - started < 3
    # The first timed-out question ends the questions to that server.
    assert len([a for a in fake.asked if a[0] == "10.99.4.12"]) == 1
    dead = next(v for v in result.servers if v.server == "10.99.4.12")
    assert (dead.error or "").startswith("does not answer: dc1.lab.example A: timed out")
    series = list(dns_samples.series("lab.example", result))
    assert not [s for s in series if len(s.labels) == 3 and s.labels[2] == "10.99.4.12"]
    ok = {s.labels[1]: s.value for s in series if s.metric is m.DC_CHECK_SUCCESS}
    assert ok == {"dc1.lab.example": 1.0, "dc2.lab.example": 0.0}  # dc2's own DNS service failed


def test_no_dns_server_answering_fails_the_check(monkeypatch) -> None:
    monkeypatch.setattr(dns_read, "Resolver", DnsServers({"10.0.0.53": DnsAnswers(silent=True)}))
    with pytest.raises(CheckFailed) as info:
        dns_read.run(dns_context(DnsSettings(servers=("10.0.0.53",), timeout=0.2, read_zones=False)))
    assert "no DNS server answered" in str(info.value)
    assert isinstance(info.value.partial, dns_check.DnsResult)


def test_configured_servers_and_the_bound(monkeypatch) -> None:
    fake = DnsServers({"10.0.0.53": lab_answers()})
    monkeypatch.setattr(dns_read, "Resolver", fake)
    result = dns_read.run(dns_context(DnsSettings(servers=("10.0.0.53",), read_zones=False)))
    assert [(v.server, v.via_dc) for v in result.servers] == [("10.0.0.53", None)]
    assert not result.zones_read
    fake = DnsServers({"10.99.4.11": lab_answers()})
    monkeypatch.setattr(dns_read, "Resolver", fake)
    result = dns_read.run(dns_context(DnsSettings(max_servers=1, read_zones=False)))
    assert [(v.server, v.via_dc) for v in result.servers] == [("10.99.4.11", "dc1.lab.example")]


def test_stale_addresses_of_a_dc_that_is_down_are_not_reported_as_stale_records() -> None:
    records = {r.record: r for r in dns_check.locator_records(LAB)}
    view = dns_check.ServerView("10.99.4.11", "dc1.lab.example", dcs=(
        dns_check.DcLookup("dc2.lab.example", ("10.99.4.12",), "dc2.lab.example"),), srv=())
    probe = dns_check.AddressProbe("dc2.lab.example", "10.99.4.12", True, "connection refused")
    result = result_with([view], probes=[probe], down=("dc2.lab.example",))
    assert not [f for f in dns_report.findings(result) if f.subject == "dc2.lab.example"]
    assert "10.99.4.12 (DC down)" in "\n".join(dns_report.summary(result))
    assert records  # the metric still counts it: nothing answers there as dc2
    assert [s.value for s in dns_samples.series("lab.example", result) if s.metric is m.DNS_STALE_ADDRESSES] == [1.0]


def test_forest_wide_records_are_judged_against_every_dc_of_the_forest(monkeypatch) -> None:
    # lab.example is the forest root; a child domain's GC registers in the forest-wide _gc records.
    child = uuid.UUID("66666666-7777-8888-9999-000000000000")
    forest_root = dataclasses.replace(LAB, forest_dcs={**LAB.forest_dcs, child: "cdc.child.lab.example"})
    monkeypatch.setattr(dns_read, "Resolver", DnsServers({"10.99.4.11": lab_answers(), "10.99.4.12": lab_answers()}))
    result = dns_read.run(dns_context(DnsSettings(read_zones=False), inv=forest_root))
    assert result.forest_dc_hosts == ("cdc.child.lab.example", "dc1.lab.example", "dc2.lab.example")
    records = {r.record: r for r in dns_check.locator_records(forest_root)}
    gc = dns_check.SrvLookup(
        records["_gc._tcp"], srv("dc1.lab.example", "cdc.child.lab.example", "gone.lab.example", port=3268)
    )
    assert [t.target for t in result.srv_unknown(gc) or ()] == ["gone.lab.example"]
    # Domain-wide records still name only this domain's DCs.
    kdc = dns_check.SrvLookup(records["_kerberos._tcp"], srv("dc1.lab.example", "cdc.child.lab.example", port=88))
    assert [t.target for t in result.srv_unknown(kdc) or ()] == ["cdc.child.lab.example"]


def test_a_dc_name_without_address_is_an_error() -> None:
    view = dns_check.ServerView("10.99.4.11", "dc1.lab.example", dcs=(
        dns_check.DcLookup("dc2.lab.example", (), "dc2.lab.example"),
        dns_check.DcLookup("dc1.lab.example", None, "dc1.lab.example", error="dc1.lab.example A: SERVFAIL"),
    ))
    found = {f.subject: f for f in dns_report.findings(result_with([view]))}
    assert found["dc2.lab.example"].severity == "error" and "no A or AAAA record" in found["dc2.lab.example"].message
    assert "dnscmd 10.99.4.11 /recordadd lab.example dc2 A <its address>" in (found["dc2.lab.example"].fix or "")
    assert found["dc1.lab.example"].severity == "warning" and "SERVFAIL" in found["dc1.lab.example"].message
    series = {
        (s.metric.name, s.labels[1]): s.value
        for s in dns_samples.series("lab.example", result_with([view]))
        if len(s.labels) == 3
    }
    assert series[(m.DNS_DC_ADDRESSES.name, "dc2.lab.example")] == 0
    assert (m.DNS_DC_ADDRESSES.name, "dc1.lab.example") not in series


def test_a_server_that_refuses_every_question_is_one_error(monkeypatch) -> None:
    refusing = DnsAnswers(refuses=True)
    monkeypatch.setattr(dns_read, "Resolver", DnsServers({"10.99.4.11": lab_answers(), "10.99.4.12": refusing}))
    result = dns_read.run(dns_context(DnsSettings(read_zones=False)))
    bad = next(v for v in result.servers if v.server == "10.99.4.12")
    assert bad.error is not None and bad.error.startswith("answers no question: ") and "REFUSED" in bad.error
    assert [f.subject for f in dns_report.findings(result) if "10.99.4.12" in f.subject] == [
        "DNS server 10.99.4.12 (dc2.lab.example)"
    ]

"""Replication switched off on a DC (nTDSDSA options 0x2 / 0x4): read by the inventory, from the
topology DC and from each DC's own copy, exposed per DC and direction, reported with the fix."""

from __future__ import annotations

import dataclasses

from ad_health_exporter import metrics as m
from ad_health_exporter.checks.inventory import report, series
from ad_health_exporter.checks.inventory.read import _own_options, _read_topology
from ad_health_exporter.ldap import Entry
from support.builders import CONFIG_DN, DOMAIN_DN, context, dc, inventory
from support.directory import FakeDc, FakeDirectory, root_dse

DC1, DC2 = "dc1.lab.example", "dc2.lab.example"
SITES = f"CN=Sites,{CONFIG_DN}"


def dsa(host: str, options: int) -> Entry:
    return Entry(dc(host).dsa_dn, {"options": [str(options).encode()]})


def topology_dc(dc2_options: int) -> FakeDc:
    """dc1 as it answers the topology read, holding dc2's nTDSDSA with ``dc2_options``."""
    servers = [Entry(dc(h).server_dn, {"dnshostname": [h.encode()]}) for h in (DC1, DC2)]
    dsas = [
        Entry(dc(h).dsa_dn, {"objectguid": [dc(h).dsa_guid.bytes_le], "options": [str(o).encode()],
                             "msds-hasdomainncs": [DOMAIN_DN.encode()]})
        for h, o in ((DC1, 1), (DC2, dc2_options))
    ]
    return FakeDc(
        answers={"(objectClass=server)": servers, "(objectClass=nTDSDSA)": dsas},
        root=root_dse(defaultNamingContext=DOMAIN_DN, configurationNamingContext=CONFIG_DN,
                      rootDomainNamingContext=DOMAIN_DN, schemaNamingContext=f"CN=Schema,{CONFIG_DN}"),
    )


def test_topology_reads_both_switches_beside_the_gc_flag() -> None:
    directory = FakeDirectory({DC1: topology_dc(dc2_options=1 | 0x2 | 0x4)})
    with directory.connect(DC1) as conn:
        inv = _read_topology(context(None, directory), conn, DOMAIN_DN)
    one, two = inv.domain_controllers
    assert (one.inbound_replication_disabled, one.outbound_replication_disabled) == (False, False)
    assert two.global_catalog and two.inbound_replication_disabled and two.outbound_replication_disabled


def test_each_dc_s_own_copy_overrides_the_topology_dc_s_view() -> None:
    # dc2 switched its outbound replication off: dc1 never hears of it, dc2's own copy says so.
    # dc1's own copy says its inbound replication is off.
    directory = FakeDirectory({
        DC1: FakeDc(objects={dc(DC1).dsa_dn: dsa(DC1, 0x1 | 0x2)}),
        DC2: FakeDc(objects={dc(DC2).dsa_dn: dsa(DC2, 0x1 | 0x4)}),
    })
    inv = inventory(dc(DC1), dc(DC2))
    one, two = _own_options(context(None, directory, inventory=inv), inv.domain_controllers, inv.reachability)
    assert (one.inbound_replication_disabled, one.outbound_replication_disabled) == (True, False)
    assert (two.inbound_replication_disabled, two.outbound_replication_disabled) == (False, True)
    assert all(c.bind for c in directory.connects)  # nTDSDSA objects are not for anonymous eyes
    assert {r.dn for r in directory.reads} == {dc(DC1).dsa_dn, dc(DC2).dsa_dn}


def test_a_dc_that_is_down_or_unreadable_keeps_the_topology_view() -> None:
    seen = dataclasses.replace(dc(DC2), inbound_replication_disabled=True)
    directory = FakeDirectory({DC1: FakeDc(search_failure="insufficientAccessRights"), DC2: FakeDc()})
    inv = inventory(dc(DC1), seen, down={DC2: "connection refused"})
    one, two = _own_options(context(None, directory, inventory=inv), inv.domain_controllers, inv.reachability)
    assert one == dc(DC1) and two == seen
    assert [c.host for c in directory.connects] == [DC1]  # a DC that is down is not asked


def test_series_and_findings_per_dc_and_direction() -> None:
    inv = inventory(dc(DC1, pdc=True), dataclasses.replace(dc(DC2), inbound_replication_disabled=True))
    samples = {(s.metric.name, s.labels): s.value for s in series.series("lab.example", inv)}
    disabled = {k[1][1:]: v for k, v in samples.items() if k[0] == m.DC_REPLICATION_DISABLED.name}
    assert disabled == {(DC1, "inbound"): 0, (DC1, "outbound"): 0, (DC2, "inbound"): 1, (DC2, "outbound"): 0}
    found = [f for f in report.findings(inv) if "replication is switched off" in f.message]
    assert len(found) == 1 and found[0].subject == DC2 and found[0].severity == "error"
    assert found[0].message.startswith("inbound replication is switched off (nTDSDSA options DISABLE_INBOUND_REPL)")
    assert found[0].fix == f"repadmin /options {DC2} -DISABLE_INBOUND_REPL; then repadmin /syncall {DC2} /Aed"
    assert "NO-INBOUND-REPL" in next(line for line in report.summary(inv) if line.startswith(DC2))


def test_outbound_fix_pushes_from_the_dc() -> None:
    inv = inventory(dataclasses.replace(dc(DC1), outbound_replication_disabled=True))
    (found,) = [f for f in report.findings(inv) if "replication is switched off" in f.message]
    assert found.fix == f"repadmin /options {DC1} -DISABLE_OUTBOUND_REPL; then repadmin /syncall {DC1} /AedP"

"""Replication check: decoding what DCs return, per-DC reading, "cannot read", metrics and the report."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter import metrics as m
from ad_health_exporter.checks.base import CheckContext, CheckFailed
from ad_health_exporter.checks.replication import read as repl
from ad_health_exporter.checks.replication import report as repl_report
from ad_health_exporter.checks.replication import series as repl_samples
from ad_health_exporter.formats.repsfrom import decode_reps_from
from ad_health_exporter.ldap import Entry, LdapError, RootDSE
from ad_health_exporter.topology import Inventory
from support.builders import context, dc, inventory
from support.directory import FakeDc, FakeDirectory, root_dse

DATA = Path(__file__).parent / "data"
DC1_GUID = uuid.UUID("3417a2d1-8edb-4162-a366-36fe25a6c1db")  # from the lab the captures came from
DC2_GUID = uuid.UUID("9b5f5264-bc11-4353-84f7-6e2d43d37083")
DOMAIN_NC = "DC=lab,DC=example"
CONFIG_NC = "CN=Configuration,DC=lab,DC=example"
NCS = (
    DOMAIN_NC,
    CONFIG_NC,
    f"CN=Schema,{CONFIG_NC}",
    "DC=DomainDnsZones,DC=lab,DC=example",
    "DC=ForestDnsZones,DC=lab,DC=example",
)
DSTIME_EPOCH = 11_644_473_600


def read_capture(name: str) -> list[tuple[str, str, bytes]]:
    rows = []
    for line in (DATA / name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        host, nc, value = line.split("\t")
        rows.append((host, nc, bytes.fromhex(value)))
    return rows


# --- the lab's own repsFrom values --------------------------------------------------------------


def test_lab_capture_healthy_decodes_for_every_nc_of_both_dcs() -> None:
    rows = read_capture("repsfrom_lab_healthy.tsv")
    assert {(h, nc) for h, nc, _ in rows} == {(h, nc) for h in ("dc1.lab.example", "dc2.lab.example") for nc in NCS}
    for host, nc, value in rows:
        link = decode_reps_from(value, naming_context=nc)
        partner = DC2_GUID if host.startswith("dc1") else DC1_GUID
        assert link.version == 1 and len(value) == 268  # what Samba writes: v1, 268 bytes
        assert link.source_dsa_guid == partner
        assert link.source_address == f"{partner}._msdcs.lab.example"
        assert link.consecutive_failures == 0 and link.last_result == 0
        assert link.last_success is not None and link.last_success == link.last_attempt
        assert link.naming_context == nc


def test_lab_capture_with_the_source_down_shows_failures() -> None:
    rows = read_capture("repsfrom_lab_source_down.tsv")
    assert {nc for _, nc, _ in rows} == set(NCS)
    for _, nc, value in rows:
        link = decode_reps_from(value, naming_context=nc)
        assert link.source_dsa_guid == DC2_GUID
        assert link.consecutive_failures >= 3
        assert link.last_result in (1225, 64)  # connection refused / netname deleted, as the lab shows
        assert link.last_attempt is not None and link.last_success is not None
        assert link.last_attempt > link.last_success


def test_lab_capture_with_a_skewed_clock_shows_time_skew() -> None:
    rows = read_capture("repsfrom_lab_clock_skew.tsv")
    for host, nc, value in rows:
        link = decode_reps_from(value, naming_context=nc)
        assert host == "dc2.lab.example" and link.source_dsa_guid == DC1_GUID
        assert link.last_result == 1398 and link.consecutive_failures > 0
        assert repl.describe_result(link.last_result).name == "ERROR_TIME_SKEW"


def build_reps_from_v2(
    *, failures: int, last_success: int, last_attempt: int, result: int, source: uuid.UUID, address: str
) -> bytes:
    """A Windows 2008+ (version 2) value laid out as MS-DRSR documents it, times in DSTIME seconds."""
    server = address.encode("utf-16-le") + b"\0\0"
    rpc_inst = struct.pack("<IIIII", 20 + 2 * len(server), 20, 0, 20 + len(server), 0) + server + server
    fixed = 0xD8
    head = struct.pack(
        "<IIIIqqIIII", 2, 0, fixed + len(rpc_inst), failures, last_success, last_attempt, result,
        fixed, len(rpc_inst), 0x70,
    )
    body = (
        head
        + bytes(84)
        + bytes(4)
        + struct.pack("<qqq", 9, 0, 9)
        + source.bytes_le
        + uuid.uuid4().bytes_le
        + bytes(16)
        + bytes(8)
    )
    assert len(body) == fixed
    return body + rpc_inst


def test_windows_v2_value_goes_through_the_check_like_a_samba_one() -> None:
    value = build_reps_from_v2(
        failures=2, last_success=13294762062, last_attempt=13294762962, result=8524, source=DC2_GUID,
        address=f"{DC2_GUID}._msdcs.lab.example",
    )
    decoded = repl.decode_nc(DOMAIN_NC, [], [value])
    assert decoded.origin == "repsFrom" and decoded.errors == ()
    (n,) = decoded.neighbors
    assert n.version == 2 and n.source_dsa_guid == DC2_GUID
    assert n.last_success == 13294762062 - DSTIME_EPOCH == 1650288462  # 2022-04-18T13:27:42Z
    assert n.last_attempt is not None and n.last_success is not None
    assert n.last_attempt - n.last_success == 900 and n.last_result == 8524 and n.consecutive_failures == 2
    assert n.source_address == f"{DC2_GUID}._msdcs.lab.example"


# --- DS_REPL_NEIGHBOR XML (Windows) -------------------------------------------------------------


def neighbor_xml(*, root: str = "DS_REPL_NEIGHBOR", nc: str = DOMAIN_NC, source: uuid.UUID = DC2_GUID,
                 success: str = "2022-04-18T13:27:42Z", attempt: str = "2022-04-18T13:42:42Z",
                 result: str = "0", failures: str = "0") -> bytes:
    return (
        f"<{root}>\n\t<pszNamingContext>{nc}</pszNamingContext>\n"
        "\t<pszSourceDsaDN>CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,"
        f"{CONFIG_NC}</pszSourceDsaDN>\n"
        f"\t<pszSourceDsaAddress>{source}._msdcs.lab.example</pszSourceDsaAddress>\n"
        "\t<pszAsyncIntersiteTransportDN></pszAsyncIntersiteTransportDN>\n"
        "\t<dwReplicaFlags>1879048304</dwReplicaFlags>\n\t<dwReserved>0</dwReserved>\n"
        "\t<uuidNamingContextObjGuid>0bd5a8f1-3f3c-4e8b-9c2a-3c1f1a2b3c4d</uuidNamingContextObjGuid>\n"
        f"\t<uuidSourceDsaObjGuid>{source}</uuidSourceDsaObjGuid>\n"
        "\t<uuidSourceDsaInvocationID>5d2f6e1a-0b3c-4d5e-8f90-a1b2c3d4e5f6</uuidSourceDsaInvocationID>\n"
        "\t<uuidAsyncIntersiteTransportObjGuid>00000000-0000-0000-0000-000000000000</uuidAsyncIntersiteTransportObjGuid>\n"
        "\t<usnLastObjChangeSynced>20480</usnLastObjChangeSynced>\n\t<usnAttributeFilter>20480</usnAttributeFilter>\n"
        f"\t<ftimeLastSyncSuccess>{success}</ftimeLastSyncSuccess>\n"
        f"\t<ftimeLastSyncAttempt>{attempt}</ftimeLastSyncAttempt>\n"
        f"\t<dwLastSyncResult>{result}</dwLastSyncResult>\n"
        f"\t<cNumConsecutiveSyncFailures>{failures}</cNumConsecutiveSyncFailures>\n"
        f"</{root}>\n\x00"
    ).encode()


def test_neighbor_xml_is_preferred_over_reps_from() -> None:
    reps = read_capture("repsfrom_lab_healthy.tsv")[0][2]
    xml = neighbor_xml(result="-2146893022", failures="4", root="DS_REPL_NEIGHBORW")
    decoded = repl.decode_nc(DOMAIN_NC, [xml], [reps])
    assert decoded.origin == "msDS-NCReplInboundNeighbors"
    (n,) = decoded.neighbors
    assert n.last_result == 0x80090322  # printed signed by Windows, kept unsigned
    assert n.consecutive_failures == 4
    assert n.last_success == 1650288462 and n.last_attempt == 1650288462 + 900


def test_neighbor_xml_never_succeeded() -> None:
    (n,) = repl.decode_nc(
        DOMAIN_NC, [neighbor_xml(success="1601-01-01T00:00:00Z", failures="7", result="8524")], []
    ).neighbors
    assert n.last_success is None and n.consecutive_failures == 7


def test_one_bad_value_is_named_and_the_others_kept() -> None:
    good = read_capture("repsfrom_lab_healthy.tsv")[0][2]
    decoded = repl.decode_nc(DOMAIN_NC, [], [good, good[:-7]])
    assert len(decoded.neighbors) == 1
    (error,) = decoded.errors
    assert error.startswith(f"repsFrom value 2 of {DOMAIN_NC}: repsFrom")


def test_empty_nc_head_has_no_origin() -> None:
    assert repl.decode_nc(DOMAIN_NC, [], []) == repl.DecodedNc((), None, ())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=3), st.lists(st.binary(max_size=400), max_size=3))
def test_decode_nc_never_raises_on_arbitrary_bytes(xml: list[bytes], reps: list[bytes]) -> None:
    decoded = repl.decode_nc(DOMAIN_NC, xml, reps)
    values = xml or reps
    assert len(decoded.neighbors) + len(decoded.errors) == len(values)


# --- reading each DC ----------------------------------------------------------------------------


DC1 = dc("dc1.lab.example", guid=DC1_GUID, naming_contexts=NCS)
DC2 = dc("dc2.lab.example", guid=DC2_GUID, naming_contexts=NCS)
Heads = dict[str, dict[str, list[bytes]]]  # NC -> attribute -> values of its head


def replicating(heads: Heads, current_time: str = "20261123192500.0Z") -> FakeDc:
    """A DC whose rootDSE lists the NCs of ``heads`` and whose NC heads hold those attributes."""
    return FakeDc(
        root=root_dse(currentTime=current_time, namingContexts=list(heads)),
        objects={nc: Entry(nc, {k.lower(): v for k, v in attrs.items()}) for nc, attrs in heads.items()},
        address="10.0.0.1",
    )


def repl_context(inv: Inventory, directory: FakeDirectory, interval: float = 60.0) -> CheckContext[None]:
    return context(None, directory, inventory=inv, interval=interval, clock=lambda: 1795462000.0)


def heads_from(capture: str, host: str) -> Heads:
    heads: Heads = {}
    for h, nc, value in read_capture(capture):
        if h == host:
            heads.setdefault(nc, {"repsFrom": []})["repsFrom"].append(value)
    return heads


def test_run_reads_every_nc_and_names_sources_through_the_inventory() -> None:
    inv = inventory(dc("dc1.lab.example", guid=DC1_GUID, pdc=True, naming_contexts=NCS), DC2)
    directory = FakeDirectory({
        "dc1.lab.example": replicating(heads_from("repsfrom_lab_source_down.tsv", "dc1.lab.example")),
        "dc2.lab.example": replicating(heads_from("repsfrom_lab_healthy.tsv", "dc2.lab.example")),
    })
    result = repl.run(repl_context(inv, directory))
    by_host = {s.host: s for s in result.dcs}
    dc1 = by_host["dc1.lab.example"]
    assert dc1.readable and dc1.now == 1795461900.0
    assert {link.naming_context for link in dc1.links} == set(NCS)
    assert all(link.source == "dc2.lab.example" and link.failing for link in dc1.links)
    assert all(link.source == "dc1.lab.example" and not link.failing for link in by_host["dc2.lab.example"].links)

    series = list(repl_samples.series("lab.example", result))
    failures = {s.labels[1:]: s.value for s in series if s.metric is m.REPL_FAILURES}
    assert len(failures) == 10
    assert all(v >= 3 for k, v in failures.items() if k[0] == "dc1.lab.example")
    results = {s.labels[1:]: s.value for s in series if s.metric is m.REPL_LAST_RESULT}
    assert {v for k, v in results.items() if k[0] == "dc1.lab.example"} <= {1225.0, 64.0}
    ok = {s.labels[1]: s.value for s in series if s.metric is m.DC_CHECK_SUCCESS}
    assert ok == {"dc1.lab.example": 1.0, "dc2.lab.example": 1.0}
    assert all(s.labels[2] == "replication" for s in series if s.metric is m.DC_CHECK_SUCCESS)


def test_unknown_partner_stays_a_guid_and_another_domains_dc_gets_its_name() -> None:
    gone = uuid.UUID("11111111-2222-3333-4444-555555555555")
    other = uuid.UUID("66666666-7777-8888-9999-000000000000")
    healthy = heads_from("repsfrom_lab_healthy.tsv", "dc1.lab.example")
    values = healthy[CONFIG_NC]["repsFrom"]
    values.append(
        build_reps_from_v2(failures=9, last_success=0, last_attempt=13294762962, result=8524, source=gone, address="x")
    )
    values.append(
        build_reps_from_v2(
            failures=0, last_success=13294762062, last_attempt=13294762062, result=0, source=other, address="y"
        )
    )
    # The inventory knows every DC of the forest; `gone` is no DC any more.
    inv = inventory(DC1, DC2, others={other: "dc9.child.lab.example"})
    directory = FakeDirectory({"dc1.lab.example": replicating(healthy)},
                              faults={"dc2.lab.example": LdapError("dc2.lab.example", "connection refused")})
    result = repl.run(repl_context(inv, directory))
    links = {link.source: link for s in result.dcs for link in s.links if link.naming_context == CONFIG_NC}
    assert set(links) == {"dc2.lab.example", str(gone), "dc9.child.lab.example"}
    assert not links[str(gone)].source_is_dc and links[str(gone)].last_success is None
    assert links["dc9.child.lab.example"].source_is_dc
    # named from the inventory, not looked up again
    assert [s for s in directory.searches if s.host == "dc1.lab.example"] == []
    series = list(repl_samples.series("lab.example", result))
    never = [s for s in series if s.metric is m.REPL_LAST_SUCCESS and s.labels[3] == str(gone)]
    assert [s.value for s in never] == [0.0]  # 0 = never, as the catalogue says
    texts = [f.message for f in repl_report.findings(result)]
    assert any(str(gone) in t and "no current DC" in t for t in texts)


def test_a_dc_that_cannot_be_reached_fails_only_its_own_part() -> None:
    inv = inventory(DC1, DC2)
    directory = FakeDirectory(
        {"dc1.lab.example": replicating(heads_from("repsfrom_lab_source_down.tsv", "dc1.lab.example"))},
        faults={"dc2.lab.example": LdapError("dc2.lab.example", "10.0.0.2:636: connection refused")},
    )
    result = repl.run(repl_context(inv, directory))
    ok = {s.labels[1]: s.value for s in repl_samples.series("lab.example", result) if s.metric is m.DC_CHECK_SUCCESS}
    assert ok == {"dc1.lab.example": 1.0, "dc2.lab.example": 0.0}
    state = next(s for s in result.dcs if s.host == "dc2.lab.example")
    assert state.error == "10.0.0.2:636: connection refused" and state.links == ()


def test_no_dc_readable_fails_the_check_with_the_partial_result() -> None:
    inv = inventory(DC1, DC2)
    directory = FakeDirectory(faults={h: LdapError(h, "connection refused") for h in inv.hosts})
    with pytest.raises(CheckFailed) as info:
        repl.run(repl_context(inv, directory))
    assert isinstance(info.value.partial, repl.ReplicationResult)
    assert "no DC's replication status could be read" in str(info.value)


def test_empty_answer_where_partners_exist_is_cannot_read_not_healthy() -> None:
    """What a Windows DC returns to an account without 'Monitor Active Directory Replication'."""
    inv = inventory(DC1, DC2)
    empty: Heads = {nc: {} for nc in NCS}
    directory = FakeDirectory({
        "dc1.lab.example": replicating(empty),
        "dc2.lab.example": replicating(heads_from("repsfrom_lab_healthy.tsv", "dc2.lab.example")),
    })
    with pytest.raises(CheckFailed) as info:
        repl.run(repl_context(inv, directory))
    assert "cannot read replication status" in str(info.value)
    assert "Monitor Active Directory Replication" in str(info.value)
    result = info.value.partial
    assert isinstance(result, repl.ReplicationResult)
    ok = {s.labels[1]: s.value for s in repl_samples.series("lab.example", result) if s.metric is m.DC_CHECK_SUCCESS}
    assert ok == {"dc1.lab.example": 0.0, "dc2.lab.example": 1.0}
    assert not any(s.metric is m.REPL_FAILURES and s.labels[1] == "dc1.lab.example"
                   for s in repl_samples.series("lab.example", result))


def test_a_single_dc_domain_has_no_links_and_that_is_fine() -> None:
    inv = inventory(DC1)
    result = repl.run(repl_context(inv, FakeDirectory({"dc1.lab.example": replicating({nc: {} for nc in NCS})})))
    assert result.dcs[0].readable and result.dcs[0].links == ()


def test_one_slow_dc_costs_only_its_own_slot() -> None:
    inv = inventory(DC1, DC2)
    release = threading.Event()

    def hanging() -> RootDSE:
        release.wait(30)
        raise LdapError("dc2.lab.example", "no answer within the receive timeout")

    directory = FakeDirectory({
        "dc1.lab.example": replicating(heads_from("repsfrom_lab_healthy.tsv", "dc1.lab.example")),
        "dc2.lab.example": FakeDc(root=hanging),
    })
    ctx = repl_context(inv, directory, interval=2.0)  # per-DC budget: 90% of the 2 s run limit
    started = time.monotonic()
    try:
        result = repl.run(ctx)
    finally:
        release.set()
    assert time.monotonic() - started < 5
    by_host = {s.host: s for s in result.dcs}
    assert by_host["dc1.lab.example"].readable and len(by_host["dc1.lab.example"].links) == 5
    assert by_host["dc2.lab.example"].error == "no answer within 1.8s"


# --- report -------------------------------------------------------------------------------------


def test_findings_name_the_result_code_and_give_the_repadmin_command() -> None:
    inv = inventory(DC1, DC2)
    directory = FakeDirectory({
        "dc1.lab.example": replicating(heads_from("repsfrom_lab_healthy.tsv", "dc1.lab.example")),
        "dc2.lab.example": replicating(heads_from("repsfrom_lab_clock_skew.tsv", "dc2.lab.example"),
                                       current_time="20261123193359.0Z"),
    })
    result = repl.run(repl_context(inv, directory))
    found = repl_report.findings(result)
    assert len(found) == 5 and all(f.severity == "error" for f in found)
    f = next(f for f in found if f.message.startswith(DOMAIN_NC + ":"))
    assert f.subject == "dc2.lab.example <- dc1.lab.example"
    assert "ERROR_TIME_SKEW (1398" in f.message and "w32tm /resync" in f.message
    assert f.fix == f'repadmin /replicate dc2.lab.example dc1.lab.example "{DOMAIN_NC}"'


def test_summary_is_a_replsummary_table() -> None:
    inv = inventory(DC1, DC2)
    directory = FakeDirectory({
        "dc1.lab.example": replicating(heads_from("repsfrom_lab_source_down.tsv", "dc1.lab.example")),
        "dc2.lab.example": replicating(heads_from("repsfrom_lab_healthy.tsv", "dc2.lab.example")),
    })
    lines = repl_report.summary(repl.run(repl_context(inv, directory)))
    text = "\n".join(lines)
    assert lines[0].startswith("Source DC") and "largest delta" in lines[0] and "fails/total" in lines[0]
    dest = lines.index(next(line for line in lines if line.startswith("Destination DC")))
    dc1_dest = next(line for line in lines[dest:] if "dc1.lab.example" in line)
    # dc1's links from dc2 all fail; its currentTime (20261123192500Z) is "now" for the largest delta.
    assert "5 / 5" in dc1_dest and "100" in dc1_dest and "ERROR_CONNECTION_REFUSED" in dc1_dest
    assert "0 / 5" in next(line for line in lines[dest:] if "dc2.lab.example" in line)
    src_dc2 = next(line for line in lines[1:dest] if "dc2.lab.example" in line)
    assert "5 / 5" in src_dc2
    assert "00h:00m:55s" in dc1_dest, text  # 19:25:00 - 19:24:05, the last success in the capture


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "00h:00m:00s"), (61, "00h:01m:01s"), (86400 + 3723, "1d.01h:02m:03s"), (61 * 86400, ">60 days"), (None, "-")],
)
def test_delta_format(seconds, text) -> None:
    assert repl_report.fmt_delta(seconds) == text

"""The spn check's logic on constructed directory entries: duplicates, aliases, expected and malformed SPNs."""

from __future__ import annotations

import logging
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter import metrics as m
from ad_health_exporter.checks.base import CheckContext, CheckError
from ad_health_exporter.checks.spn import index as spn
from ad_health_exporter.checks.spn import read as spn_read
from ad_health_exporter.checks.spn import report as spn_report
from ad_health_exporter.checks.spn import series as spn_samples
from ad_health_exporter.checks.spn.settings import ExpectedSpn, SpnSettings
from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.spn import SpnMappings, equivalent_keys, parse_spn, parse_spn_mappings
from ad_health_exporter.ldap import Entry, LdapError
from ad_health_exporter.topology import Inventory
from support.builders import CONFIG_DN, DOMAIN, DOMAIN_DN, context, dc, inventory
from support.directory import FakeDc, FakeDirectory

MAPPINGS = parse_spn_mappings(["host=alerter,cifs,http,w3svc,www"])
COMPUTER_CATEGORY = f"CN=Computer,CN=Schema,{CONFIG_DN}"
USER_CATEGORY = f"CN=Person,CN=Schema,{CONFIG_DN}"
GMSA_CATEGORY = f"CN=ms-DS-Group-Managed-Service-Account,CN=Schema,{CONFIG_DN}"
DC1_GUID = uuid.UUID("f7cff5c1-b0a5-4b7e-b8a6-49914e6a9622")
DC2_GUID = uuid.UUID("5753c438-8ec9-491d-9e12-63e83a3c26a0")

INVENTORY = inventory(dc(f"dc1.{DOMAIN}", guid=DC1_GUID, pdc=True), dc(f"dc2.{DOMAIN}", guid=DC2_GUID, gc=False))


def dc_spns(name: str, guid: uuid.UUID, gc: bool = True) -> list[str]:
    host = f"{name.lower()}.{DOMAIN}"
    out = [f"HOST/{host}", f"HOST/{name}", f"ldap/{host}", f"ldap/{host}/{DOMAIN}",
           f"E3514235-4B06-11D1-AB04-00C04FC2DCD2/{guid}/{DOMAIN}", f"RestrictedKrbHost/{host}"]
    return out + ([f"GC/{host}/{DOMAIN}"] if gc else [])


def entry(dn: str, sam: str | None, spns: list[str], *, uac: int = 4096, dns: str | None = None,
          category: str = COMPUTER_CATEGORY) -> Entry:
    attrs: dict[str, list[bytes]] = {"objectcategory": [category.encode()], "useraccountcontrol": [str(uac).encode()]}
    if sam is not None:
        attrs["samaccountname"] = [sam.encode()]
    if spns:
        attrs["serviceprincipalname"] = [s.encode() for s in spns]
    if dns:
        attrs["dnshostname"] = [dns.encode()]
    return Entry(dn=dn, attributes=attrs)


def computer(name: str, *extra: str, host_spn: bool = True, uac: int = 4096) -> Entry:
    fqdn = f"{name.lower()}.{DOMAIN}"
    spns = ([f"HOST/{fqdn}", f"HOST/{name}"] if host_spn else []) + list(extra)
    return entry(f"CN={name},CN=Computers,{DOMAIN_DN}", f"{name}$", spns, uac=uac, dns=fqdn)


def user(name: str, *spns: str) -> Entry:
    return entry(f"CN={name},CN=Users,{DOMAIN_DN}", name, list(spns), uac=512, category=USER_CATEGORY)


def base_entries() -> list[Entry]:
    return [
        entry(
            f"CN=DC1,OU=Domain Controllers,{DOMAIN_DN}",
            "DC1$",
            dc_spns("DC1", DC1_GUID),
            uac=0x82000,
            dns=f"dc1.{DOMAIN}",
        ),
        entry(
            f"CN=DC2,OU=Domain Controllers,{DOMAIN_DN}",
            "DC2$",
            dc_spns("DC2", DC2_GUID, gc=False),
            uac=0x82000,
            dns=f"dc2.{DOMAIN}",
        ),
    ]


def run_scan(entries: list[Entry], *, expected: tuple[ExpectedSpn, ...] = (), limit: int = 100, with_dcs: bool = True,
             host_rule: bool = True, mappings: SpnMappings = MAPPINGS) -> spn.SpnResult:
    state = spn.scan(entries, mappings, INVENTORY, DOMAIN_DN, host_rule, DOMAIN)
    return spn.evaluate(state, INVENTORY, expected, with_dcs=with_dcs, check_host_spn=host_rule, duplicate_limit=limit,
                        read_from=f"dc1.{DOMAIN}", scope="domain", domain=DOMAIN)


# --- duplicates --------------------------------------------------------------------------------


def test_healthy_directory_has_no_findings() -> None:
    result = run_scan(base_entries() + [computer("PC01"), user("svc_sql", "MSSQLSvc/sql.lab.example:1433")])
    assert result.duplicates == 0 and result.malformed == 0 and result.host_missing == 0
    assert all(e.on_account and e.holders == 1 for e in result.expected)
    assert spn_report.findings(result) == []
    assert result.values == 7 + 6 + 2 + 1
    assert result.accounts == 4


def test_same_spn_on_two_accounts() -> None:
    result = run_scan(base_entries() + [computer("PC-A", "http/dupsvc.lab.example"),
                                        computer("PC-B", "http/dupsvc.lab.example")])
    assert result.duplicates == 1
    (dup,) = result.duplicate_list
    assert (dup.spn, dup.accounts, dup.holders) == ("http/dupsvc.lab.example", ("PC-A$", "PC-B$"), 2)


def test_case_variants_are_the_same_spn() -> None:
    result = run_scan(base_entries() + [computer("PC-A", "MSSQLSvc/SQL.lab.example:1433"),
                                        user("svc_sql", "mssqlsvc/sql.LAB.example:1433")])
    assert result.duplicates == 1
    assert result.duplicate_list[0].spn == "mssqlsvc/sql.lab.example:1433"
    assert result.duplicate_list[0].accounts == ("PC-A$", "svc_sql")


def test_alias_of_host_on_another_account_is_a_duplicate() -> None:
    # PC-A holds HOST/pc-a...; cifs/pc-a... on svc_files collides with it, http/... on svc_web too.
    result = run_scan(base_entries() + [computer("PC-A"), user("svc_files", "cifs/pc-a.lab.example"),
                                        user("svc_web", "HTTP/PC-A.lab.example")])
    assert result.duplicates == 2
    assert {(d.spn, d.accounts) for d in result.duplicate_list} == {
        ("cifs/pc-a.lab.example", ("PC-A$", "svc_files")),
        ("http/pc-a.lab.example", ("PC-A$", "svc_web")),
    }


def test_alias_on_the_same_account_or_between_two_aliases_is_not_a_duplicate() -> None:
    result = run_scan(
        base_entries()
        + [
            computer("PC-A", "cifs/pc-a.lab.example"),
            user("svc1", "cifs/shared.lab.example"),
            user("svc2", "http/shared.lab.example"),
        ]
    )
    assert result.duplicates == 0


def test_without_mappings_aliases_are_not_expanded() -> None:
    result = run_scan(base_entries() + [computer("PC-A"), user("svc_files", "cifs/pc-a.lab.example")],
                      mappings=SpnMappings())
    assert result.duplicates == 0


def test_duplicate_series_are_capped_most_held_first_but_the_count_is_exact(caplog: pytest.LogCaptureFixture) -> None:
    entries = base_entries()
    for i in range(5):
        entries += [user(f"a{i}", f"svc/dup{i}"), user(f"b{i}", f"svc/dup{i}")]
    entries.append(user("c0", "svc/dup3"))
    with caplog.at_level(logging.WARNING):
        result = run_scan(entries, limit=2)
    assert result.duplicates == 5
    assert [(d.spn, d.holders) for d in result.duplicate_list] == [("svc/dup3", 3), ("svc/dup0", 2)]
    assert "duplicate_series_limit" in caplog.text
    series = [s for s in spn_samples.series(DOMAIN, result) if s.metric is m.SPN_DUPLICATE_ACCOUNTS]
    assert [(s.labels, s.value) for s in series] == [((DOMAIN, "svc/dup3"), 3.0), ((DOMAIN, "svc/dup0"), 2.0)]
    text = "\n".join(f.message for f in spn_report.findings(result))
    assert "3 more duplicated SPNs not listed" in text


def test_limit_zero_exposes_only_the_count() -> None:
    result = run_scan(base_entries() + [user("a", "x/y"), user("b", "x/y")], limit=0)
    assert result.duplicates == 1 and result.duplicate_list == ()


# --- the index against a naive reference ------------------------------------------------------


def reference_duplicates(accounts: list[list[str]], mappings: SpnMappings) -> dict[str, set[int]]:
    """Straight from the definition: a present SPN is duplicated when more than one account has a value
    whose equivalent keys contain it."""
    def keys(value: str) -> frozenset[str]:
        try:
            return equivalent_keys(parse_spn(value), mappings)
        except DecodeError:
            return frozenset({value.lower()})

    present = {v.lower() for values in accounts for v in values}
    out: dict[str, set[int]] = {}
    for key in present:
        holders = {i for i, values in enumerate(accounts) for v in values if key in keys(v)}
        if len(holders) > 1:
            out[key] = holders
    return out


classes = st.sampled_from(["HOST", "host", "cifs", "CIFS", "http", "ldap", "MSSQLSvc", "alerter", "gc", ""])
hosts = st.sampled_from(["a", "A", "b.lab.example", "B.LAB.example", "c", ""])
suffixes = st.sampled_from(["", ":1433", ":inst", "/lab.example", "/LAB", ":1433/x", "/x/y", ":"])
spn_values = st.builds(lambda c, h, s: f"{c}/{h}{s}", classes, hosts, suffixes) | st.sampled_from(
    ["noslash", "a/b/c/d", " /x"]
)


@settings(max_examples=400, deadline=None)
@given(accounts=st.lists(st.lists(spn_values, max_size=5, unique_by=str.lower), min_size=1, max_size=6))
def test_index_matches_the_naive_reference(accounts: list[list[str]]) -> None:
    index = spn.SpnIndex(MAPPINGS)
    for i, values in enumerate(accounts):
        account = index.add_account(f"acct{i}")
        assert account == i
        for v in values:
            index.add(account, v)
    got = {key: set(holders) for key, holders in index.duplicates()}
    assert got == reference_duplicates(accounts, MAPPINGS)
    assert index.values == sum(len(v) for v in accounts)
    # holders() of any present value agrees with the reference too.
    for values in accounts:
        for v in values:
            expected = {i for i, vals in enumerate(accounts) for w in vals
                        if v.lower() in (_keys(w))}
            assert set(index.holders(v)) == expected


def _keys(value: str) -> frozenset[str]:
    try:
        return equivalent_keys(parse_spn(value), MAPPINGS)
    except DecodeError:
        return frozenset({value.lower()})


# --- expected SPNs -------------------------------------------------------------------------------


def test_domain_controller_spns_are_expected_automatically() -> None:
    result = run_scan(base_entries())
    got = {(e.spn, e.account, e.source) for e in result.expected}
    assert got == {
        ("host/dc1.lab.example", "DC1$", "domain_controller"),
        ("ldap/dc1.lab.example", "DC1$", "domain_controller"),
        (f"e3514235-4b06-11d1-ab04-00c04fc2dcd2/{DC1_GUID}/lab.example", "DC1$", "domain_controller"),
        ("gc/dc1.lab.example/lab.example", "DC1$", "domain_controller"),
        ("host/dc2.lab.example", "DC2$", "domain_controller"),
        ("ldap/dc2.lab.example", "DC2$", "domain_controller"),
        (f"e3514235-4b06-11d1-ab04-00c04fc2dcd2/{DC2_GUID}/lab.example", "DC2$", "domain_controller"),
    }
    assert run_scan(base_entries(), with_dcs=False).expected == ()


def test_missing_replication_spn_on_a_dc_is_reported_with_the_fix() -> None:
    entries = base_entries()
    values = [v for v in dc_spns("DC2", DC2_GUID, gc=False) if not v.startswith("E3514235")]
    entries[1] = entry(entries[1].dn, "DC2$", values, uac=0x82000, dns=f"dc2.{DOMAIN}")
    result = run_scan(entries)
    drs = next(e for e in result.expected if e.spn.startswith("e3514235") and e.account == "DC2$")
    assert (drs.holders, drs.on_account, drs.domain_controller) == (0, False, f"dc2.{DOMAIN}")
    finding = next(f for f in spn_report.findings(result) if f.subject == drs.spn)
    # Registered in its usual spelling; the label and the subject are lower case.
    assert finding.fix == f"setspn -S E3514235-4B06-11D1-AB04-00C04FC2DCD2/{DC2_GUID}/{DOMAIN} DC2$"


def test_configured_expected_spns() -> None:
    expected = (
        ExpectedSpn("MSSQLSvc/sql.lab.example:1433", "svc_sql"),  # present, right account
        ExpectedSpn("http/web.lab.example", "svc_web"),  # nobody holds it
        ExpectedSpn("HTTP/app.lab.example", "svc_app"),  # on the wrong account
        ExpectedSpn("cifs/fs01.lab.example", "FS01$"),  # served through HOST/fs01 on FS01$
        ExpectedSpn("HOST/fs01", "LAB\\fs01"),  # domain prefix and no $ in the configuration
    )
    entries = base_entries() + [
        user("svc_sql", "MSSQLSvc/sql.lab.example:1433"), user("svc_other", "http/app.lab.example"), computer("FS01"),
    ]
    result = run_scan(entries, expected=expected)
    by_spn = {e.spn: e for e in result.expected if e.source == "config"}
    assert [(e.holders, e.on_account) for e in by_spn.values()] == [
        (1, True),
        (0, False),
        (1, False),
        (1, True),
        (1, True),
    ]
    assert by_spn["http/app.lab.example"].holder_names == ("svc_other",)
    labels = {s.labels for s in spn_samples.series(DOMAIN, result) if s.metric is m.SPN_EXPECTED_ON_ACCOUNT}
    assert (DOMAIN, "http/app.lab.example", "svc_app") in labels  # account label as written
    fixes = {f.subject: f.fix for f in spn_report.findings(result)}
    assert fixes["http/web.lab.example"] == "setspn -S http/web.lab.example svc_web"
    assert (
        fixes["http/app.lab.example"]
        == "setspn -D http/app.lab.example svc_other; setspn -S HTTP/app.lab.example svc_app"
    )


def test_expected_spn_also_held_elsewhere_is_a_finding() -> None:
    expected = (ExpectedSpn("http/web.lab.example", "svc_web"),)
    result = run_scan(
        base_entries() + [user("svc_web", "http/web.lab.example"), user("old_web", "HTTP/web.lab.example")],
        expected=expected,
    )
    e = next(e for e in result.expected if e.source == "config")
    assert (e.holders, e.on_account) == (2, True)
    fixes = [f.fix for f in spn_report.findings(result) if f.subject == "http/web.lab.example"]
    assert "setspn -D http/web.lab.example old_web" in fixes


@pytest.mark.parametrize(
    ("configured", "name", "match"),
    [("svc_sql", "svc_sql", True), ("SVC_SQL", "svc_sql", True), ("LAB\\svc_sql", "svc_sql", True),
     ("FS01", "FS01$", True), ("FS01$", "fs01$", True), ("FS01$", "FS01", False), ("svc", "svc_sql", False)],
)
def test_account_matching(configured: str, name: str, match: bool) -> None:
    assert spn.account_matches(configured, name) is match


# --- HOST/<dNSHostName> and malformed values ------------------------------------------------------


def test_enabled_computers_without_their_host_spn_are_counted() -> None:
    entries = base_entries() + [
        computer("PC-OK"),
        computer("PC-NOHOST", f"RestrictedKrbHost/pc-nohost.{DOMAIN}", host_spn=False),
        computer("PC-NOSPN", host_spn=False),  # no SPN at all: found through objectCategory
        computer("PC-OFF", host_spn=False, uac=4096 | 2),  # disabled: not counted
        entry(
            f"CN=gmsa,CN=Managed Service Accounts,{DOMAIN_DN}",
            "gmsa$",
            [],
            dns=f"gmsa.{DOMAIN}",
            category=GMSA_CATEGORY,
        ),
        entry(f"CN=PC-NODNS,CN=Computers,{DOMAIN_DN}", "PC-NODNS$", []),  # no dNSHostName: nothing to expect
        entry(
            f"CN=PC-CASE,CN=Computers,{DOMAIN_DN}", "PC-CASE$", ["host/PC-CASE.LAB.EXAMPLE"], dns=f"pc-case.{DOMAIN}."
        ),
    ]
    result = run_scan(entries)
    assert result.host_missing == 2
    # Every entry is read, but only SPN holders (and DCs) take room in the index.
    assert result.scanned == len(entries)
    assert result.accounts == len(entries) - 4  # PC-NOSPN, PC-OFF, gmsa$ and PC-NODNS hold no SPN
    assert {h.account for h in result.host_missing_list} == {"PC-NOHOST$", "PC-NOSPN$"}
    fixes = {f.subject: f.fix for f in spn_report.findings(result)}
    assert fixes["PC-NOHOST$"] == f"setspn -S HOST/pc-nohost.{DOMAIN} PC-NOHOST"
    off = run_scan(entries, host_rule=False)
    assert off.host_missing is None
    assert m.SPN_HOST_MISSING not in {s.metric for s in spn_samples.series(DOMAIN, off)}


def test_malformed_values_are_counted_logged_and_still_compared(caplog: pytest.LogCaptureFixture) -> None:
    bad = ["noslash", "HOST/", "a/b/c/d", "/x"]
    with caplog.at_level(logging.WARNING):
        result = run_scan(base_entries() + [user("svc_bad", *bad), user("svc_bad2", "NOSLASH")])
    assert result.malformed == 5
    assert result.values == 7 + 6 + 5
    logged = [(r.getMessage(), getattr(r, "value", None), getattr(r, "account", None)) for r in caplog.records]
    assert ("malformed SPN value", "a/b/c/d", f"CN=svc_bad,CN=Users,{DOMAIN_DN}") in logged
    # AD's uniqueness rule applies to them too: noslash on two accounts is a duplicate.
    assert [d.spn for d in result.duplicate_list] == ["noslash"]
    messages = [f.message for f in spn_report.findings(result) if f.subject == "svc_bad"]
    assert any("'HOST/'" in msg and "empty host" in msg for msg in messages)


def test_many_malformed_values_are_logged_once_in_summary(caplog: pytest.LogCaptureFixture) -> None:
    entries = base_entries() + [user(f"u{i}", f"bad{i}") for i in range(60)]
    with caplog.at_level(logging.WARNING):
        result = run_scan(entries)
    assert result.malformed == 60
    assert len(result.malformed_list) == spn.EXAMPLES_LIMIT
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("malformed SPN value") == 10
    assert messages.count("more malformed SPN values not logged one by one") == 1


def test_accounts_of_other_domains_are_named_with_their_domain() -> None:
    other = entry("CN=svc,CN=Users,DC=child,DC=lab,DC=example", "svc", ["http/x.child.lab.example"], uac=512,
                  category=USER_CATEGORY)
    result = run_scan(base_entries() + [other, user("svc", "HTTP/x.child.lab.example")])
    assert result.duplicate_list[0].accounts == ("child.lab.example\\svc", "svc")
    fix = next(f.fix for f in spn_report.findings(result) if f.subject == "http/x.child.lab.example")
    assert fix is not None and "setspn -D http/x.child.lab.example svc" in fix


def test_samples_use_the_catalogue_label_order() -> None:
    result = run_scan(base_entries() + [user("a", "x/y"), user("b", "x/y")])
    got = {(s.metric.name, s.labels): s.value for s in spn_samples.series(DOMAIN, result)}
    assert got[("ad_spn_values", (DOMAIN,))] == 15
    assert got[("ad_spn_duplicates", (DOMAIN,))] == 1
    assert got[("ad_spn_duplicate_accounts", (DOMAIN, "x/y"))] == 2
    assert got[("ad_spn_malformed_values", (DOMAIN,))] == 0
    assert got[("ad_spn_host_missing_accounts", (DOMAIN,))] == 0
    assert got[("ad_spn_expected_holders", (DOMAIN, "host/dc1.lab.example", "DC1$"))] == 1
    assert got[("ad_spn_expected_on_account", (DOMAIN, "gc/dc1.lab.example/lab.example", "DC1$"))] == 1


# --- run(): which DC, which port ------------------------------------------------------------------


# The domains of the forest are the crossRef objects of domain NCs under CN=Partitions.
DOMAINS_SEARCH = "(&(objectClass=crossRef)(systemFlags:1.2.840.113556.1.4.803:=2))"
MAPPINGS_DN = f"CN=Directory Service,CN=Windows NT,CN=Services,{CONFIG_DN}"


def directory_of(
    entries: list[Entry], domains: tuple[str, ...] = ("LAB",), broken: tuple[str, ...] = ()
) -> FakeDirectory:
    """Every DC holds ``entries``, the forest's ``domains`` and the HOST aliases; the scan fails on ``broken`` DCs."""
    partitions = [Entry(f"CN={d},CN=Partitions,{CONFIG_DN}", {}) for d in domains]
    mappings = {MAPPINGS_DN: Entry(MAPPINGS_DN, {"spnmappings": [b"host=cifs,http"]})}

    def answers(host: str) -> dict[str, list[Entry] | LdapError]:
        if host in broken:
            return {DOMAINS_SEARCH: partitions, spn.SCAN_FILTER: LdapError(host, "search failed: connection lost")}
        return {DOMAINS_SEARCH: partitions}

    return FakeDirectory({h: FakeDc(entries, answers(h), mappings) for h in INVENTORY.hosts})


def spn_context(directory: FakeDirectory, inventory: Inventory | None = INVENTORY) -> CheckContext[SpnSettings]:
    return context(SpnSettings(), directory, inventory=inventory)


def test_run_scans_the_domain_partition_with_only_the_needed_attributes() -> None:
    directory = directory_of(base_entries() + [computer("PC-A"), user("svc", "cifs/pc-a.lab.example")])
    result = spn_read.run(spn_context(directory))
    assert result.read_from == f"dc1.{DOMAIN}" and result.scope == "domain" and result.duplicates == 1
    scan_call = directory.searches[-1]
    assert (scan_call.port, scan_call.base, scan_call.filter_, scan_call.attributes) == (
        None, DOMAIN_DN, spn.SCAN_FILTER, spn.SCAN_ATTRIBUTES)


def test_run_uses_the_global_catalog_when_the_forest_has_several_domains() -> None:
    directory = directory_of(base_entries(), domains=("LAB", "CHILD"))
    result = spn_read.run(spn_context(directory))
    assert result.scope == "forest"
    last = directory.searches[-1]
    assert (last.host, last.port, last.base) == (f"dc1.{DOMAIN}", 3269, "")


def test_run_skips_dcs_that_are_not_global_catalogs_in_a_multi_domain_forest() -> None:
    directory = directory_of(base_entries(), domains=("LAB", "CHILD"), broken=(f"dc1.{DOMAIN}",))
    with pytest.raises(CheckError, match="dc1.lab.example: search failed"):
        spn_read.run(spn_context(directory))  # dc2 is no GC, so nothing is left to try
    assert all(s.host != f"dc2.{DOMAIN}" or s.port != 3269 for s in directory.searches)


def test_run_fails_over_to_the_next_dc() -> None:
    directory = directory_of(base_entries(), broken=(f"dc1.{DOMAIN}",))
    assert spn_read.run(spn_context(directory)).read_from == f"dc2.{DOMAIN}"


def test_run_without_inventory_cannot_run() -> None:
    with pytest.raises(CheckError, match="inventory"):
        spn_read.run(spn_context(directory_of([]), inventory=None))

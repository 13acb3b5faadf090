"""SPN check against the live lab: the standing duplicate, duplicates made across a partition (case variant and
HOST alias), expected SPNs (configured and the DCs' own), computers without HOST/<dNSHostName>, and the report."""

from __future__ import annotations

import re
import secrets
from typing import TypedDict

import pytest

from adlab import ldif
from support.exporter import run_cli, start_exporter, stop_exporter
from support.lab import TEST_INTERVAL_SECONDS, exporter_config

SPN_INTERVAL = TEST_INTERVAL_SECONDS["spn"]
# One interval, one scan, and a scrape's slack.
SETTLE = SPN_INTERVAL * 2 + 20
UF_ACCOUNTDISABLE = 0x2


# --- what Samba itself says ----------------------------------------------------------------------


def ldbsearch(lab, dc: str, base: str, expression: str, *attrs: str, scope: str = "sub") -> list[dict]:
    out = lab.run(dc, ["ldbsearch", "-H", str(lab.cfg.sam_ldb(dc)), "-s", scope, "-b", base, expression, *attrs])
    assert out.returncode == 0, out.stderr
    return ldif.parse(out.stdout)


def ldbmodify(lab, dc: str, text: str) -> None:
    out = lab.run(dc, ["ldbmodify", "-H", str(lab.cfg.sam_ldb(dc))], input=text)
    assert out.returncode == 0, f"ldbmodify on {dc} failed: {out.stdout}{out.stderr}"


class SpnTruth(TypedDict):
    values: int
    duplicates: dict[str, set[str]]  # SPN (lower case) -> the accounts holding it or an alias of it
    host_missing: list[str]


def spn_truth(lab) -> SpnTruth:
    """SPN facts computed from dc1's own database with a deliberately naive method."""
    info = lab.info
    entries = ldbsearch(lab, "dc1", info.domain_dn, "(|(servicePrincipalName=*)(objectCategory=computer))",
                        "servicePrincipalName", "sAMAccountName", "userAccountControl", "dNSHostName", "objectCategory")
    mappings = ldbsearch(lab, "dc1", f"CN=Directory Service,CN=Windows NT,CN=Services,{info.configuration_dn}",
                         "(objectClass=*)", "sPNMappings", scope="base")
    aliases: dict[str, str] = {}
    for value in mappings[0].get("spnmappings", []):
        canonical, _, names = str(value).partition("=")
        aliases.update({a.strip().lower(): canonical.strip().lower() for a in names.split(",") if a.strip()})
    held: dict[str, set[str]] = {}
    values = 0
    host_missing: list[str] = []
    for e in entries:
        sam = ldif.first(e, "sAMAccountName")
        assert sam is not None, e
        spns = [str(v) for v in e.get("serviceprincipalname", [])]
        values += len(spns)
        for v in spns:
            held.setdefault(v.lower(), set()).add(sam)
        uac = int(ldif.first(e, "userAccountControl") or 0)
        dns = ldif.first(e, "dNSHostName")
        category = (ldif.first(e, "objectCategory") or "").lower()
        if category.startswith("cn=computer,") and dns and not uac & UF_ACCOUNTDISABLE:
            if f"host/{dns}".lower() not in {v.lower() for v in spns}:
                host_missing.append(sam)
    duplicates: dict[str, set[str]] = {}
    for key, accounts in held.items():
        cls, _, rest = key.partition("/")
        everyone = set(accounts) | (held.get(f"{aliases[cls]}/{rest}", set()) if cls in aliases else set())
        if len(everyone) > 1:
            duplicates[key] = everyone
    return {"values": values, "duplicates": duplicates, "host_missing": host_missing}


# --- helpers --------------------------------------------------------------------------------------


def scraped_duplicates(scrape) -> dict[str, float]:
    return {labels["spn"]: value for labels, value in scrape.get("ad_spn_duplicate_accounts", [])}


def only(scrape, name: str, **labels: str) -> float | None:
    found = [v for lbl, v in scrape.get(name, []) if all(lbl.get(k) == x for k, x in labels.items())]
    assert len(found) <= 1, f"{name}{labels}: {found}"
    return found[0] if found else None


def add_user(lab, name: str) -> str:
    dn = f"CN={name},CN=Users,{lab.info.domain_dn}"
    text = ldif_add(dn, [("objectClass", "user"), ("sAMAccountName", name), ("userAccountControl", "514"),
                         ("description", "spn integration test account")])
    out = lab.run("dc1", ["ldbadd", "-H", str(lab.cfg.sam_ldb("dc1"))], input=text)
    assert out.returncode == 0, out.stdout + out.stderr
    return dn


def ldif_add(dn: str, attrs: list[tuple[str, str]]) -> str:
    return "\n".join([f"dn: {dn}", "changetype: add", *(f"{a}: {v}" for a, v in attrs)]) + "\n\n"


def add_spn(lab, dc: str, dn: str, spn: str) -> None:
    ldbmodify(lab, dc, f"dn: {dn}\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: {spn}\n-\n\n")


def delete(lab, dn: str) -> None:
    lab.run("dc1", ["ldbdel", "-H", str(lab.cfg.sam_ldb("dc1")), dn])


# --- tests ------------------------------------------------------------------------------------------


def test_standing_duplicate_and_counts_match_samba(lab, exporter) -> None:
    info = lab.info
    dup = info.faults.duplicate_spn
    assert dup is not None
    truth = spn_truth(lab)
    assert set(truth["duplicates"][dup.spn.lower()]) == set(dup.accounts)

    def settled(scrape):
        return only(scrape, "ad_spn_values", domain=info.domain) == truth["values"] and scrape

    scrape = exporter.wait_for(settled, SETTLE, "ad_spn_values to equal the SPN values in dc1's database")
    assert scraped_duplicates(scrape) == {k: float(len(v)) for k, v in truth["duplicates"].items()}
    assert only(scrape, "ad_spn_duplicate_accounts", spn=dup.spn.lower()) == 2.0
    assert only(scrape, "ad_spn_duplicates", domain=info.domain) == len(truth["duplicates"])
    assert only(scrape, "ad_spn_malformed_values", domain=info.domain) == 0
    assert only(scrape, "ad_check_success", check="spn") == 1


def test_computers_without_their_host_spn(lab, exporter) -> None:
    info = lab.info
    truth = spn_truth(lab)
    nohost = info.faults.computers["missing_host_spn"].sam_account_name
    assert nohost in truth["host_missing"]
    exporter.wait_for(
        lambda s: only(s, "ad_spn_host_missing_accounts", domain=info.domain) == len(truth["host_missing"]),
        SETTLE, "ad_spn_host_missing_accounts to equal Samba's count",
    )


def test_case_variant_and_alias_duplicates_made_across_a_partition(lab, exporter) -> None:
    """Samba refuses a duplicate it can see, so each half is written on one side of a partition, as it
    happens in production when two admins register the same SPN on two DCs before they replicate."""
    info = lab.info
    tag = secrets.token_hex(3)
    case_spn = (f"http/CaseDup-{tag}.{info.domain}", f"HTTP/casedup-{tag}.{info.domain.upper()}")
    alias_spn = (f"HOST/aliasdup-{tag}.{info.domain}", f"cifs/aliasdup-{tag}.{info.domain}")
    names = (f"spn-a-{tag}", f"spn-b-{tag}")
    before = exporter.wait_for(lambda s: only(s, "ad_spn_duplicates", domain=info.domain) is not None and s,
                               SETTLE, "a first spn scan")
    baseline = only(before, "ad_spn_duplicates", domain=info.domain)
    assert baseline is not None
    dns: list[str] = []
    try:
        dns = [add_user(lab, n) for n in names]
        lab.replicate("dc2", "dc1")
        lab.cut_link("dc2")
        try:
            add_spn(lab, "dc1", dns[0], case_spn[0])
            add_spn(lab, "dc1", dns[0], alias_spn[0])
            add_spn(lab, "dc2", dns[1], case_spn[1])
            add_spn(lab, "dc2", dns[1], alias_spn[1])
        finally:
            lab.heal_link("dc2")
        lab.replicate("dc1", "dc2")
        lab.replicate("dc2", "dc1")
        held = {str(v) for e in ldbsearch(lab, "dc1", dns[1], "(objectClass=*)", "servicePrincipalName", scope="base")
                for v in e.get("serviceprincipalname", [])}
        assert {case_spn[1], alias_spn[1]} <= held, f"dc1 did not receive dc2's half: {held}"

        case_key, alias_key = case_spn[0].lower(), alias_spn[1].lower()

        def both_found(scrape):
            dups = scraped_duplicates(scrape)
            return dups.get(case_key) == 2 and dups.get(alias_key) == 2 and scrape

        scrape = exporter.wait_for(both_found, SETTLE, f"{case_key} and {alias_key} reported with 2 accounts")
        assert only(scrape, "ad_spn_duplicates", domain=info.domain) == baseline + 2
        # HOST/aliasdup itself is held once; only the alias collides with it.
        assert alias_spn[0].lower() not in scraped_duplicates(scrape)

        report = run_cli("check", "--config.file", str(exporter.config_path))
        out = report.stdout
        assert report.returncode == 1, out + report.stderr
        line = next(line for line in out.splitlines() if f"{case_key}: held by 2 accounts" in line)
        assert names[0] in line and names[1] in line
        assert f"setspn -D {case_key} {names[1]}" in out
        assert f"setspn -D {alias_key} {names[1]}" in out
    finally:
        lab.heal_link("dc2")
        for dn in dns:
            delete(lab, dn)
        lab.replicate("dc2", "dc1")
    exporter.wait_for(lambda s: only(s, "ad_spn_duplicates", domain=info.domain) == baseline, SETTLE,
                      "the made duplicates to disappear after clean-up")


@pytest.fixture(scope="module")
def expecting_exporter(lab, tmp_path_factory):
    """A second exporter whose configuration expects SPNs: one nobody holds, one on the wrong account, one right."""
    info = lab.info
    healthy = info.faults.computers["healthy"]
    other = info.faults.computers["disabled"]
    tag = secrets.token_hex(3)
    expected = [
        {"spn": f"http/nowhere-{tag}.{info.domain}", "account": "svc_nowhere"},
        {"spn": f"HOST/{healthy.dns_host_name}", "account": other.sam_account_name},
        {"spn": f"HOST/{healthy.dns_host_name}", "account": healthy.sam_account_name},
        {"spn": f"cifs/{healthy.dns_host_name}", "account": healthy.name},  # served through HOST/, no $ given
    ]
    work = tmp_path_factory.mktemp("spn-exporter")
    running = start_exporter(
        exporter_config(info, work / "config.yml", spn={"expected": expected}), work / "exporter.log"
    )
    try:
        yield running, expected
    finally:
        stop_exporter(running)


def test_configured_expected_spns(lab, expecting_exporter) -> None:
    running, expected = expecting_exporter
    info = lab.info

    def ready(scrape):
        return len([1 for lbl, _ in scrape.get("ad_spn_expected_holders", []) if lbl["account"] in
                    {e["account"] for e in expected}]) == len(expected) and scrape

    scrape = running.wait_for(ready, SETTLE, "the configured expected SPNs")
    got = {(lbl["spn"], lbl["account"]): v for lbl, v in scrape["ad_spn_expected_holders"]}
    on = {(lbl["spn"], lbl["account"]): v for lbl, v in scrape["ad_spn_expected_on_account"]}
    missing, wrong, right, alias = [(e["spn"].lower(), e["account"]) for e in expected]
    assert (got[missing], on[missing]) == (0, 0)
    assert (got[wrong], on[wrong]) == (1, 0)
    assert (got[right], on[right]) == (1, 1)
    assert (got[alias], on[alias]) == (1, 1)

    report = run_cli("check", "--config.file", str(running.config_path))
    out = report.stdout
    assert f"setspn -S {missing[0]} svc_nowhere" in out
    healthy = info.faults.computers["healthy"].sam_account_name
    assert re.search(rf"{re.escape(wrong[0])}: expected on {re.escape(wrong[1])} .* held by {re.escape(healthy)}", out)
    assert f"setspn -D {wrong[0]} {healthy}; setspn -S {expected[1]['spn']} {wrong[1]}" in out


def test_domain_controller_spns_are_expected_automatically(lab, exporter) -> None:
    info = lab.info

    def ready(scrape):
        return len(scrape.get("ad_spn_expected_on_account", [])) >= 3 * len(info.dcs) and scrape

    scrape = exporter.wait_for(ready, SETTLE, "the DCs' expected SPNs")
    gc_hosts = {lbl["domain_controller"] for lbl, _ in scrape.get("ad_domain_controller_info", [])
                if lbl["global_catalog"] == "true"}
    on = {(lbl["spn"], lbl["account"]): v for lbl, v in scrape["ad_spn_expected_on_account"]}
    holders = {(lbl["spn"], lbl["account"]): v for lbl, v in scrape["ad_spn_expected_holders"]}
    for dc in info.dcs.values():
        wanted = [f"host/{dc.fqdn}", f"ldap/{dc.fqdn}",
                  f"e3514235-4b06-11d1-ab04-00c04fc2dcd2/{dc.dsa_guid}/{info.domain}".lower()]
        if dc.fqdn in gc_hosts:
            wanted.append(f"gc/{dc.fqdn}/{info.domain}")
        for spn in wanted:
            key = (spn, dc.sam_account_name)
            assert on.get(key) == 1 and holders.get(key) == 1, (
                f"{key}: on_account {on.get(key)}, holders {holders.get(key)}"
            )


def test_malformed_values_are_counted_logged_and_reported(lab, exporter) -> None:
    """Samba accepts an empty host, class or port; the scan counts them, logs them and carries on."""
    info = lab.info
    tag = secrets.token_hex(3)
    bad = ["HOST/", f"/malformed-{tag}", f"HOST/malformed-{tag}:"]
    name = f"spn-bad-{tag}"
    scrape = exporter.wait_for(lambda s: only(s, "ad_spn_malformed_values", domain=info.domain) is not None and s,
                               SETTLE, "a first spn scan")
    baseline = only(scrape, "ad_spn_malformed_values", domain=info.domain)
    assert baseline is not None
    dn = None
    try:
        dn = add_user(lab, name)
        for value in bad:
            add_spn(lab, "dc1", dn, value)
        exporter.wait_for(lambda s: only(s, "ad_spn_malformed_values", domain=info.domain) == baseline + len(bad),
                          SETTLE, f"{len(bad)} more malformed SPN values")
        assert exporter.value("ad_check_success", check="spn") == 1
        assert f"value=/malformed-{tag}" in exporter.log()
        out = run_cli("check", "--config.file", str(exporter.config_path)).stdout
        assert f"WARN  {name}: malformed SPN '/malformed-{tag}': '/malformed-{tag}' has an empty service class" in out
        assert f'setspn -D "HOST/malformed-{tag}:" {name}' in out
    finally:
        if dn:
            delete(lab, dn)
        lab.replicate("dc2", "dc1")
    exporter.wait_for(lambda s: only(s, "ad_spn_malformed_values", domain=info.domain) == baseline, SETTLE,
                      "the malformed values to disappear after clean-up")

"""Locator check against the live lab: every DC's LDAP ping, the roles it advertises, a DC whose KDC
is off while its LDAP answers, and a stopped DC."""

from __future__ import annotations

import re

from adlab import Lab
from support.exporter import RunningExporter, Scrape, run_cli, samples
from support.lab import TEST_INTERVAL_SECONDS, wait_replication_healthy

INTERVAL = TEST_INTERVAL_SECONDS["locator"]
WAIT = 6 * INTERVAL + 30  # a few runs, and a restart of samba
# What every lab DC advertises: both are writable global catalogs with a KDC and a time service.
EVERY_DC = {"gc": 1, "kdc": 1, "timeserv": 1, "good_timeserv": 1, "writable": 1, "rodc": 0, "ldap": 1, "ds": 1}


def advertised(scrape: Scrape, host: str) -> dict[str, float]:
    found = samples(scrape, "ad_domain_controller_advertised", domain_controller=host)
    return {labels["role"]: v for labels, v in found}


def value(scrape: Scrape, name: str, host: str) -> float | None:
    found = samples(scrape, name, domain_controller=host)
    return found[0][1] if found else None


def locator_report(exporter: RunningExporter) -> str:
    """The locator section of the ``check`` report, up to the next check's or the summary."""
    out = run_cli("check", "--config.file", str(exporter.config_path)).stdout
    section = re.search(r"^  locator \.+.*?(?=^  \S+ \.+ |^Summary:|\Z)", out, re.M | re.S)
    assert section, out
    return section.group(0)


def test_every_dc_answers_with_the_lab_s_roles(lab: Lab, exporter: RunningExporter) -> None:
    info = lab.info
    dc1, dc2 = info.dcs["dc1"].fqdn, info.dcs["dc2"].fqdn
    scrape = exporter.wait_for(lambda s: s if all(len(advertised(s, h)) == 9 for h in (dc1, dc2)) else None,
                               WAIT, "the roles of both DCs")
    assert advertised(scrape, dc1) == {**EVERY_DC, "pdc": 1}
    assert advertised(scrape, dc2) == {**EVERY_DC, "pdc": 0}
    for host in (dc1, dc2):
        assert value(scrape, "ad_domain_controller_ldap_ping_success", host) == 1
        rtt = value(scrape, "ad_domain_controller_ldap_ping_rtt_seconds", host)
        assert rtt is not None and 0 < rtt < 1
        (labels,) = [lbl for lbl, _ in samples(scrape, "ad_domain_controller_ldap_ping_info", domain_controller=host)]
        # Each DC's own site, and the site it gives the exporter's address (the lab bridge's).
        assert (labels["site"], labels["client_site"]) == (info.site, info.site)
    assert samples(scrape, "ad_check_success", check="locator")[0][1] == 1

    report = locator_report(exporter)
    assert "passed" in report.splitlines()[0], report
    assert re.search(rf"^\s+{re.escape(dc1)}\s+{re.escape(info.dcs['dc1'].ip)}\s+[\d.]+ ms\s+{info.site}\s+"
                     r"x\s+x\s+x\s+x\s+x\s+x\s+-\s+x\s+x$", report, re.M), report
    assert f"this exporter's address {info.bridge_ip} is in site {info.site}" in report
    assert "ERROR" not in report and "WARN" not in report, report


def test_kdc_stopped_on_dc2_is_not_advertised_while_ldap_answers(lab: Lab, exporter: RunningExporter) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    exporter.wait_for(lambda s: advertised(s, dc2).get("kdc") == 1, WAIT, "dc2 advertising its KDC")
    lab.stop_kdc("dc2")
    try:
        scrape = exporter.wait_for(
            lambda s: s if (advertised(s, dc2).get("kdc") == 0
                            and value(s, "ad_domain_controller_ldap_ping_success", dc2) == 1
                            and value(s, "ad_domain_controller_up", dc2) == 1) else None,
            WAIT, "dc2 answering LDAP and the LDAP ping without advertising a KDC",
        )
        assert advertised(scrape, dc2) == {**EVERY_DC, "pdc": 0, "kdc": 0}
        assert advertised(scrape, dc1)["kdc"] == 1
        report = locator_report(exporter)
        assert f"ERROR {dc2}: answers the LDAP ping but does not advertise a KDC" in report, report
        assert f"Get-Service kdc -ComputerName {dc2}" in report
        assert dc1 not in "".join(line for line in report.splitlines() if "ERROR" in line)
    finally:
        lab.start_kdc("dc2")
    exporter.wait_for(lambda s: advertised(s, dc2).get("kdc") == 1, WAIT, "dc2 advertising its KDC again")
    wait_replication_healthy(lab, exporter, pull_after=30)


def test_stopped_dc_does_not_answer(lab: Lab, exporter: RunningExporter) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    exporter.wait_for(lambda s: value(s, "ad_domain_controller_ldap_ping_success", dc2) == 1, WAIT, "dc2 answering")
    lab.stop_dc("dc2")
    try:
        scrape = exporter.wait_for(
            lambda s: s if value(s, "ad_domain_controller_ldap_ping_success", dc2) == 0 else None,
            WAIT, "dc2 not answering the LDAP ping",
        )
        # No roles for a DC that says nothing; dc1 answers on, and the check still runs.
        assert advertised(scrape, dc2) == {}
        assert value(scrape, "ad_domain_controller_ldap_ping_rtt_seconds", dc2) is None
        assert advertised(scrape, dc1)["pdc"] == 1
        assert samples(scrape, "ad_domain_controller_check_success", domain_controller=dc2, check="locator")[0][1] == 0
        assert samples(scrape, "ad_check_success", check="locator")[0][1] == 1
        assert re.search(rf"ERROR {re.escape(dc2)}: does not answer the LDAP ping \(UDP 389\): .*refused",
                         locator_report(exporter))
    finally:
        lab.start_dc("dc2")
    exporter.wait_for(lambda s: value(s, "ad_domain_controller_ldap_ping_success", dc2) == 1, WAIT, "dc2 back")
    wait_replication_healthy(lab, exporter, pull_after=30)

"""Replication check against the live lab: healthy links, a stopped DC, a skewed DC, and recovery."""

from __future__ import annotations

import re
import time
from pathlib import Path

from support.exporter import run_cli
from support.lab import TEST_INTERVAL_SECONDS, wait_replication_healthy
from support.lab import replication_links as links

EXPORTER_INTERVAL = TEST_INTERVAL_SECONDS["replication"]


def samba_repl_interval(lab) -> float:
    """How often the lab's DCs pull from their partners (dreplsrv:periodic_interval, Samba default 300 s)."""
    text = Path(lab.info.dcs["dc1"].smb_conf).read_text()
    m = re.search(r"^\s*dreplsrv:periodic_interval\s*=\s*(\d+)", text, re.M)
    return float(m.group(1)) if m else 300.0


def test_healthy_links_of_both_dcs(lab, exporter) -> None:
    info = lab.info
    wait_replication_healthy(lab, exporter, 120)
    scrape = exporter.scrape()
    for name, dc in info.dcs.items():
        partner = next(d.fqdn for n, d in info.dcs.items() if n != name)
        found = links(scrape, dc.fqdn)
        assert set(found) == {(nc, partner) for nc in info.naming_contexts}
        for values in found.values():
            assert values["success"] > 0 and values["attempt"] >= values["success"]
        assert exporter.value("ad_domain_controller_check_success", domain_controller=dc.fqdn, check="replication") == 1
    assert exporter.value("ad_check_success", check="replication") == 1


def test_stopped_dc_shows_failing_links_on_its_partner_and_recovers(lab, exporter) -> None:
    info = lab.info
    dc1, dc2 = info.dcs["dc1"].fqdn, info.dcs["dc2"].fqdn
    wait_replication_healthy(lab, exporter, 120)
    interval = samba_repl_interval(lab)

    def failing(scrape):
        found = links(scrape, dc1)
        from_dc2 = {nc: v for (nc, src), v in found.items() if src == dc2}
        if set(from_dc2) != set(info.naming_contexts):
            return None
        if all(v["failures"] > 0 and v["result"] != 0 and v["attempt"] > v["success"] for v in from_dc2.values()):
            return from_dc2
        return None

    lab.stop_dc("dc2")
    try:
        stopped = time.monotonic()
        seen = exporter.wait_for(
            failing, 2 * interval + EXPORTER_INTERVAL + 10, "dc1's links from dc2 failing", interval=0.5
        )
        print(
            f"every NC from dc2 failing on dc1 after {time.monotonic() - stopped:.1f}s "
            f"(dreplsrv interval {interval:g}s): {sorted((nc, v['failures'], v['result']) for nc, v in seen.items())}"
        )
        # The stopped DC fails only its own part.
        exporter.wait_for(
            lambda s: (
                exporter.value("ad_domain_controller_check_success", domain_controller=dc2, check="replication") == 0
            ),
            EXPORTER_INTERVAL + 15,
            "dc2's replication part failing",
        )
        assert exporter.value("ad_domain_controller_check_success", domain_controller=dc1, check="replication") == 1
        assert exporter.value("ad_check_success", check="replication") == 1
        proc = run_cli("check", "--config.file", str(exporter.config_path))
        assert re.search(rf"{re.escape(dc1)}\s+\S+\s+5 / 5\s+100\s+\(\d+\) \w+", proc.stdout), proc.stdout
        assert f"repadmin /replicate {dc1} {dc2}" in proc.stdout
    finally:
        lab.start_dc("dc2")
    started = time.monotonic()
    wait_replication_healthy(lab, exporter, 4 * interval + 30)
    print(f"healthy again {time.monotonic() - started:.1f}s after the restart")


def test_skewed_dc_fails_its_inbound_replication(lab, exporter) -> None:
    info = lab.info
    dc1, dc2 = info.dcs["dc1"].fqdn, info.dcs["dc2"].fqdn
    wait_replication_healthy(lab, exporter, 120)
    interval = samba_repl_interval(lab)

    def failing(scrape):
        from_dc1 = {nc: v for (nc, src), v in links(scrape, dc2).items() if src == dc1}
        if set(from_dc1) == set(info.naming_contexts) and all(
            v["failures"] > 0 and v["result"] != 0 for v in from_dc1.values()
        ):
            return from_dc1
        return None

    lab.skew_clock("dc2", "+7m")
    try:
        skewed = time.monotonic()
        seen = exporter.wait_for(
            failing, 2 * interval + EXPORTER_INTERVAL + 30, "dc2's inbound links failing", interval=0.5
        )
        results = sorted({v["result"] for v in seen.values()})
        print(f"dc2 inbound failing after {time.monotonic() - skewed:.1f}s: {results}")
    finally:
        lab.unskew_clock("dc2")
    wait_replication_healthy(lab, exporter, 4 * interval + 30)


def test_check_report_is_a_replsummary(lab, exporter) -> None:
    wait_replication_healthy(lab, exporter, 120)
    proc = run_cli("check", "--config.file", str(exporter.config_path))
    out = proc.stdout
    assert re.search(r"replication \.+ passed", out), out
    assert re.search(r"Source DC\s+largest delta\s+fails/total", out) and re.search(
        r"Destination DC\s+largest delta", out
    )
    for dc in lab.info.dcs.values():
        rows = re.findall(rf"^\s+{re.escape(dc.fqdn)}\s+(\d\dh:\d\dm:\d\ds)\s+0 / (\d+)\s+0$", out, re.M)
        assert len(rows) == 2, out  # once as a source, once as a destination
        assert all(int(total) == len(lab.info.naming_contexts) for _, total in rows)

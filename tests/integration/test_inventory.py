"""Inventory against the live two-DC lab: DCs, sites, roles, and up/down when a DC stops."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from pathlib import Path

from support.exporter import run_cli
from support.lab import TEST_INTERVAL_SECONDS

INVENTORY_INTERVAL = TEST_INTERVAL_SECONDS["inventory"]


def samba_truth(lab) -> dict[str, dict[str, object]]:
    """What Samba itself says of each DC, read with ldbsearch on DC1's local database."""
    info = lab.info
    sam_ldb = str(lab.cfg.sam_ldb("dc1"))
    out = lab.run("dc1", ["ldbsearch", "-H", sam_ldb, "-b", info.configuration_dn,
                          "(objectClass=nTDSDSA)", "options", "msDS-isRODC"])
    assert out.returncode == 0, out.stderr
    truth: dict[str, dict[str, object]] = {}
    for block in out.stdout.split("\n\n"):
        m = re.search(r"^dn: CN=NTDS Settings,CN=([^,]+),CN=Servers,CN=([^,]+),CN=Sites", block, re.M | re.I)
        if not m:
            continue
        options = re.search(r"^options: (\d+)", block, re.M)
        rodc = re.search(r"^msDS-isRODC: (\w+)", block, re.M)
        truth[m.group(1).lower()] = {
            "site": m.group(2),
            "gc": bool(int(options.group(1)) & 1) if options else False,
            "rodc": bool(rodc and rodc.group(1).upper() == "TRUE"),
        }
    fsmo = lab.run("dc1", ["samba-tool", "fsmo", "show", "-H", sam_ldb])
    assert fsmo.returncode == 0, fsmo.stderr
    pdc = re.search(r"PdcEmulationMasterRole owner: CN=NTDS Settings,CN=([^,]+),", fsmo.stdout)
    assert pdc, fsmo.stdout
    for name, facts in truth.items():
        facts["pdc"] = name == pdc.group(1).lower()
    return truth


def test_inventory_matches_samba(lab, exporter) -> None:
    info = lab.info
    truth = samba_truth(lab)
    assert len(truth) == 2

    def found(scrape):
        rows = [labels for labels, value in scrape.get("ad_domain_controller_info", []) if value == 1]
        return rows if len(rows) == 2 else None

    rows = exporter.wait_for(found, 60, "two DCs in ad_domain_controller_info")
    by_host = {r["domain_controller"]: r for r in rows}
    for name, facts in truth.items():
        host = f"{name}.{info.domain}"
        row = by_host[host]
        assert row["domain"] == info.domain
        assert row["site"] == facts["site"]
        assert row["global_catalog"] == str(facts["gc"]).lower()
        assert row["read_only"] == str(facts["rodc"]).lower()
        assert row["pdc"] == str(facts["pdc"]).lower()
    assert sum(r["pdc"] == "true" for r in rows) == 1
    for host in by_host:
        assert exporter.value("ad_domain_controller_up", domain_controller=host) == 1.0
    assert exporter.value("ad_check_success", check="inventory") == 1.0


def test_dc_down_and_back(lab, exporter) -> None:
    host = lab.info.dcs["dc2"].fqdn
    exporter.wait_for(lambda s: exporter.value("ad_domain_controller_up", domain_controller=host) == 1.0, 60, "dc2 up")

    # Scrape continuously while the DC is down: the exporter must keep answering.
    failures: list[str] = []
    stop = threading.Event()

    def keep_scraping() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(exporter.url + "/metrics", timeout=5) as r:
                    if r.status != 200:
                        failures.append(f"status {r.status}")
            except Exception as exc:  # noqa: BLE001 - whatever makes a scrape fail is what this test counts
                failures.append(repr(exc))
            time.sleep(0.5)

    scraper = threading.Thread(target=keep_scraping, daemon=True)
    scraper.start()
    lab.stop_dc("dc2")
    try:
        stopped = time.monotonic()
        # One interval, plus one run's own duration (connect timeouts) and a scrape's slack.
        exporter.wait_for(
            lambda s: exporter.value("ad_domain_controller_up", domain_controller=host) == 0.0,
            INVENTORY_INTERVAL + 10, "dc2 up to drop to 0", interval=0.5,
        )
        took = time.monotonic() - stopped
        assert exporter.value("ad_domain_controller_up", domain_controller=lab.info.dcs["dc1"].fqdn) == 1.0
        assert exporter.value("ad_check_success", check="inventory") == 1.0  # DC1 still serves the topology
        print(f"dc2 seen down after {took:.1f}s")
    finally:
        lab.start_dc("dc2")
    exporter.wait_for(
        lambda s: exporter.value("ad_domain_controller_up", domain_controller=host) == 1.0,
        INVENTORY_INTERVAL + 20, "dc2 back up",
    )
    stop.set()
    scraper.join(10)
    assert failures == []


def test_check_command_report(lab, exporter) -> None:
    proc = run_cli("check", "--config.file", str(exporter.config_path))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    out = proc.stdout
    assert f"Domain {lab.info.domain}" in out
    assert re.search(r"inventory \.+ passed", out)
    for dc in lab.info.dcs.values():
        assert re.search(rf"{re.escape(dc.fqdn)}\s+site \S+", out), out
    assert "Summary:" in out
    password = Path(lab.info.monitor_password_file).read_text().strip()
    assert password not in out + proc.stderr

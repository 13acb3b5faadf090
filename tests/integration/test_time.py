"""Time check against the live lab: both sources agree with the DCs' real (and faked) clocks."""

from __future__ import annotations

import re
import time

from support.exporter import run_cli
from support.lab import wait_replication_healthy

TOLERANCE = 2.0  # the LDAP source has whole seconds: ±(RTT/2 + 0.5 s)


def offsets(scrape, host: str) -> dict[str, float]:
    """source -> offset, for the probes of that DC that answered."""
    ok = {
        labels["source"]
        for labels, value in scrape.get("ad_domain_controller_time_probe_success", [])
        if labels["domain_controller"] == host and value == 1
    }
    return {
        labels["source"]: value
        for labels, value in scrape.get("ad_domain_controller_time_offset_seconds", [])
        if labels["domain_controller"] == host and labels["source"] in ok
    }


def near(scrape, host: str, expected: float) -> dict[str, float] | None:
    found = offsets(scrape, host)
    if set(found) == {"ntp", "ldap"} and all(abs(v - expected) <= TOLERANCE for v in found.values()):
        return found
    return None


def wait_in_sync(exporter, lab, timeout: float = 90) -> None:
    for dc in lab.info.dcs.values():
        exporter.wait_for(lambda s, h=dc.fqdn: near(s, h, 0.0), timeout, f"{dc.fqdn} back in time")


def test_clocks_in_sync_on_both_sources(lab, exporter) -> None:
    wait_in_sync(exporter, lab)
    scrape = exporter.scrape()
    for dc in lab.info.dcs.values():
        assert exporter.value("ad_domain_controller_ntp_leap", domain_controller=dc.fqdn) == 0
        stratum = exporter.value("ad_domain_controller_ntp_stratum", domain_controller=dc.fqdn)
        assert stratum is not None and 0 < stratum < 16
        for source in ("ntp", "ldap"):
            rtt = exporter.value(
                "ad_domain_controller_time_probe_rtt_seconds", domain_controller=dc.fqdn, source=source
            )
            assert rtt is not None and 0 <= rtt < 1
        assert exporter.value("ad_domain_controller_check_success", domain_controller=dc.fqdn, check="time") == 1
    assert len(offsets(scrape, lab.info.dcs["dc1"].fqdn)) == 2
    assert exporter.value("ad_check_success", check="time") == 1


def test_skewed_dc_is_seen_by_both_sources_and_recovers(lab, exporter) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    wait_in_sync(exporter, lab)
    lab.skew_clock("dc2", "+7m")
    try:
        skewed_at = time.monotonic()
        seen = exporter.wait_for(lambda s: near(s, dc2, 420.0), 60, "dc2 +420 s on ntp and ldap")
        print(f"dc2 seen at +420 s after {time.monotonic() - skewed_at:.1f}s: {seen}")
        assert near(exporter.scrape(), dc1, 0.0), "dc1 must stay in time"
        proc = run_cli("check", "--config.file", str(exporter.config_path))
        assert re.search(rf"ERROR {re.escape(dc2)}: clock is \+4[12]\d\.\d s off", proc.stdout), proc.stdout
        assert f"w32tm /resync /computer:{dc2} /rediscover" in proc.stdout
    finally:
        lab.unskew_clock("dc2")
    unskewed_at = time.monotonic()
    exporter.wait_for(lambda s: near(s, dc2, 0.0), 60, "dc2 back to ~0 s on both sources")
    print(f"dc2 back in time after {time.monotonic() - unskewed_at:.1f}s")
    # Leave the lab as found: the restart's first syncs may fail, so pull until replication heals.
    wait_replication_healthy(lab, exporter, 120, pull_after=0, settle=5)


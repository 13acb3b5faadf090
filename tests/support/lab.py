"""The Samba lab as the integration tests use it: whether it can run here, the exporter
configuration for it with short check intervals, and the waits that leave it as found."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lab_config
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.base import Check
from adlab import Lab, LabInfo
from adlab.errors import LabError

from .exporter import RunningExporter, Scrape

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LAB_NAME = os.environ.get("AD_TEST_LAB_NAME", "adtest")
LAB_SUBNET = os.environ.get("AD_TEST_LAB_SUBNET", "10.99.8.0/24")


def _short_interval(check: Check[Any, Any]) -> float:
    """About 1/45 of the check's own interval, at least 5 s (and never above its own): a state change
    in the lab shows within seconds, without the slow scans running back to back."""
    return min(check.interval, max(5.0, check.interval / 45))


TEST_INTERVAL_SECONDS: dict[str, float] = {c.name: float(round(_short_interval(c))) for c in CHECKS}
TEST_INTERVALS: dict[str, str] = {name: f"{seconds:.0f}s" for name, seconds in TEST_INTERVAL_SECONDS.items()}


def lab_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "the Samba AD lab needs root (network namespaces)"
    for tool in ("samba", "samba-tool", "ip"):
        if not any((Path(d) / tool).exists() for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
            return f"{tool} is not installed (run make deps)"
    return None


def exporter_config(info: LabInfo, path: Path, **overrides: Any) -> Path:
    """The lab's exporter configuration at the test intervals; ``overrides`` replace domain keys."""
    written: Path = lab_config.write(info, path, TEST_INTERVALS, **overrides)
    return written


# --- replication ---------------------------------------------------------------------------


def replication_links(scrape: Scrape, host: str) -> dict[tuple[str, str], dict[str, float]]:
    """(naming_context, source) -> {failures, result, success, attempt} for the DC's inbound links."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for name, key in (
        ("ad_replication_consecutive_failures", "failures"),
        ("ad_replication_last_result", "result"),
        ("ad_replication_last_success_timestamp_seconds", "success"),
        ("ad_replication_last_attempt_timestamp_seconds", "attempt"),
    ):
        for labels, value in scrape.get(name, []):
            if labels["domain_controller"] == host:
                out.setdefault((labels["naming_context"], labels["source"]), {})[key] = value
    return out


def replication_healthy(scrape: Scrape, info: LabInfo) -> bool:
    """Every DC has an inbound link in every naming context, and each last succeeded."""
    for dc in info.dcs.values():
        found = replication_links(scrape, dc.fqdn)
        if {nc for nc, _ in found} != set(info.naming_contexts):
            return False
        if any(v.get("failures") != 0 or v.get("result") != 0 for v in found.values()):
            return False
    return True


def pull_replication(lab: Lab) -> None:
    """Every DC pulls every naming context from every other DC, now."""
    for dst in lab.info.dcs:
        for src in lab.info.dcs:
            if src != dst:
                try:
                    lab.replicate(dst, src)
                except LabError:
                    pass  # a partner's first syncs after a restart may still fail: the caller waits on


def wait_replication_healthy(
    lab: Lab, exporter: RunningExporter, timeout: float = 120, *, pull_after: float | None = None, settle: float = 60
) -> None:
    """Wait until the exporter shows replication healthy on every DC.

    Samba retries a failed link only every dreplsrv interval, so once ``pull_after`` seconds have
    passed (never, by default) every pair is pulled by hand on each poll; if ``timeout`` passes
    too, they are pulled once more and the exporter gets ``settle`` seconds to show it.
    """
    started = time.monotonic()
    deadline = started + timeout
    poll = TEST_INTERVAL_SECONDS["replication"]
    while time.monotonic() < deadline:
        if replication_healthy(exporter.scrape(), lab.info):
            return
        if pull_after is not None and time.monotonic() - started >= pull_after:
            pull_replication(lab)
        time.sleep(poll)
    pull_replication(lab)
    exporter.wait_for(lambda s: replication_healthy(s, lab.info), settle, "replication healthy on every DC")

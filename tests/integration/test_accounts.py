"""Accounts check against the live lab: machine password ages, the disabled computer, watched computers that
exist or not, the DCs' accounts, krbtgt, and the report."""

from __future__ import annotations

import re
import secrets
import time
from typing import TypedDict

import pytest

from adlab import ldif
from support.exporter import run_cli, start_exporter, stop_exporter
from support.lab import TEST_INTERVAL_SECONDS, exporter_config

ACCOUNTS_INTERVAL = TEST_INTERVAL_SECONDS["accounts"]
SETTLE = ACCOUNTS_INTERVAL * 2 + 20
EPOCH_DELTA = 11_644_473_600
DAY = 86400
# Thresholds away from the lab's 90- and 200-day passwords, so a few minutes of test time cannot move them.
THRESHOLDS = [30, 60, 120, 300]


def filetime_to_unix(value: int) -> float:
    return value / 10_000_000 - EPOCH_DELTA


class ComputerTruth(TypedDict):
    sam: str | None
    enabled: bool
    pwd: float | None  # pwdLastSet as Unix time; None when never set


def computers_truth(lab) -> list[ComputerTruth]:
    """Every computer account as dc1's own database holds it."""
    out = lab.run("dc1", ["ldbsearch", "-H", str(lab.cfg.sam_ldb("dc1")), "-b", lab.info.domain_dn,
                          "(objectCategory=computer)", "sAMAccountName", "userAccountControl", "pwdLastSet"])
    assert out.returncode == 0, out.stderr
    rows: list[ComputerTruth] = []
    for e in ldif.parse(out.stdout):
        pwd = int(ldif.first(e, "pwdLastSet") or 0)
        rows.append({
            "sam": ldif.first(e, "sAMAccountName"),
            "enabled": not int(ldif.first(e, "userAccountControl") or 0) & 2,
            "pwd": filetime_to_unix(pwd) if pwd else None,
        })
    return rows


def stale_truth(rows, days: int, now: float) -> set[str]:
    cutoff = now - days * DAY
    return {r["sam"] for r in rows if r["enabled"] and (r["pwd"] is None or r["pwd"] < cutoff)}


def label(sam: str) -> str:
    return sam.rstrip("$").upper()


@pytest.fixture(scope="module")
def watching_exporter(lab, tmp_path_factory):
    info = lab.info
    comps = info.faults.computers
    absent = f"NOSUCH-{secrets.token_hex(3).upper()}"
    watched = [comps[r].sam_account_name for r in ("password_90d", "password_200d", "healthy", "disabled")] + [absent]
    work = tmp_path_factory.mktemp("accounts-exporter")
    cfg = exporter_config(info, work / "config.yml",
                          accounts={"watched_computers": watched, "password_age_days": THRESHOLDS})
    running = start_exporter(cfg, work / "exporter.log")
    try:
        yield running, absent
    finally:
        stop_exporter(running)


def series(scrape, name: str, key: str) -> dict[str, float]:
    return {labels[key]: value for labels, value in scrape.get(name, [])}


def test_password_ages_fall_in_the_right_thresholds(lab, watching_exporter) -> None:
    running, _ = watching_exporter
    comps = lab.info.faults.computers
    scrape = running.wait_for(lambda s: len(s.get("ad_computer_password_stale_accounts", [])) == len(THRESHOLDS) and s,
                              SETTLE, "the stale-password series")
    now = time.time()
    rows = computers_truth(lab)
    stale = series(scrape, "ad_computer_password_stale_accounts", "older_than_days")
    for days in THRESHOLDS:
        assert stale[str(days)] == len(stale_truth(rows, days, now)), f"older than {days} days"
    pwd90, pwd200, healthy = (comps[r].sam_account_name for r in ("password_90d", "password_200d", "healthy"))
    # The truth the counts were compared with puts each machine where its age says.
    assert {pwd90, pwd200} <= stale_truth(rows, 60, now)
    assert pwd90 not in stale_truth(rows, 120, now) and pwd200 in stale_truth(rows, 120, now)
    assert pwd200 not in stale_truth(rows, 300, now)
    assert healthy not in stale_truth(rows, 30, now)
    # And the exporter's own per-computer timestamps agree with Samba's to the second.
    stamps = series(scrape, "ad_computer_password_last_set_timestamp_seconds", "computer")
    by_sam = {r["sam"]: r for r in rows}
    for sam, age in ((pwd90, 90), (pwd200, 200), (healthy, 0)):
        assert stamps[label(sam)] == pytest.approx(by_sam[sam]["pwd"], abs=1)
        assert (now - stamps[label(sam)]) / DAY == pytest.approx(age, abs=0.5)


def test_disabled_and_absent_watched_computers(lab, watching_exporter) -> None:
    running, absent = watching_exporter
    disabled = label(lab.info.faults.computers["disabled"].sam_account_name)
    scrape = running.wait_for(lambda s: absent in series(s, "ad_computer_account_present", "computer") and s,
                              SETTLE, "the watched computers")
    present = series(scrape, "ad_computer_account_present", "computer")
    enabled = series(scrape, "ad_computer_account_enabled", "computer")
    assert (present[disabled], enabled[disabled]) == (1, 0)
    assert (present[absent], enabled[absent]) == (0, 0)
    assert absent not in series(scrape, "ad_computer_password_last_set_timestamp_seconds", "computer")
    healthy = label(lab.info.faults.computers["healthy"].sam_account_name)
    assert (present[healthy], enabled[healthy]) == (1, 1)

    report = run_cli("check", "--config.file", str(running.config_path))
    out = report.stdout
    assert report.returncode == 1, out + report.stderr
    assert re.search(rf"ERROR {absent}: watched computer account {absent}\$ does not exist", out), out
    assert f"Enable-ADAccount -Identity '{disabled}$'" in out
    pwd200 = label(lab.info.faults.computers["password_200d"].sam_account_name)
    assert re.search(rf"WARN  {pwd200}: .*machine password set 200 days ago", out), out
    assert f"on {pwd200}: Reset-ComputerMachinePassword -Server " in out


def test_counts_and_domain_controllers_in_the_default_configuration(lab, exporter) -> None:
    info = lab.info
    scrape = exporter.wait_for(lambda s: s.get("ad_computer_accounts") and s, SETTLE, "ad_computer_accounts")
    rows = computers_truth(lab)
    counts = series(scrape, "ad_computer_accounts", "enabled")
    assert counts == {"true": sum(r["enabled"] for r in rows), "false": sum(not r["enabled"] for r in rows)}
    assert set(series(scrape, "ad_computer_password_stale_accounts", "older_than_days")) == {"45", "90", "180"}
    present = series(scrape, "ad_computer_account_present", "computer")
    enabled = series(scrape, "ad_computer_account_enabled", "computer")
    stamps = series(scrape, "ad_computer_password_last_set_timestamp_seconds", "computer")
    by_sam = {r["sam"]: r for r in rows}
    for dc in info.dcs.values():
        name = label(dc.sam_account_name)
        assert (present.get(name), enabled.get(name)) == (1, 1), name
        assert stamps[name] == pytest.approx(by_sam[dc.sam_account_name]["pwd"], abs=60)


def test_krbtgt_timestamp_matches_samba(lab, exporter) -> None:
    info = lab.info
    out = lab.run("dc1", ["ldbsearch", "-H", str(lab.cfg.sam_ldb("dc1")), "-s", "base", "-b",
                          f"CN=krbtgt,CN=Users,{info.domain_dn}", "pwdLastSet"])
    assert out.returncode == 0, out.stderr
    pwd_last_set = ldif.first(ldif.parse(out.stdout)[0], "pwdLastSet")
    assert pwd_last_set is not None, out.stdout
    truth = filetime_to_unix(int(pwd_last_set))
    value = exporter.wait_for(lambda s: exporter.value("ad_krbtgt_password_last_set_timestamp_seconds",
                                                       domain=info.domain), SETTLE, "the krbtgt timestamp")
    assert abs(value - truth) < 60
    assert exporter.value("ad_check_success", check="accounts") == 1

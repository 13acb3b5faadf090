"""Keys check against the live lab: every DC holds the same keys while replication works; with dc2's
inbound replication off and a computer's password reset on dc1, the exporter names the account, dc1
with the new key version and dc2 with the old one, and both heal once replication is back on."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adlab import Lab
from support.exporter import RunningExporter, Scrape, run_cli, samples, start_exporter
from support.lab import TEST_INTERVAL_SECONDS, exporter_config, wait_replication_healthy


def samba_repl_interval(lab: Lab) -> float:
    """How often the lab's DCs pull from their partners (dreplsrv:periodic_interval, Samba default 300 s)."""
    text = Path(lab.info.dcs["dc1"].smb_conf).read_text()
    m = re.search(r"^\s*dreplsrv:periodic_interval\s*=\s*(\d+)", text, re.M)
    return float(m.group(1)) if m else 300.0


@pytest.fixture(scope="module")
def watching(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExporter]:
    """An exporter that also watches the lab's healthy computer, so its key is compared one by one."""
    work = tmp_path_factory.mktemp("keys-exporter")
    healthy = lab.info.faults.computers["healthy"].name
    running = start_exporter(exporter_config(lab.info, work / "config.yml",
                                             accounts={"watched_computers": [healthy]}), work / "exporter.log")
    try:
        yield running
    finally:
        running.stop()


def per_dc(scrape: Scrape, metric: str, account: str) -> dict[str, float]:
    return {lbl["domain_controller"]: v for lbl, v in samples(scrape, metric, account=account)}


def divergent(scrape: Scrape, account: str) -> float | None:
    found = samples(scrape, "ad_account_key_divergent", account=account)
    return found[0][1] if found else None


def count(scrape: Scrape) -> float | None:
    found = samples(scrape, "ad_computer_password_divergent_accounts")
    return found[0][1] if found else None


def disabled(scrape: Scrape, host: str, direction: str) -> float | None:
    found = samples(scrape, "ad_domain_controller_replication_disabled", domain_controller=host, direction=direction)
    return found[0][1] if found else None


def all_agree(scrape: Scrape, accounts: list[str], hosts: list[str]) -> bool:
    return (all(divergent(scrape, a) == 0 for a in accounts) and count(scrape) == 0
            and all(disabled(scrape, h, d) == 0 for h in hosts for d in ("inbound", "outbound")))


def test_healthy_lab_every_dc_holds_the_same_keys(lab: Lab, watching: RunningExporter) -> None:
    info = lab.info
    hosts = [d.fqdn for d in info.dcs.values()]
    healthy = info.faults.computers["healthy"].sam_account_name
    accounts = [d.sam_account_name for d in info.dcs.values()] + ["krbtgt", healthy]
    scrape = watching.wait_for(lambda s: s if all_agree(s, accounts, hosts) else None, 90,
                               "every account's key alike on both DCs, no divergence, replication on")
    for account in accounts:
        kvnos = per_dc(scrape, "ad_account_key_version", account)
        pwds = per_dc(scrape, "ad_account_password_last_set_timestamp_seconds", account)
        assert set(kvnos) == set(hosts) and len(set(kvnos.values())) == 1 and min(kvnos.values()) >= 1, (account, kvnos)
        assert set(pwds) == set(hosts) and len(set(pwds.values())) == 1, (account, pwds)
    # The lab's own view of the healthy computer's key, from each DC's database.
    assert per_dc(scrape, "ad_account_key_version", healthy) == {
        d.fqdn: float(lab.key_version(name, healthy)) for name, d in info.dcs.items()}
    for host in hosts:
        assert samples(scrape, "ad_domain_controller_check_success", domain_controller=host, check="keys")[0][1] == 1
    proc = run_cli("check", "--config.file", str(watching.config_path))
    keys_section = proc.stdout.split("  keys ", 1)[1].split("\n\n", 1)[0]
    assert "passed" in keys_section.splitlines()[0], proc.stdout
    assert not re.search(r"^\s+(ERROR|WARN )", keys_section, re.M), keys_section
    assert re.search(rf"^\s+{re.escape(healthy)}\s+(\d+)\s+\1\s+yes$", keys_section, re.M), keys_section


def test_old_key_on_a_dc_without_inbound_replication_is_named_and_heals(lab: Lab, watching: RunningExporter) -> None:
    info = lab.info
    dc1, dc2 = info.dcs["dc1"].fqdn, info.dcs["dc2"].fqdn
    healthy = info.faults.computers["healthy"]
    account = healthy.sam_account_name
    bound = TEST_INTERVAL_SECONDS["keys"] + samba_repl_interval(lab) + 10  # one check + one replication interval
    lab.disable_replication("dc2", "inbound")
    try:
        new = lab.reset_computer_password("dc1", healthy.name)
        old = lab.key_version("dc2", account)
        assert new > old, (new, old)
        started = time.monotonic()

        def seen(s: Scrape) -> Scrape | None:
            kvnos = per_dc(s, "ad_account_key_version", account)
            ok = (divergent(s, account) == 1 and kvnos == {dc1: new, dc2: old} and count(s) == 1
                  and disabled(s, dc2, "inbound") == 1 and disabled(s, dc1, "inbound") == 0)
            return s if ok else None

        scrape = watching.wait_for(seen, bound, f"{account} divergent: dc1 key version {new}, dc2 {old}")
        print(f"divergence seen after {time.monotonic() - started:.1f}s (bound {bound:.0f}s)")
        pwds = per_dc(scrape, "ad_account_password_last_set_timestamp_seconds", account)
        assert pwds[dc1] > pwds[dc2]
        assert all(divergent(scrape, a) == 0 for a in ("krbtgt", info.dcs["dc1"].sam_account_name))
        assert disabled(scrape, dc2, "outbound") == 0

        proc = run_cli("check", "--config.file", str(watching.config_path))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        line = next(ln for ln in proc.stdout.splitlines() if ln.strip().startswith(f"ERROR {account}:"))
        assert f"{dc1} key version {new}" in line and f"{dc2} key version {old}" in line, line
        assert f"Clients that ask {dc2} get tickets with the old key" in line, line
        assert f"repadmin /replsingleobj {dc2} {info.dcs['dc1'].dsa_guid} \"{healthy.dn}\"" in proc.stdout
        assert f"ERROR {dc2}: inbound replication is switched off" in proc.stdout
        assert f"repadmin /options {dc2} -DISABLE_INBOUND_REPL" in proc.stdout
        assert re.search(rf"WARN  {re.escape(info.domain)}: 1 enabled computer accounts have a password that "
                         rf"differs between DCs.*{re.escape(account)} set", proc.stdout), proc.stdout
    finally:
        lab.enable_replication("dc2", "inbound")
    healed_from = time.monotonic()
    hosts = [dc1, dc2]
    accounts = [d.sam_account_name for d in info.dcs.values()] + ["krbtgt", account]
    scrape = watching.wait_for(lambda s: s if all_agree(s, accounts, hosts) else None, bound + 30,
                               "the new key on both DCs and replication on again")
    print(f"healed after {time.monotonic() - healed_from:.1f}s")
    assert per_dc(scrape, "ad_account_key_version", account) == {dc1: new, dc2: new}
    # dc2's pulls failed while it refused them: leave the lab with its links clean.
    wait_replication_healthy(lab, watching, 60, pull_after=20)

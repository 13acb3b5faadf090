"""DNS check against the live lab's standing DNS faults: a stale extra A record, SRV records naming DCs
that no longer exist, the ghost link going down, and a dynamic record's aging timestamp."""

from __future__ import annotations

import re
import time

from support.exporter import run_cli, sample_values, samples
from support.lab import TEST_INTERVAL_SECONDS
from support.labdns import dynamic_dc_record

DNS_INTERVAL = TEST_INTERVAL_SECONDS["dns"]


def record_label(fqdn: str, info) -> str:
    return fqdn[: -len(info.domain) - 1]


def dns_servers(info) -> tuple[str, ...]:
    return tuple(dc.ip for dc in info.dcs.values())


def stale_seen(scrape, info):
    dc1, dc2 = info.dcs["dc1"].fqdn, info.dcs["dc2"].fqdn
    for server in dns_servers(info):
        if sample_values(scrape, "ad_dns_stale_addresses", domain_controller=dc1, dns_server=server) != [1]:
            return False
        if sample_values(scrape, "ad_dns_stale_addresses", domain_controller=dc2, dns_server=server) != [0]:
            return False
    return True


def test_stale_extra_a_record_and_unknown_srv_targets(lab, exporter) -> None:
    info = lab.info
    faults = info.faults
    dc1 = info.dcs["dc1"]
    assert faults.stale_dc_address.fqdn == dc1.fqdn
    exporter.wait_for(lambda s: stale_seen(s, info), 60, "dc1's extra A record stale, dc2's address fine")
    scrape = exporter.scrape()
    for server in dns_servers(info):
        addresses = sample_values(scrape, "ad_dns_domain_controller_addresses", domain_controller=dc1.fqdn,
                                  dns_server=server)
        assert addresses == [2]
        for dc in info.dcs.values():
            alias = sample_values(scrape, "ad_dns_dsa_alias_present", domain_controller=dc.fqdn, dns_server=server)
            assert alias == [1]
        # Every record the lab polluted lists exactly its ghost targets as unknown; no DC is missing anywhere.
        polluted: dict[str, set[str]] = {}
        for rec in faults.stale_srv:
            polluted.setdefault(record_label(rec.fqdn, info), set()).add(rec.target)
        for record, targets in polluted.items():
            unknown = sample_values(scrape, "ad_dns_srv_unknown_targets", record=record, dns_server=server)
            assert unknown == [len(targets)], record
        for labels, value in samples(scrape, "ad_dns_srv_unknown_targets", dns_server=server):
            if labels["record"] not in polluted:
                assert value == 0, labels
        assert all(v == 0 for _, v in samples(scrape, "ad_dns_srv_missing_domain_controllers", dns_server=server))
    for dc in info.dcs.values():
        assert exporter.value("ad_domain_controller_check_success", domain_controller=dc.fqdn, check="dns") == 1
    assert exporter.value("ad_check_success", check="dns") == 1
    # Samba's records are static: no aging timestamps.
    assert samples(scrape, "ad_dns_record_timestamp_seconds") == []

    proc = run_cli("check", "--config.file", str(exporter.config_path))
    stale_ip = faults.stale_dc_address.address
    refused = rf"ERROR {re.escape(dc1.fqdn)}: resolves to {re.escape(stale_ip)} .*connection refused"
    assert re.search(refused, proc.stdout), proc.stdout
    assert f"/recorddelete {info.domain} dc1 A {stale_ip} /f" in proc.stdout
    for rec in faults.stale_srv:
        gone = rf"ERROR {re.escape(rec.fqdn)}: lists {re.escape(rec.target)}:{rec.port}, which is no current DC"
        assert re.search(gone, proc.stdout)


def test_ghost_link_down_times_out_without_holding_back_the_rest(lab, exporter) -> None:
    info = lab.info
    exporter.wait_for(lambda s: stale_seen(s, info), 60, "baseline: dc1's extra A record stale")
    lab.cut_link("ghost")
    try:
        cut_at = time.time()

        def ran_since_cut(scrape):
            return [v for v in sample_values(scrape, "ad_check_last_success_timestamp_seconds", check="dns")
                    if v > cut_at + 0.5]

        exporter.wait_for(ran_since_cut, 2 * DNS_INTERVAL + 20, "a dns run with the ghost link down")
        scrape = exporter.scrape()
        assert stale_seen(scrape, info), "the unanswered address still counts as stale, dc2's address still does not"
        # The unanswered probe costs its own timeout (dns.probe_timeout 2 s: connect), not more, and the
        # checks that never go there are not slowed at all.
        (dns_duration,) = sample_values(scrape, "ad_check_duration_seconds", check="dns")
        assert dns_duration < 2 * 3 + 2, dns_duration
        for check in ("time", "replication", "inventory"):
            (duration,) = sample_values(scrape, "ad_check_duration_seconds", check=check)
            assert duration < 2, (check, duration)
        proc = run_cli("check", "--config.file", str(exporter.config_path))
        stale_ip = info.faults.stale_dc_address.address
        timed_out = rf"resolves to {re.escape(stale_ip)} .*\({re.escape(stale_ip)}:\d+: connection timed out\)"
        assert re.search(timed_out, proc.stdout), proc.stdout
        print(f"dns check with the ghost link down: {dns_duration:.2f}s")
    finally:
        lab.heal_link("ghost")


def test_dynamic_record_timestamp(lab, exporter) -> None:
    """Samba writes static records; make dc2's A record dynamic (20 days old) over LDAP, then put it back."""
    info = lab.info
    dc2 = info.dcs["dc2"]
    with dynamic_dc_record(info, "dc2", age_days=20) as want:
        exporter.wait_for(
            lambda s: samples(s, "ad_dns_record_timestamp_seconds", domain_controller=dc2.fqdn, address=dc2.ip) == [
                ({"domain": info.domain, "domain_controller": dc2.fqdn, "address": dc2.ip}, want)],
            2 * DNS_INTERVAL + 40, "dc2's dynamic record timestamp",
        )
        proc = run_cli("check", "--config.file", str(exporter.config_path))
        aged = rf"WARN  {re.escape(dc2.fqdn)}: its dynamic record {re.escape(dc2.ip)} .* 20 days ago"
        assert re.search(aged, proc.stdout), proc.stdout
    exporter.wait_for(lambda s: not samples(s, "ad_dns_record_timestamp_seconds"), 2 * DNS_INTERVAL + 40,
                      "static again")

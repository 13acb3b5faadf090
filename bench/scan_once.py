"""One timed spn + accounts scan by the exporter's own code, as the exporter would run it.

Run inside the lab's client namespace; prints one JSON line: wall seconds of the two checks,
entries and SPN values scanned, and the process's peak RSS before and after the scans.

    python bench/scan_once.py CONFIG.yml [--stock]

--stock swaps the pipelined paging for ldap3's own paged search loop (what the LDAP layer did
before), to show what the pipelining and the lean decoding are worth.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from ad_health_exporter import config
from ad_health_exporter.catalogue import BY_NAME, CHECKS
from ad_health_exporter.checks.base import CheckContext
from ad_health_exporter.config import DomainConfig
from ad_health_exporter.ldap import Directory
from ad_health_exporter.ldap import connection as ldap_connection
from ad_health_exporter.topology import Inventory


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stock_paged_search(conn, base, filter_, attributes, scope, page_size):
    """ldap3's paged search as shipped: the next page is requested after this one is decoded."""
    cookie = None
    while True:
        conn.search(base, filter_, scope, attributes=list(attributes) or ["1.1"], paged_size=page_size,
                    paged_cookie=cookie)
        for item in conn.response or ():
            if item.get("type") == "searchResEntry":
                yield item["dn"], {k.lower(): list(v) for k, v in item["raw_attributes"].items()}
        controls = (conn.result or {}).get("controls") or {}
        cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
        if not cookie:
            return


def run(name: str, domain: DomainConfig, directory: Directory, inventory: Inventory | None):
    check = BY_NAME[name]
    ctx = CheckContext(domain=domain, directory=directory, inventory=inventory, settings=domain.settings[name])
    return check.run(ctx)


def main() -> int:
    if "--stock" in sys.argv[2:]:
        ldap_connection.paged_search = stock_paged_search
    domain = config.load(sys.argv[1], CHECKS).domains[0]
    directory = Directory(domain)
    inventory = run("inventory", domain, directory, None)
    before = peak_rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    spn_result = run("spn", domain, directory, inventory)
    t1 = time.perf_counter()
    accounts_result = run("accounts", domain, directory, inventory)
    t2 = time.perf_counter()
    print(json.dumps({
        "spn_seconds": t1 - t0,
        "accounts_seconds": t2 - t1,
        "seconds": t2 - t0,
        "cpu_seconds": time.process_time() - cpu0,
        "spn_entries": spn_result.scanned,
        "spn_values": spn_result.values,
        "spn_duplicates": spn_result.duplicates,
        "computers": accounts_result.enabled + accounts_result.disabled,
        "read_from": [spn_result.read_from, accounts_result.read_from],
        "rss_mb_before_scans": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the exporter's spn + accounts scan against OpenLDAP's ldapsearch, on a lab grown to N computers.

    make bench                                  # 20 000 computers
    make bench BENCH_ARGS="--computers 100000"

Grows a dedicated lab instance (default name adbench, subnet 10.99.250.0/24) to N computer
accounts with 2-4 SPNs each, through Samba's local database on dc1 (see lab/adlab/bulk.py),
and caches the populated, stopped lab under /var/tmp/adlab-bench, keyed by N, so later runs
restore it in a minute instead of populating again. Then, in one run, it times the same two
searches both ways from the lab's client namespace against dc1 over LDAPS, same filter, same
attributes, same page size, interleaved round by round (the machine's speed drifts between
runs, so only ratios taken in one run compare):

- the exporter: spn.run + accounts.run (bench/scan_once.py, the exporter's own code);
- ldapsearch -E pr=<page>/noprompt for the spn check's search, then the accounts check's.

It prints the wall time of both, their ratio, entries per second and the exporter's peak RSS.
Needs root (network namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(ROOT / "exporter"))
sys.path.insert(0, str(ROOT / "scripts"))

import lab_config  # noqa: E402 - importable only once scripts/ is on sys.path (above)
from ad_health_exporter.checks.accounts import scan as accounts  # noqa: E402 - needs exporter/ on sys.path
from ad_health_exporter.checks.spn import index as spn  # noqa: E402 - needs exporter/ on sys.path
from adlab import Lab, bulk  # noqa: E402 - needs lab/ on sys.path


def exporter_config(info, dc: str, page_size: int) -> dict:
    """The lab's usual exporter configuration, against this DC only, with the bench's page size."""
    d = info.dcs[dc]
    return lab_config.exporter_config(info, domain_controllers=[d.fqdn], dns_servers=[d.ip],
                                      ldap={"page_size": page_size, "receive_timeout": "120s"})


def ldapsearch_argv(info, dc: str, page_size: int, base: str, filter_: str, attrs: tuple[str, ...]) -> list[str]:
    d = info.dcs[dc]
    return ["ip", "netns", "exec", info.client_netns, "ldapsearch", "-LLL", "-o", "ldif-wrap=no",
            "-o", "nettimeout=30", "-H", f"ldaps://{d.ip}", "-x", "-D", info.monitor.upn,
            "-y", info.monitor_password_file, "-E", f"pr={page_size}/noprompt", "-b", base, "-s", "sub",
            filter_, *attrs]


def run_ldapsearch(info, dc: str, page_size: int, out_dir: Path) -> dict:
    """Both searches, one after the other as the exporter does them; output kept to count entries."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"), "LDAPTLS_CACERT": info.ca_file,
           "LDAPTLS_REQCERT": "demand"}
    searches = (
        ("spn", spn.SCAN_FILTER, spn.SCAN_ATTRIBUTES),
        ("accounts", accounts.COMPUTER_FILTER, accounts.COMPUTER_ATTRIBUTES),
    )
    result: dict[str, float | int] = {}
    total = 0.0
    for name, filter_, attrs in searches:
        out = out_dir / f"ldapsearch-{name}.ldif"
        argv = ldapsearch_argv(info, dc, page_size, info.domain_dn, filter_, attrs)
        with out.open("wb") as fh:
            t0 = time.perf_counter()
            cp = subprocess.run(argv, stdout=fh, stderr=subprocess.PIPE, env=env)
            elapsed = time.perf_counter() - t0
        if cp.returncode != 0:
            raise SystemExit(f"ldapsearch failed ({cp.returncode}): {cp.stderr.decode(errors='replace')[-500:]}")
        total += elapsed
        with out.open("rb") as fh:
            result[f"{name}_entries"] = sum(1 for line in fh if line.startswith(b"dn: "))
        result[f"{name}_seconds"] = elapsed
    result["seconds"] = total
    return result


def run_exporter(info, config_path: Path, stock: bool = False) -> dict:
    argv = ["ip", "netns", "exec", info.client_netns, sys.executable, str(ROOT / "bench" / "scan_once.py"),
            str(config_path)] + (["--stock"] if stock else [])
    cp = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "exporter")})
    if cp.returncode != 0:
        raise SystemExit(f"exporter scan failed ({cp.returncode}): {cp.stderr[-2000:]}")
    return json.loads(cp.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--computers", type=int, default=20000, help="bench computer accounts (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per client (default %(default)s)")
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--lab-name", default=os.environ.get("BENCH_LAB_NAME", "adbench"))
    p.add_argument("--lab-subnet", default=os.environ.get("BENCH_LAB_SUBNET", "10.99.250.0/24"))
    p.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("BENCH_CACHE_DIR", bulk.DEFAULT_CACHE_DIR)))
    p.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards")
    p.add_argument("--compare-stock", action="store_true",
                   help="also time the same scan with ldap3's own paged search in each round")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (the lab uses network namespaces)", file=sys.stderr)
        return 1

    lab = Lab(name=args.lab_name, subnet=args.lab_subnet)
    dc = "dc1"
    try:
        started = time.monotonic()
        bulk.ensure(lab, args.computers, cache_dir=args.cache_dir, progress=lambda s: print(f"bench: {s}", flush=True),
                    log_path=args.cache_dir / f"{args.lab_name}-populate.log")
        prepared = time.monotonic() - started
        info = lab.info
        with tempfile.TemporaryDirectory(prefix="adbench-") as tmp:
            tmpdir = Path(tmp)
            config_path = tmpdir / "exporter.yml"
            config_path.write_text(yaml.safe_dump(exporter_config(info, dc, args.page_size), sort_keys=False))
            # One warm-up of each: the DC's caches and the page cache start equal for both clients.
            run_ldapsearch(info, dc, args.page_size, tmpdir)
            run_exporter(info, config_path)
            rounds = []
            stock: list[dict] = []
            for r in range(args.rounds):
                # Alternate who goes first, so a drift in machine speed does not favour one side.
                if r % 2 == 0:
                    ls = run_ldapsearch(info, dc, args.page_size, tmpdir)
                    ex = run_exporter(info, config_path)
                else:
                    ex = run_exporter(info, config_path)
                    ls = run_ldapsearch(info, dc, args.page_size, tmpdir)
                rounds.append((ls, ex))
                extra = ""
                if args.compare_stock:
                    st = run_exporter(info, config_path, stock=True)
                    stock.append(st)
                    extra = f", ldap3 stock paging {st['seconds']:.2f}s (ratio {st['seconds'] / ls['seconds']:.2f})"
                print(f"bench: round {r + 1}: ldapsearch {ls['seconds']:.2f}s, exporter {ex['seconds']:.2f}s "
                      f"(ratio {ex['seconds'] / ls['seconds']:.2f}){extra}, "
                      f"exporter peak RSS {ex['peak_rss_mb']:.0f} MB",
                      flush=True)
    finally:
        if not args.keep_lab:
            lab.down()

    ls_med = statistics.median(ls["seconds"] for ls, _ in rounds)
    ex_med = statistics.median(ex["seconds"] for _, ex in rounds)
    ls0, ex0 = rounds[0]
    entries = ls0["spn_entries"] + ls0["accounts_entries"]
    exporter_entries = ex0["spn_entries"] + ex0["computers"]
    if exporter_entries != entries:
        print(f"bench: WARNING: the exporter scanned {exporter_entries} entries, ldapsearch {entries}", flush=True)
    ratios = [ex["seconds"] / ls["seconds"] for ls, ex in rounds]
    figures = {
        "computers": args.computers,
        "entries_per_scan": entries,
        "spn_values": ex0["spn_values"],
        "page_size": args.page_size,
        "rounds": args.rounds,
        "ldapsearch_seconds_median": round(ls_med, 3),
        "exporter_seconds_median": round(ex_med, 3),
        "ratio_of_medians": round(ex_med / ls_med, 3),
        "ratio_per_round": [round(x, 3) for x in ratios],
        "ldapsearch_entries_per_second": round(entries / ls_med),
        "exporter_entries_per_second": round(entries / ex_med),
        "exporter_cpu_seconds_median": round(statistics.median(ex["cpu_seconds"] for _, ex in rounds), 3),
        "exporter_peak_rss_mb": max(ex["peak_rss_mb"] for _, ex in rounds),
        "exporter_rss_mb_before_scans": ex0["rss_mb_before_scans"],
        "lab_prepared_seconds": round(prepared),
        "per_round": [
            {"ldapsearch": {k: round(v, 3) for k, v in ls.items() if k.endswith("seconds")},
             "exporter": {k: round(v, 3) for k, v in ex.items() if k.endswith("seconds")}}
            for ls, ex in rounds
        ],
    }
    print()
    print(f"computers            {args.computers} ({entries} entries per scan: spn {ls0['spn_entries']}, "
          f"accounts {ls0['accounts_entries']}; {ex0['spn_values']} SPN values)")
    print(f"ldapsearch           {ls_med:.2f} s  ({entries / ls_med:,.0f} entries/s)   median of {args.rounds}")
    print(f"exporter             {ex_med:.2f} s  ({entries / ex_med:,.0f} entries/s)   "
          f"CPU {figures['exporter_cpu_seconds_median']:.2f} s")
    per_round = ", ".join(f"{x:.2f}" for x in ratios)
    print(f"ratio                {ex_med / ls_med:.2f}  (per round: {per_round}; target <= 1.5)")
    print(f"exporter peak RSS    {figures['exporter_peak_rss_mb']:.0f} MB  "
          f"({figures['exporter_rss_mb_before_scans']:.0f} MB before the scans; target <= 250 MB)")
    if stock:
        st_med = statistics.median(st["seconds"] for st in stock)
        figures["ldap3_stock_seconds_median"] = round(st_med, 3)
        figures["ldap3_stock_ratio_of_medians"] = round(st_med / ls_med, 3)
        figures["ldap3_stock_cpu_seconds_median"] = round(statistics.median(st["cpu_seconds"] for st in stock), 3)
        figures["ldap3_stock_peak_rss_mb"] = max(st["peak_rss_mb"] for st in stock)
        print(f"ldap3 stock paging   {st_med:.2f} s  (ratio {st_med / ls_med:.2f}; CPU "
              f"{figures['ldap3_stock_cpu_seconds_median']:.2f} s; "
              f"peak RSS {figures['ldap3_stock_peak_rss_mb']:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

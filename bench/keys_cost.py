"""What the keys check's domain-wide search costs each DC, against reading every computer.

    python bench/keys_cost.py --lab-name adbench [--rounds 3] [--newer 0,1000,5000]

Run on the host against a running lab grown with `labctl bulk N` (see docs/performance.md). For each DC,
in interleaved rounds (the first one a warm-up), it runs the exporter's own searches over LDAPS:

- a full scan, (objectCategory=computer), what a check that read every password would cost;
- the keys check's look-back search, (&(objectCategory=computer)(pwdLastSet>=cutoff)), with the cutoff
  placed so that 0, 1000, 5000 ... computers are newer (the bench accounts' pwdLastSet spreads over the
  time they were added).

and prints, per search and DC, the entries returned, the median wall time, and the median CPU time the
DC's processes spent (utime + stime of every process in its network namespace, from /proc): the cost to
the DC, which wall time on a busy machine hides. Needs root.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(ROOT / "exporter"))
sys.path.insert(0, str(ROOT / "scripts"))

# Importable only once lab/, exporter/ and scripts/ are on sys.path (above).
import lab_config  # noqa: E402
from ad_health_exporter import config  # noqa: E402
from ad_health_exporter.catalogue import CHECKS  # noqa: E402
from ad_health_exporter.checks.keys import read as keys_read  # noqa: E402
from ad_health_exporter.ldap import Directory  # noqa: E402
from adlab import Lab  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def namespace_cpu(netns: str) -> float:
    """CPU seconds used so far by the processes in a network namespace (children included)."""
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout.split()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def timed(directory: Directory, host: str, netns: str, base: str, filter_: str) -> tuple[int, float, float]:
    with directory.connect(host) as conn:
        cpu, started = namespace_cpu(netns), time.monotonic()
        entries = sum(1 for _ in conn.search(base, filter_, keys_read.RECENT_ATTRIBUTES))
        return entries, time.monotonic() - started, namespace_cpu(netns) - cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lab-name", default="adbench")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--newer", default="0,1000,5000", help="computers newer than each cutoff")
    args = p.parse_args()
    info = Lab.load(name=args.lab_name).info
    with tempfile.TemporaryDirectory() as work:
        domain = config.load(lab_config.write(info, Path(work) / "config.yml"), CHECKS).domains[0]
    directory = Directory(domain)
    dcs = {d.fqdn: d.netns for d in info.dcs.values()}
    with directory.connect(next(iter(dcs))) as conn:
        times = sorted(e.integer("pwdLastSet") or 0 for e in conn.search(
            info.domain_dn, "(objectCategory=computer)", ("pwdLastSet",)))
    searches = {"full scan": "(objectCategory=computer)"}
    for newer in (int(n) for n in args.newer.split(",")):
        cutoff = times[-newer] if 0 < newer <= len(times) else times[-1] + 1
        searches[f"look-back, {newer} newer"] = keys_read.recent_filter(cutoff)
    rows: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for round_ in range(args.rounds + 1):
        order = list(searches.items()) if round_ % 2 else list(reversed(searches.items()))
        for name, filter_ in order:
            for host, netns in dcs.items():
                measured = timed(directory, host, netns, info.domain_dn, filter_)
                if round_:  # round 0 warms the DCs' caches up
                    rows.setdefault((name, host), []).append(measured)
    print(json.dumps({"computers": len(times), "rounds": args.rounds}))
    for (name, host), measured in rows.items():
        print(json.dumps({
            "search": name, "dc": host, "entries": measured[0][0],
            "wall_median_s": round(statistics.median(m[1] for m in measured), 3),
            "dc_cpu_median_s": round(statistics.median(m[2] for m in measured), 3),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

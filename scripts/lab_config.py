"""Writes an exporter configuration for a running lab (used by the demo and the tests).

    python3 scripts/lab_config.py [--lab-name adlab] [--interval check=30s ...] OUTPUT.yml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))


def exporter_config(info, intervals: dict[str, str] | None = None, **overrides) -> dict:
    """The lab's DNS servers given explicitly, LDAPS with the lab CA, bound as the least-privilege monitor user."""
    dcs = info.dcs
    domain = {
        "name": info.domain,
        "domain_controllers": [dcs["dc1"].fqdn],
        "dns_servers": [dcs["dc1"].ip, dcs["dc2"].ip],
        "bind": {"user": info.monitor.upn, "password_file": str(info.monitor_password_file)},
        "tls": {"mode": "ldaps", "ca_file": str(info.ca_file)},
        "ldap": {"connect_timeout": "2s", "receive_timeout": "10s"},
    }
    if intervals:
        domain["intervals"] = dict(intervals)
    domain.update(overrides)
    return {"domains": [domain]}


def demo_overrides(info) -> dict:
    """What `make demo` watches besides the defaults, so every check has the lab's standing faults to show:
    the healthy and the 90-day-old computers (accounts, keys, and their HOST/ tickets at every KDC), the
    duplicated SPN and an SPN no account holds as expected SPNs (spn, and refused at every KDC)."""
    computers = info.faults.computers
    duplicate = info.faults.duplicate_spn
    return {
        "accounts": {"watched_computers": [computers[r].name for r in ("healthy", "password_90d")]},
        "spn": {"expected": [
            {"spn": duplicate.spn, "account": duplicate.accounts[0]},
            {"spn": f"HTTP/missing-spn.{info.domain}", "account": computers["healthy"].sam_account_name},
        ]},
    }


def write(info, path: Path, intervals: dict[str, str] | None = None, **overrides) -> Path:
    path.write_text(yaml.safe_dump(exporter_config(info, intervals, **overrides), sort_keys=False))
    return path


def main() -> int:
    from adlab import Lab

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", type=Path)
    p.add_argument("--lab-name", default="adlab")
    p.add_argument("--interval", action="append", default=[], metavar="CHECK=DURATION")
    p.add_argument("--demo", action="store_true", help="also watch what demo_overrides() names")
    args = p.parse_args()
    intervals = dict(item.split("=", 1) for item in args.interval)
    info = Lab.load(name=args.lab_name).info
    write(info, args.output, intervals or None, **(demo_overrides(info) if args.demo else {}))
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

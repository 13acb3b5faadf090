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


def write(info, path: Path, intervals: dict[str, str] | None = None, **overrides) -> Path:
    path.write_text(yaml.safe_dump(exporter_config(info, intervals, **overrides), sort_keys=False))
    return path


def main() -> int:
    from adlab import Lab

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", type=Path)
    p.add_argument("--lab-name", default="adlab")
    p.add_argument("--interval", action="append", default=[], metavar="CHECK=DURATION")
    args = p.parse_args()
    intervals = dict(item.split("=", 1) for item in args.interval)
    write(Lab.load(name=args.lab_name).info, args.output, intervals or None)
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

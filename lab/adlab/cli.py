"""Command line: python3 -m adlab <command> (see `python3 -m adlab --help`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import DC_NAMES, DEFAULT_NAME, DEFAULT_SUBNET, LINK_ROLES
from .errors import LabError
from .keys import DIRECTIONS
from .lab import Lab

_COMMANDS_HELP = """\
commands:
  up [--no-faults]        build the lab (removes an earlier run of the same name first)
  down [--keep-state]     stop and remove everything of the lab
  status                  live state of every DC (processes, link, clock, replication)
  info                    print lab.json
  stop-dc DC / start-dc DC
  stop-kdc DC / start-kdc DC    restart the DC without / with its KDC (LDAP keeps answering)
  cut MEMBER / heal MEMBER      MEMBER: dc1, dc2, ghost, client
  skew DC OFFSET / unskew DC    OFFSET: +7m, -300, +2h, -1d ...
  replicate DST SRC       DST pulls every naming context from SRC
  disable-repl DC DIR / enable-repl DC DIR   DIR: inbound, outbound (nTDSDSA options, as repadmin /options)
  reset-password DC COMPUTER    a new password for COMPUTER$ written on DC only (prints DC's key version)
  run [--admin] MEMBER -- CMD...   run CMD inside the member's network namespace
  bulk N [--cache-dir D]  grow dc1 to N bench computer accounts (cached per N; see adlab/bulk.py)

environment: LAB_NAME (default adlab), LAB_SUBNET (default 10.99.0.0/24), LAB_STATE_DIR (default /tmp/<name>)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m adlab", description="Two-DC Samba AD test lab.",
                                epilog=_COMMANDS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default=os.environ.get("LAB_NAME", DEFAULT_NAME), help="lab instance name")
    p.add_argument("--subnet", default=os.environ.get("LAB_SUBNET", DEFAULT_SUBNET), help="lab IPv4 subnet")
    p.add_argument("--state-dir", default=os.environ.get("LAB_STATE_DIR") or None, help="state directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="build the lab")
    up.add_argument("--no-faults", action="store_true", help="do not inject the standing faults")
    up.add_argument("--keep-on-failure", action="store_true", help="leave a failed lab running to inspect it")
    down = sub.add_parser("down", help="remove the lab")
    down.add_argument("--keep-state", action="store_true", help="keep logs and DC directories")
    sub.add_parser("status", help="live state")
    sub.add_parser("info", help="print lab.json")
    for name in ("stop-dc", "start-dc", "stop-kdc", "start-kdc", "unskew"):
        sub.add_parser(name).add_argument("dc", choices=DC_NAMES)
    for name in ("cut", "heal"):
        sub.add_parser(name).add_argument("member", choices=LINK_ROLES)
    skew = sub.add_parser("skew")
    skew.add_argument("dc", choices=DC_NAMES)
    skew.add_argument("offset", help="signed offset: +7m, -300, +2h, -1d")
    for name in ("disable-repl", "enable-repl"):
        repl = sub.add_parser(name)
        repl.add_argument("dc", choices=DC_NAMES)
        repl.add_argument("direction", choices=DIRECTIONS)
    reset = sub.add_parser("reset-password")
    reset.add_argument("dc", choices=DC_NAMES)
    reset.add_argument("computer", help="computer name, with or without $ (not a DC)")
    rep = sub.add_parser("replicate")
    rep.add_argument("dst", choices=DC_NAMES)
    rep.add_argument("src", choices=DC_NAMES)
    bulk = sub.add_parser("bulk", help="grow the directory to N computer accounts")
    bulk.add_argument("computers", type=int)
    bulk.add_argument("--cache-dir", default=None, help="where populated labs are kept (default /var/tmp/adlab-bench)")
    run = sub.add_parser("run")
    run.add_argument("--admin", action="store_true",
                     help="export PASSWD_FILE=<admin password file> (use with -U 'LAB\\Administrator')")
    run.add_argument("member", choices=LINK_ROLES)
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- command and arguments")
    return p


def _normalise(argv: list[str]) -> list[str]:
    # "skew dc2 -7m": let a negative offset through argparse, which would take it for an option.
    if "skew" in argv:
        i = argv.index("skew")
        if len(argv) == i + 3 and argv[i + 2].startswith("-"):
            return argv[:i + 2] + ["--", argv[i + 2]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_normalise(list(sys.argv[1:] if argv is None else argv)))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="adlab: %(message)s", stream=sys.stderr)
    if os.geteuid() != 0:
        print("adlab: needs root (it creates network namespaces and a bridge)", file=sys.stderr)
        return 1
    try:
        return _dispatch(args)
    except LabError as exc:
        print(f"adlab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("adlab: interrupted; run `down` to clean up", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "up":
        info = Lab(args.name, args.subnet, args.state_dir).up(faults=not args.no_faults,
                                                                keep_on_failure=args.keep_on_failure)
        dcs = ", ".join(f"{d.name} {d.ip}" for d in info.dcs.values())
        print(f"lab {info.name} up in {info.up_seconds:.1f} s: {dcs}; bridge {info.bridge_ip}; "
              f"{info.state_dir}/lab.json")
        return 0
    if cmd == "down":
        # Lab.down logs each problem it could not fix.
        problems = Lab(args.name, args.subnet, args.state_dir).down(keep_state=args.keep_state)
        return 1 if problems else 0
    if cmd == "bulk":
        from . import bulk
        kwargs = {"cache_dir": Path(args.cache_dir)} if args.cache_dir else {}
        bulk.ensure(Lab(args.name, args.subnet, args.state_dir), args.computers, **kwargs)
        return 0
    lab = Lab.load(args.name, args.state_dir)
    if cmd == "info":
        print(lab.info.to_json(), end="")
    elif cmd == "status":
        print(json.dumps(lab.status(), indent=2))
    elif cmd == "stop-dc":
        lab.stop_dc(args.dc)
    elif cmd == "start-dc":
        lab.start_dc(args.dc)
    elif cmd == "stop-kdc":
        lab.stop_kdc(args.dc)
    elif cmd == "start-kdc":
        lab.start_kdc(args.dc)
    elif cmd == "cut":
        lab.cut_link(args.member)
    elif cmd == "heal":
        lab.heal_link(args.member)
    elif cmd == "skew":
        lab.skew_clock(args.dc, args.offset)
    elif cmd == "unskew":
        lab.unskew_clock(args.dc)
    elif cmd == "replicate":
        lab.replicate(args.dst, args.src)
    elif cmd in ("disable-repl", "enable-repl"):
        change = lab.disable_replication if cmd == "disable-repl" else lab.enable_replication
        disabled = change(args.dc, args.direction)
        print(f"{args.dc}: replication disabled: {', '.join(disabled) or 'none'}")
    elif cmd == "reset-password":
        kvno = lab.reset_computer_password(args.dc, args.computer)
        print(f"{args.computer.rstrip('$').upper()}$ on {args.dc}: key version {kvno}")
    elif cmd == "run":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        cp = lab.run(args.member, argv, admin=args.admin)
        sys.stdout.write(cp.stdout)
        sys.stderr.write(cp.stderr)
        return cp.returncode
    return 0

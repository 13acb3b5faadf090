"""Command line: Go-style flags like the other Prometheus exporters, and two sub-commands.

  ad-health-exporter [serve]   run the exporter (default)
  ad-health-exporter check     run every check once and print a report; exit 0 healthy,
                               1 findings, 2 could not run
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Sequence

from . import config as config_mod
from . import logs, report
from .app import Exporter, check_once
from .registry import BY_NAME
from .version import VERSION
from .web import App, Server, StatusSource, parse_listen_address

log = logging.getLogger("ad_health_exporter")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ad-health-exporter",
        description="Prometheus exporter for the Active Directory faults behind Kerberos mutual-authentication failures.",
    )
    p.add_argument("command", nargs="?", choices=("serve", "check"), default="serve", help="serve (default) or check")
    p.add_argument("--config.file", dest="config_file", default="ad-health-exporter.yml", help="configuration file (default: %(default)s)")
    p.add_argument("--web.listen-address", dest="listen_address", default=":10088", help="address to serve metrics on (default: %(default)s)")
    p.add_argument("--log.level", dest="log_level", choices=tuple(logs.LEVELS), default="info", help="default: %(default)s")
    p.add_argument("--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt", help="default: %(default)s")
    p.add_argument("--check-config", action="store_true", help="validate the configuration file and exit")
    p.add_argument("--version", action="version", version=f"ad-health-exporter {VERSION}")
    return p


def _fail(message: str) -> int:
    print(f"ad-health-exporter: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        cfg = config_mod.load(args.config_file)
    except config_mod.ConfigError as exc:
        return _fail(str(exc))
    if args.check_config:
        names = ", ".join(d.name for d in cfg.domains)
        print(f"{args.config_file}: configuration is valid ({len(cfg.domains)} domain(s): {names})")
        return 0
    if args.command == "check":
        scheduler = check_once(cfg)
        return report.write(scheduler.states(), BY_NAME, sys.stdout).exit_status
    return _serve(cfg, args.listen_address)


def _serve(cfg: config_mod.Config, listen_address: str) -> int:
    try:
        address = parse_listen_address(listen_address)
    except ValueError as exc:
        return _fail(str(exc))
    exporter = Exporter(cfg)
    try:
        server = Server(App(exporter.registry, StatusSource(exporter.scheduler), VERSION), address)
    except OSError as exc:
        return _fail(f"--web.listen-address: cannot listen on {listen_address}: {exc.strerror or exc}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    exporter.start()
    server.start()
    log.info(
        "listening",
        extra={"address": f"{address.host}:{server.port}", "version": VERSION, "domains": ",".join(d.name for d in cfg.domains)},
    )
    stop.wait()
    log.info("shutting down")
    server.stop()
    exporter.stop()
    return 0

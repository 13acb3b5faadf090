"""Command line: Go-style flags like the other Prometheus exporters, and sub-commands.

  ad-health-exporter [serve]     run the exporter (default)
  ad-health-exporter check       run every check once and print a report; exit 0 healthy,
                                 1 findings, 2 could not run
  ad-health-exporter healthcheck ask the local exporter's /-/healthy (container health probe)

Signals while serving: SIGTERM/SIGINT stop gracefully (requests in flight are answered, LDAP
connections are unbound); SIGHUP re-reads both configuration files, and keeps the running
configuration when the new one is not valid.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import queue
import signal
import ssl
import sys
import time
from collections.abc import Sequence

from . import config as config_mod
from . import logs
from .app import Exporter, check_once
from .catalogue import BY_NAME, CHECKS
from .runtime import report
from .version import VERSION
from .web.address import ListenAddress, parse_listen_address
from .web.live import WebConfigSource
from .web.pages import App, StatusSource
from .web.server import Server

log = logging.getLogger("ad_health_exporter")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ad-health-exporter",
        description="Prometheus exporter for the Active Directory faults behind Kerberos "
        "mutual-authentication failures.",
    )
    p.add_argument("command", nargs="?", choices=("serve", "check", "healthcheck"), default="serve",
                   help="serve (default), check or healthcheck")
    p.add_argument("--config.file", dest="config_file", default="ad-health-exporter.yml",
                   help="configuration file (default: %(default)s)")
    p.add_argument("--web.listen-address", dest="listen_address", default=":10088",
                   help="address to serve metrics on (default: %(default)s)")
    p.add_argument("--web.config.file", dest="web_config_file", default="",
                   help="TLS, basic auth and headers, in the exporter-toolkit format (default: none, plain HTTP)")
    p.add_argument("--log.level", dest="log_level", choices=tuple(logs.LEVELS), default="info",
                   help="default: %(default)s")
    p.add_argument("--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt",
                   help="default: %(default)s")
    p.add_argument("--check-config", action="store_true", help="validate the configuration file and exit")
    p.add_argument("--version", action="version", version=f"ad-health-exporter {VERSION}")
    return p


def _fail(message: str) -> int:
    print(f"ad-health-exporter: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    if args.command == "healthcheck":
        return healthcheck(args.listen_address)
    try:
        cfg = config_mod.load(args.config_file, CHECKS)
    except config_mod.ConfigError as exc:
        return _fail(str(exc))
    # `check` never serves, so a web configuration it would not use cannot stop it.
    if args.web_config_file and (args.command != "check" or args.check_config):
        try:
            web = WebConfigSource(args.web_config_file)
        except (config_mod.ConfigError, OSError) as exc:
            return _fail(f"--web.config.file: {exc}")
    else:
        web = None
    if args.check_config:
        names = ", ".join(d.name for d in cfg.domains)
        print(f"{args.config_file}: configuration is valid ({len(cfg.domains)} domain(s): {names})")
        if web is not None:
            print(f"{args.web_config_file}: web configuration is valid")
        return 0
    if args.command == "check":
        store = check_once(cfg)
        return report.write(store.states(), BY_NAME, sys.stdout).exit_status
    return _serve(cfg, args, web)


# How long a reload lets the new configuration's checks run before it is served (the old
# one keeps serving meanwhile, so no series disappears), and how long a stop waits for
# requests in flight.
RELOAD_WARM_UP = 30.0
STOP_GRACE = 10.0


def _serve(cfg: config_mod.Config, args: argparse.Namespace, web: WebConfigSource | None) -> int:
    try:
        address = parse_listen_address(args.listen_address)
    except ValueError as exc:
        return _fail(str(exc))
    exporter = Exporter(cfg)
    app = App(exporter.prometheus_registry, StatusSource(exporter.store), VERSION)
    try:
        server = Server(app, address, web)
    except OSError as exc:
        return _fail(f"--web.listen-address: cannot listen on {args.listen_address}: {exc.strerror or exc}")
    # SimpleQueue: safe to put() from a signal handler.
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: events.put("stop"))
    signal.signal(signal.SIGHUP, lambda *_: events.put("reload"))
    exporter.start()
    server.start()
    log.info(
        "listening",
        extra={"address": f"{address.host}:{server.port}", "version": VERSION, "tls": bool(server.tls),
               "basic_auth": bool(web and web.active().auth.enabled), "domains": ",".join(d.name for d in cfg.domains)},
    )
    while True:
        try:
            # A timeout, not a blocking get(): a signal that lands on another thread only sets a
            # flag, and its Python handler runs when the main thread next executes bytecode.
            event = events.get(timeout=0.5)
        except queue.Empty:
            continue
        if event == "stop":
            break
        exporter = _reload(args.config_file, exporter, app, web, events)
    log.info("shutting down")
    answered = server.stop(STOP_GRACE)
    exporter.stop()
    log.info("stopped", extra={"requests_answered": answered})
    return 0


def _reload(
    config_file: str,
    old: Exporter,
    app: App,
    web: WebConfigSource | None,
    events: queue.SimpleQueue[str],
) -> Exporter:
    log.info("reloading configuration", extra={"file": config_file})
    if web is not None:
        web.reload()
    try:
        cfg = config_mod.load(config_file, CHECKS)
    except config_mod.ConfigError as exc:
        log.error("configuration not reloaded; keeping the running one", extra={"reason": str(exc)})
        return old
    new = Exporter(cfg)
    new.start()
    deadline = time.monotonic() + RELOAD_WARM_UP
    while not new.store.ready() and time.monotonic() < deadline and events.empty():
        time.sleep(0.2)
    app.update(new.prometheus_registry, StatusSource(new.store))
    old.stop()
    log.info("configuration reloaded", extra={"domains": ",".join(d.name for d in cfg.domains)})
    return new


def healthcheck(listen_address: str, timeout: float = 5.0) -> int:
    """GET /-/healthy of the exporter on this host: 0 if it answers 200, else 1.

    Speaks TLS if the exporter does (tried first) and plain HTTP otherwise, so one command
    fits either web configuration. The server certificate is not checked: the request goes
    to this host's loopback, and it carries nothing secret.
    """
    try:
        address = parse_listen_address(listen_address)
    except ValueError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    host = _loopback(address)
    insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    reasons = []
    for conn in (
        http.client.HTTPSConnection(host, address.port, context=insecure, timeout=timeout),
        http.client.HTTPConnection(host, address.port, timeout=timeout),
    ):
        try:
            conn.request("GET", "/-/healthy")
            status = conn.getresponse().status
            if status == 200:
                return 0
            reasons.append(f"{type(conn).__name__}: status {status}")
        except (OSError, http.client.HTTPException) as exc:
            reasons.append(f"{type(conn).__name__}: {exc}")
        finally:
            conn.close()
    print(f"healthcheck: {host}:{address.port} is not healthy: {'; '.join(reasons)}", file=sys.stderr)
    return 1


def _loopback(address: ListenAddress) -> str:
    if address.host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if address.host == "::":
        return "::1"
    return address.host

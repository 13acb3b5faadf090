"""The HTTP side: landing page, /metrics, /-/healthy and /-/ready, as a WSGI app."""

from __future__ import annotations

import html
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

log = logging.getLogger(__name__)

StartResponse = Callable[..., object]


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET


def parse_listen_address(text: str) -> ListenAddress:
    """``:10088``, ``127.0.0.1:10088``, ``[::1]:10088``, ``localhost:10088``."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"--web.listen-address: {text!r} has no port (write host:port or :port)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"--web.listen-address: {host!r} is not an IPv6 address") from None
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--web.listen-address: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--web.listen-address: port {port} is out of range")
    return ListenAddress(host or "0.0.0.0", port)


_LANDING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>AD health exporter</title></head>
<body>
<h1>AD health exporter</h1>
<p>Watches Active Directory for the faults behind Kerberos mutual-authentication failures
(duplicate or missing SPNs, stale machine passwords, DC clock skew, stale DNS, broken replication).</p>
<p>Version {version}</p>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li>
</ul>
<h2>Checks</h2>
<table border="1" cellpadding="4">
<tr><th>domain</th><th>check</th><th>last run</th><th>error</th></tr>
{rows}
</table>
</body></html>
"""


class App:
    def __init__(self, registry: CollectorRegistry, status: "StatusSource", version: str) -> None:
        self._metrics = make_wsgi_app(registry)
        self._status = status
        self._version = version

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "Only GET and HEAD are supported.\n", [("Allow", "GET, HEAD")])
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/-/healthy":
            return _text(start_response, "200 OK", "Healthy\n")
        if path == "/-/ready":
            waiting = self._status.waiting()
            if waiting:
                return _text(start_response, "503 Service Unavailable", "Not ready: waiting for the first run of " + ", ".join(waiting) + "\n")
            return _text(start_response, "200 OK", "Ready\n")
        if path == "/":
            body = _LANDING.format(version=html.escape(self._version), rows="\n".join(self._rows()))
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body.encode()]
        return _text(start_response, "404 Not Found", "Not found. Try /metrics.\n")

    def _rows(self) -> Iterable[str]:
        for domain, check, state, error in self._status.rows():
            yield (
                f"<tr><td>{html.escape(domain)}</td><td>{html.escape(check)}</td>"
                f"<td>{html.escape(state)}</td><td>{html.escape(error)}</td></tr>"
            )


class StatusSource:
    """What the landing and readiness pages need to know of the checks."""

    def __init__(self, scheduler) -> None:
        self._scheduler = scheduler

    def waiting(self) -> list[str]:
        return [f"{s.domain}/{s.check}" for s in self._scheduler.states() if s.last is None]

    def rows(self) -> Iterable[tuple[str, str, str, str]]:
        for s in self._scheduler.states():
            if s.last is None:
                yield s.domain, s.check, "not run yet", ""
            else:
                yield s.domain, s.check, "ok" if s.last.ok else "FAILED", s.last.error or ""


def _text(start_response: StartResponse, status: str, body: str, headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")] + (headers or []))
    return [body.encode()]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        log.debug("http request", extra={"client": self.client_address[0], "request": format % args})


class Server:
    """A threaded WSGI server in a background thread."""

    def __init__(self, app: App, address: ListenAddress) -> None:
        server_class = type("_Server", (ThreadingWSGIServer,), {"address_family": address.family, "daemon_threads": True})
        self._httpd = make_server(address.host, address.port, app, server_class, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

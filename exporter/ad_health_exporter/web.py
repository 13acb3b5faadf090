"""The HTTP side: landing page, /metrics, /-/healthy and /-/ready, as a WSGI app.

``Guard`` adds what ``--web.config.file`` asks for (basic auth, headers); ``Server`` serves
TLS with the configuration in force when each connection is accepted, and stops gracefully:
no new connections, requests in flight are answered.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from .webconfig import WebConfigSource, peer_sans

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
        # One tuple, replaced whole: a request sees either the old exporter or the new one.
        self._current = (make_wsgi_app(registry), status)
        self._version = version

    def update(self, registry: CollectorRegistry, status: "StatusSource") -> None:
        """Serve another exporter's registry and status from now on (configuration reload)."""
        self._current = (make_wsgi_app(registry), status)

    @property
    def _status(self) -> "StatusSource":
        return self._current[1]

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        metrics, status = self._current
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "Only GET and HEAD are supported.\n", [("Allow", "GET, HEAD")])
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/-/healthy":
            return _text(start_response, "200 OK", "Healthy\n")
        if path == "/-/ready":
            waiting = status.waiting()
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


# Paths served without basic auth: a container or load-balancer health probe carries no
# credentials, and "Healthy" tells nothing about the directory.
UNAUTHENTICATED_PATHS = ("/-/healthy",)


class Guard:
    """Basic auth and the configured headers in front of an app, per the web configuration in force."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]], web: WebConfigSource) -> None:
        self._app = app
        self._web = web

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        active = self._web.active()
        extra = list(active.config.headers)

        def with_headers(status: str, headers: list, exc_info=None):
            return start_response(status, list(headers) + extra, *([exc_info] if exc_info else []))

        path = environ.get("PATH_INFO") or "/"
        if active.auth.enabled and path not in UNAUTHENTICATED_PATHS:
            user = active.auth.check(environ.get("HTTP_AUTHORIZATION"))
            if user is None:
                log.debug("http request refused: no valid basic auth", extra={"client": environ.get("REMOTE_ADDR"), "path": path})
                return _text(with_headers, "401 Unauthorized", "Unauthorized\n",
                             [("WWW-Authenticate", 'Basic realm="ad-health-exporter", charset="UTF-8"')])
            environ["REMOTE_USER"] = user
        return self._app(environ, with_headers)


class _QuietHandler(WSGIRequestHandler):
    # Bounds how long a silent or slow client can hold a thread (and delay a graceful stop).
    timeout = 30

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
            allowed = getattr(self.request, "allowed_sans", ())
            if allowed and not (peer_sans(self.request.getpeercert()) & set(allowed)):
                raise ssl.SSLError("the client certificate has none of the client_allowed_sans")
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        log.debug("http request", extra={"client": self.client_address[0], "request": format % args})


class _Server(ThreadingWSGIServer):
    daemon_threads = True  # a stuck client never keeps the process alive; stop() waits, bounded
    web: WebConfigSource | None = None

    def server_bind(self) -> None:
        super().server_bind()
        self._in_flight = 0
        self._idle = threading.Condition()

    def get_request(self):
        sock, addr = super().get_request()
        if self.web is not None:
            active = self.web.refresh()
            if active.context is not None:
                try:
                    tls = active.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except (ssl.SSLError, OSError):
                    sock.close()
                    raise
                tls.allowed_sans = active.config.tls.client_allowed_sans if active.config.tls else ()
                sock = tls
        return sock, addr

    def process_request_thread(self, request, client_address) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def handle_error(self, request, client_address) -> None:
        # TLS handshakes refused (no or wrong client certificate) and clients that hang up
        # are routine: no traceback on stderr.
        import sys

        exc = sys.exc_info()[1]
        log.debug("http connection failed", extra={"client": client_address[0], "reason": f"{type(exc).__name__}: {exc}"})

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


class Server:
    """A threaded WSGI server in a background thread, with TLS when the web configuration asks."""

    def __init__(self, app, address: ListenAddress, web: WebConfigSource | None = None) -> None:
        server_class = type("_Server", (_Server,), {"address_family": address.family, "web": web})
        handler = Guard(app, web) if web is not None else app
        self._httpd = make_server(address.host, address.port, handler, server_class, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http", daemon=True)
        self.tls = web is not None and web.tls

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = 10.0) -> bool:
        """Stop accepting, answer the requests in flight (up to ``grace`` seconds), close.

        True if every request in flight was answered.
        """
        self._httpd.shutdown()
        idle = self._httpd.wait_idle(grace)
        self._httpd.server_close()
        return idle

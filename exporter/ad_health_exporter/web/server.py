"""The HTTP server, in a background thread.

TLS comes from the web configuration in force when each connection is accepted; a stop is
graceful: no new connections, requests in flight are answered.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
import weakref
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from .address import ListenAddress
from .guard import Guard
from .live import WebConfigSource
from .pages import WsgiApp
from .tls import peer_sans

log = logging.getLogger(__name__)

# What socketserver hands around: a TCP server's request is its socket (typeshed's type also
# allows a UDP server's (data, socket)); a client address is (host, port) or, for IPv6,
# (host, port, flowinfo, scope_id).
Request = socket.socket | tuple[bytes, socket.socket]
ClientAddress = tuple[str, int] | tuple[str, int, int, int]


class _QuietHandler(WSGIRequestHandler):
    # Bounds how long a silent or slow client can hold a thread (and delay a graceful stop).
    timeout = 30
    server: _Server  # the only server this handler serves

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
            allowed = self.server.allowed_sans.get(self.request, ())
            if allowed and not (peer_sans(self.request.getpeercert()) & set(allowed)):
                raise ssl.SSLError("the client certificate has none of the client_allowed_sans")
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # `format`: the stdlib's parameter name
        log.debug("http request", extra={"client": self.client_address[0], "request": format % args})


class _Server(ThreadingWSGIServer):
    daemon_threads = True  # a stuck client never keeps the process alive; stop() waits, bounded
    web: WebConfigSource | None = None

    def server_bind(self) -> None:
        super().server_bind()
        self._in_flight = 0
        self._idle = threading.Condition()
        # The client_allowed_sans in force when each TLS connection was accepted, for the handler
        # to check after the handshake; an entry goes with its socket.
        self.allowed_sans: weakref.WeakKeyDictionary[socket.socket, tuple[str, ...]] = weakref.WeakKeyDictionary()

    def get_request(self) -> tuple[socket.socket, ClientAddress]:
        sock, addr = super().get_request()
        if self.web is not None:
            active = self.web.refresh()
            if active.context is not None:
                try:
                    tls = active.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except (ssl.SSLError, OSError):
                    sock.close()
                    raise
                self.allowed_sans[tls] = active.config.tls.client_allowed_sans if active.config.tls else ()
                sock = tls
        return sock, addr

    def process_request_thread(self, request: Request, client_address: ClientAddress) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def handle_error(self, request: Request, client_address: ClientAddress) -> None:
        # TLS handshakes refused (no or wrong client certificate) and clients that hang up
        # are routine: no traceback on stderr.
        exc = sys.exc_info()[1]
        log.debug("http connection failed",
                  extra={"client": client_address[0], "reason": f"{type(exc).__name__}: {exc}"})

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

    def __init__(self, app: WsgiApp, address: ListenAddress, web: WebConfigSource | None = None) -> None:
        server_class = type("_Server", (_Server,), {"address_family": address.family, "web": web})
        handler = Guard(app, web) if web is not None else app
        self._httpd: _Server = make_server(
            address.host, address.port, handler, server_class, handler_class=_QuietHandler
        )
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

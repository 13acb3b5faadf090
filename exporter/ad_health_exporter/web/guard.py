"""The middleware that applies ``--web.config.file`` to each request: basic auth and extra headers."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType

from .live import WebConfigSource
from .pages import StartResponse, WsgiApp, plain_text

log = logging.getLogger(__name__)

# Paths served without basic auth: a container or load-balancer health probe carries no
# credentials, and "Healthy" tells nothing about the directory.
UNAUTHENTICATED_PATHS = ("/-/healthy",)

# What an app passes to start_response when it reports an error (PEP 3333).
ExcInfo = tuple[type[BaseException], BaseException, TracebackType]


class Guard:
    """Basic auth and the configured headers in front of an app, per the web configuration in force."""

    def __init__(self, app: WsgiApp, web: WebConfigSource) -> None:
        self._app = app
        self._web = web

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        active = self._web.active()
        extra = list(active.config.headers)

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None) -> object:
            return start_response(status, list(headers) + extra, *([exc_info] if exc_info else []))

        path = environ.get("PATH_INFO") or "/"
        if active.auth.enabled and path not in UNAUTHENTICATED_PATHS:
            user = active.auth.check(environ.get("HTTP_AUTHORIZATION"))
            if user is None:
                log.debug("http request refused: no valid basic auth",
                          extra={"client": environ.get("REMOTE_ADDR"), "path": path})
                return plain_text(with_headers, "401 Unauthorized", "Unauthorized\n",
                                  [("WWW-Authenticate", 'Basic realm="ad-health-exporter", charset="UTF-8"')])
            environ["REMOTE_USER"] = user
        return self._app(environ, with_headers)

"""What the endpoint serves: the landing page, /metrics, /-/healthy and /-/ready, as a WSGI app."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., object]
WsgiApp = Callable[[dict, StartResponse], Iterable[bytes]]


# The shape of the check states the pages read, declared here so that the web package does not
# depend on the code that runs the checks.
class LastRun(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str | None: ...


class CheckState(Protocol):
    @property
    def domain(self) -> str: ...

    @property
    def check(self) -> str: ...

    @property
    def last(self) -> LastRun | None: ...


class CheckStates(Protocol):
    def states(self) -> Sequence[CheckState]: ...


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
    def __init__(self, registry: CollectorRegistry, status: StatusSource, version: str) -> None:
        # One tuple, replaced whole: a request sees either the old exporter or the new one.
        self._current = (make_wsgi_app(registry), status)
        self._version = version

    def update(self, registry: CollectorRegistry, status: StatusSource) -> None:
        """Serve another exporter's registry and status from now on (configuration reload)."""
        self._current = (make_wsgi_app(registry), status)

    @property
    def _status(self) -> StatusSource:
        return self._current[1]

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        metrics, status = self._current
        if method not in ("GET", "HEAD"):
            return plain_text(
                start_response, "405 Method Not Allowed", "Only GET and HEAD are supported.\n", [("Allow", "GET, HEAD")]
            )
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/-/healthy":
            return plain_text(start_response, "200 OK", "Healthy\n")
        if path == "/-/ready":
            waiting = status.waiting()
            if waiting:
                return plain_text(
                    start_response,
                    "503 Service Unavailable",
                    "Not ready: waiting for the first run of " + ", ".join(waiting) + "\n",
                )
            return plain_text(start_response, "200 OK", "Ready\n")
        if path == "/":
            body = _LANDING.format(version=html.escape(self._version), rows="\n".join(self._rows()))
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body.encode()]
        return plain_text(start_response, "404 Not Found", "Not found. Try /metrics.\n")

    def _rows(self) -> Iterable[str]:
        for domain, check, state, error in self._status.rows():
            yield (
                f"<tr><td>{html.escape(domain)}</td><td>{html.escape(check)}</td>"
                f"<td>{html.escape(state)}</td><td>{html.escape(error)}</td></tr>"
            )


class StatusSource:
    """What the landing and readiness pages need to know of the checks."""

    def __init__(self, checks: CheckStates) -> None:
        self._checks = checks

    def waiting(self) -> list[str]:
        return [f"{s.domain}/{s.check}" for s in self._checks.states() if s.last is None]

    def rows(self) -> Iterable[tuple[str, str, str, str]]:
        for s in self._checks.states():
            if s.last is None:
                yield s.domain, s.check, "not run yet", ""
            else:
                yield s.domain, s.check, "ok" if s.last.ok else "FAILED", s.last.error or ""


def plain_text(
    start_response: StartResponse, status: str, body: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")] + (headers or []))
    return [body.encode()]

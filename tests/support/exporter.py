"""A real exporter process for a test: started on a free loopback port, scraped, waited on, stopped;
and the ``check`` command run as a user runs it."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from .wait import wait_until

T = TypeVar("T")

# metric name -> [(labels, value)], as one scrape of /metrics gave them
Scrape = dict[str, list[tuple[dict[str, str], float]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def parse_metrics(text: str) -> Scrape:
    out: Scrape = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def samples(scrape: Scrape, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """The samples of ``name`` whose labels include ``labels``."""
    return [(lbl, v) for lbl, v in scrape.get(name, []) if all(lbl.get(k) == want for k, want in labels.items())]


def sample_values(scrape: Scrape, name: str, **labels: str) -> list[float]:
    """The values of ``samples(scrape, name, **labels)``."""
    return [v for _, v in samples(scrape, name, **labels)]


@dataclass
class RunningExporter:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    config_path: Path
    _log_file: IO[str] | None = field(default=None, repr=False)

    def get(self, path: str) -> tuple[int, str]:
        """Status and body of ``path``; (0, "") when nothing answers (yet, or any more)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return 0, ""

    def scrape(self) -> Scrape:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            return parse_metrics(r.read().decode())

    def value(self, name: str, **labels: str) -> float | None:
        found = samples(self.scrape(), name, **labels)
        return found[0][1] if found else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[Scrape], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
        """Scrape until ``predicate(scrape)`` is truthy and return it; fail with the log's tail otherwise."""
        return self.wait_until(lambda: predicate(self.scrape()), what, timeout=timeout, interval=interval)

    def wait_until(self, predicate: Callable[[], T | None], what: str, timeout: float = 30, interval: float = 0.1) -> T:
        """Poll ``predicate`` while the process runs; fail with the log's tail if it exits or time runs out."""

        def alive_and(predicate: Callable[[], T | None]) -> T | None:
            assert self.process.poll() is None, f"exporter exited: {self.log()}"
            return predicate()

        return wait_until(lambda: alive_and(predicate), timeout, what, interval=interval,
                          detail=lambda: f"exporter log tail:\n{self.log()[-3000:]}")

    def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it is still running after ``grace`` seconds; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log_file is not None:
            self._log_file.close()
        return self.process.returncode


def start_exporter(config_path: Path, log_path: Path, startup: float = 30) -> RunningExporter:
    """The exporter on a free loopback port, logging at debug level to ``log_path``, once it listens."""
    port = free_port()
    log_file = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ad_health_exporter", "--config.file", str(config_path),
         "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug"],
        stdout=log_file, stderr=subprocess.STDOUT,
    )
    running = RunningExporter(f"http://127.0.0.1:{port}", proc, log_path, config_path, log_file)
    try:
        running.wait_until(lambda: running.get("/-/healthy")[0] == 200, "the exporter to listen", timeout=startup,
                           interval=0.2)
    except BaseException:
        running.stop()
        raise
    return running


def stop_exporter(running: RunningExporter) -> int:
    return running.stop()


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m ad_health_exporter <args>``, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "ad_health_exporter", *args], capture_output=True, text=True, timeout=timeout
    )

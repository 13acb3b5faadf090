"""Shared fixtures: the real Samba AD lab (once per session) and a real exporter process against it.

Lab tests need root (network namespaces). Outside CI they skip when not root; in CI
(CI=true) they must run, so a lab that cannot come up fails the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(ROOT / "scripts"))

import lab_config  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LAB_NAME = os.environ.get("AD_TEST_LAB_NAME", "adtest")
LAB_SUBNET = os.environ.get("AD_TEST_LAB_SUBNET", "10.99.8.0/24")

# Short intervals so that state changes in the lab show up within seconds.
TEST_INTERVALS = {"inventory": "5s", "spn": "20s", "accounts": "20s", "time": "5s", "dns": "10s", "replication": "5s"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.lab)
        if f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.lab)
            item.add_marker(pytest.mark.e2e)


def _lab_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "the Samba AD lab needs root (network namespaces)"
    for tool in ("samba", "samba-tool", "ip"):
        if not any((Path(d) / tool).exists() for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
            return f"{tool} is not installed (run make deps)"
    return None


@pytest.fixture(scope="session")
def lab():
    """The running lab (an adlab.Lab), built once for the whole session and always torn down."""
    reason = _lab_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"lab tests must run in CI, but: {reason}")
        pytest.skip(reason)
    from adlab import Lab

    instance = Lab(name=LAB_NAME, subnet=LAB_SUBNET)
    # A failed up() has torn the lab down itself and kept its logs in the state directory.
    instance.up()
    try:
        yield instance
    finally:
        instance.down()


@pytest.fixture(scope="session")
def lab_info(lab):
    return lab.info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exporter_config(info, path: Path, **overrides) -> Path:
    return lab_config.write(info, path, TEST_INTERVALS, **overrides)


@dataclass
class RunningExporter:
    url: str
    process: subprocess.Popen
    log_path: Path
    config_path: Path

    def scrape(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out.setdefault(s.name, []).append((dict(s.labels), s.value))
        return out

    def value(self, name: str, **labels: str) -> float | None:
        for sample_labels, value in self.scrape().get(name, []):
            if all(sample_labels.get(k) == v for k, v in labels.items()):
                return value
        return None

    def wait_for(self, predicate, timeout: float, what: str, interval: float = 1.0):
        """Poll the metrics until predicate(scrape) is truthy; fail with the last scrape otherwise."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exporter exited: {self.log()}"
            last = self.scrape()
            result = predicate(last)
            if result:
                return result
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout}s waiting for {what}; exporter log tail:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_exporter(config_path: Path, log_path: Path) -> RunningExporter:
    port = free_port()
    log_file = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ad_health_exporter", "--config.file", str(config_path),
         "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "debug"],
        stdout=log_file, stderr=subprocess.STDOUT,
    )
    running = RunningExporter(f"http://127.0.0.1:{port}", proc, log_path, config_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exporter exited with {proc.returncode}: {running.log()}")
        try:
            with urllib.request.urlopen(running.url + "/-/healthy", timeout=2):
                return running
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"exporter did not start listening: {running.log()}")


def stop_exporter(running: RunningExporter) -> None:
    running.process.terminate()
    try:
        running.process.wait(10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait(5)


@pytest.fixture(scope="session")
def exporter(lab, tmp_path_factory) -> Iterator[RunningExporter]:
    """One exporter process for the whole session, against the lab, with short intervals."""
    work = tmp_path_factory.mktemp("exporter")
    running = start_exporter(exporter_config(lab.info, work / "config.yml"), work / "exporter.log")
    try:
        yield running
    finally:
        stop_exporter(running)


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ad_health_exporter", *args], capture_output=True, text=True, timeout=timeout
    )

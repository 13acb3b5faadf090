"""Runs real Prometheus and Alertmanager (Debian's packages) on loopback against an exporter.

Used by ``make demo`` and by the end-to-end tests. Everything listens on 127.0.0.1 only;
Alertmanager's cluster port is switched off.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "alerts" / "ad-health.rules.yml"
JOB = "ad-health-exporter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def _seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as ``90s`` or ``1h30m``; ValueError for anything else."""
    if not re.fullmatch(f"(?:{_DURATION_PART.pattern})+", duration):
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(duration))


def shorten_for(rules: dict[str, Any], at_most: str) -> dict[str, Any]:
    """A copy of the rule file with every alert's ``for:`` capped (test use only)."""
    cap = _seconds(at_most)
    out = json.loads(json.dumps(rules))
    for group in out.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule and "for" in rule and _seconds(str(rule["for"])) > cap:
                rule["for"] = at_most
    return out


@dataclass
class Stack:
    workdir: Path
    prometheus_url: str
    alertmanager_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        return body["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts as Prometheus sees them (pending and firing)."""
        with urllib.request.urlopen(f"{self.prometheus_url}/api/v1/alerts", timeout=10) as r:
            return json.load(r)["data"]["alerts"]

    def targets_up(self) -> bool:
        return any(float(s["value"][1]) == 1 for s in self.query(f'up{{job="{JOB}"}}'))

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {log.read_text(errors='replace')[-2000:]}")


def start(
    workdir: Path,
    exporter_target: str,
    *,
    webhook_url: str | None = None,
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
    alert_for_at_most: str | None = None,
    prometheus_port: int | None = None,
    alertmanager_port: int | None = None,
) -> Stack:
    """Start Alertmanager, then Prometheus loading the project's rules and scraping ``exporter_target``."""
    workdir.mkdir(parents=True, exist_ok=True)
    am_port = alertmanager_port or free_port()
    prom_port = prometheus_port or free_port()

    receiver: dict[str, Any] = {"name": "default"}
    if webhook_url:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    am_config = {
        "route": {
            "receiver": "default",
            "group_by": ["..."],  # every alert its own notification, so tests see each one
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "4h",
        },
        "receivers": [receiver],
    }
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(am_config, sort_keys=False))

    rules = yaml.safe_load(RULES.read_text())
    if alert_for_at_most:
        rules = shorten_for(rules, alert_for_at_most)
    (workdir / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))

    prom_config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(workdir / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [exporter_target]}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(prom_config, sort_keys=False))

    stack = Stack(workdir, f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}")
    am_log = workdir / "alertmanager.log"
    stack.processes.append(
        subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=am_log.open("w"), stderr=subprocess.STDOUT,
        )
    )
    prom_log = workdir / "prometheus.log"
    try:
        _wait_http(f"{stack.alertmanager_url}/-/ready", stack.processes[0], am_log)
        stack.processes.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--rules.alert.resend-delay=1s",
                ],
                stdout=prom_log.open("w"), stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"{stack.prometheus_url}/-/ready", stack.processes[1], prom_log)
    except BaseException:
        stack.stop()
        raise
    return stack


def main() -> int:
    """``python3 scripts/monitoring_stack.py WORKDIR EXPORTER_TARGET``: run until interrupted (for the demo)."""
    import argparse
    import signal

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("workdir", type=Path)
    p.add_argument("exporter_target")
    p.add_argument("--prometheus-port", type=int, default=9090)
    p.add_argument("--alertmanager-port", type=int, default=9093)
    args = p.parse_args()
    stack = start(
        args.workdir, args.exporter_target,
        prometheus_port=args.prometheus_port, alertmanager_port=args.alertmanager_port,
    )
    print(f"Prometheus:   {stack.prometheus_url}  (alerts: {stack.prometheus_url}/alerts)", flush=True)
    print(f"Alertmanager: {stack.alertmanager_url}", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping and all(p.poll() is None for p in stack.processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The exporter process: --version, SIGHUP reload (keeping the old configuration when the new one is
invalid) and SIGTERM graceful shutdown. No lab: the configured DNS server is loopback, where nothing
answers, so the checks fail fast and no traffic leaves the machine."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import yaml

from ad_health_exporter.version import VERSION
from support.exporter import run_cli, start_exporter

PASSWORD = "reload-test-password-91"


def write_config(path: Path, domain: str, password_file: Path) -> Path:
    path.write_text(yaml.safe_dump({"domains": [{
        "name": domain,
        "domain_controllers": [f"dc1.{domain}"],
        "dns_servers": ["127.0.0.1"],  # nothing listens: resolution fails at once, nothing leaves the host
        "bind": {"user": f"monitor@{domain}", "password_file": str(password_file)},
        "intervals": {"inventory": "2s"},
    }]}))
    return path


def test_version_flag() -> None:
    proc = run_cli("--version", timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == f"ad-health-exporter {VERSION}"


def test_sighup_reload_and_sigterm(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    config = write_config(tmp_path / "config.yml", "one.example", pw)
    proc = start_exporter(config, tmp_path / "exporter.log")
    try:
        proc.wait_until(lambda: 'domain="one.example"' in proc.get("/metrics")[1], "one.example series")

        # An invalid file: the running configuration stays, and the reason is logged in one line.
        config.write_text("domains:\n  - name: two.example\n    bind: {user: x}\n")
        proc.process.send_signal(signal.SIGHUP)
        proc.wait_until(lambda: "configuration not reloaded" in proc.log(), "the reload error")
        line = next(entry for entry in proc.log().splitlines() if "configuration not reloaded" in entry)
        assert "domains[0].bind: give exactly one of 'password_file' or 'password_env'" in line
        body = proc.get("/metrics")[1]
        assert 'domain="one.example"' in body and "two.example" not in body
        assert proc.get("/-/healthy")[0] == 200

        # A valid new file: the new domain is served, the old one is gone.
        write_config(config, "two.example", pw)
        proc.process.send_signal(signal.SIGHUP)
        # The old configuration serves until the new one's checks have run once (at most 30 s).
        proc.wait_until(lambda: 'domain="two.example"' in proc.get("/metrics")[1], "two.example series", timeout=60)
        assert 'domain="one.example"' not in proc.get("/metrics")[1]
        proc.wait_until(lambda: "configuration reloaded" in proc.log(), "the reload log line")
    finally:
        rc = proc.stop()
    assert rc == 0
    log = proc.log()
    assert "shutting down" in log and "stopped" in log
    assert PASSWORD not in log


def test_sigterm_while_a_check_is_stuck(tmp_path: Path) -> None:
    """A check blocked on a silent DC does not hold the process: SIGTERM ends it within the grace period."""
    # A "DC" that accepts TCP connections and never says a word: the TLS handshake hangs.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(16)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    config = write_config(tmp_path / "config.yml", "stuck.example", pw)
    data = yaml.safe_load(config.read_text())
    data["domains"][0]["domain_controllers"] = ["127.0.0.1"]
    data["domains"][0]["dns_servers"] = []
    data["domains"][0]["ldap"] = {"port": sink.getsockname()[1], "connect_timeout": "5m", "receive_timeout": "5m"}
    data["domains"][0]["intervals"] = {"inventory": "10m"}
    config.write_text(yaml.safe_dump(data))
    proc = start_exporter(config, tmp_path / "exporter.log")
    try:
        proc.wait_until(lambda: "ad_exporter_build_info" in proc.get("/metrics")[1], "serving")
        time.sleep(1)  # the inventory run is now stuck in the handshake
        assert "ad_check_success" not in proc.get("/metrics")[1]
        started = time.monotonic()
        rc = proc.stop()
        assert rc == 0 and time.monotonic() - started < 12
    finally:
        sink.close()
        proc.stop()

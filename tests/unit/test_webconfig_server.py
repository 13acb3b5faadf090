"""The HTTP endpoint with a web configuration, served for real on loopback: TLS, mTLS, basic auth."""

from __future__ import annotations

import base64
import http.client
import logging
import shutil
import socket
import ssl
import threading
import time
from pathlib import Path

import bcrypt
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from ad_health_exporter import cli
from ad_health_exporter.runtime.store import ResultStore
from ad_health_exporter.web.address import parse_listen_address
from ad_health_exporter.web.live import WebConfigSource
from ad_health_exporter.web.pages import App, StatusSource
from ad_health_exporter.web.server import Server
from support.pki import TestCA

PASSWORD = "scrape-secret-7d1f"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()


class _Slow:
    """A collector that takes a while, to have a scrape in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def collect(self):
        time.sleep(self.delay)
        g = GaugeMetricFamily("slow_metric", "slow")
        g.add_metric([], 1.0)
        yield g


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = TestCA(tmp_path_factory.mktemp("pki"), "scrapers CA")
    other = TestCA(tmp_path_factory.mktemp("pki-other"), "other CA")
    return {
        "ca": ca,
        "server": ca.issue("server", dns=("localhost",), ips=("127.0.0.1",)),
        "client": ca.issue("prometheus", dns=("prometheus.example",), client=True),
        "client2": ca.issue("grafana", dns=("grafana.example",), client=True),
        "stranger": other.issue("stranger", dns=("prometheus.example",), client=True),
        "expired": ca.issue("old-server", dns=("localhost",), ips=("127.0.0.1",), expired=True),
    }


def serve(web_file: Path | None, registry: CollectorRegistry | None = None):
    web = WebConfigSource(web_file) if web_file else None
    if registry is None:
        registry = CollectorRegistry()
        registry.register(_Slow(0))
    server = Server(App(registry, StatusSource(ResultStore(())), "1.2.3"), parse_listen_address("127.0.0.1:0"), web)
    server.start()
    return server


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def client_context(pki, cert: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"].cert))
    if cert:
        ctx.load_cert_chain(str(pki[cert].cert), str(pki[cert].key))
    return ctx


def request(
    port: int, path: str = "/metrics", *, ctx: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10) if ctx
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def test_tls_with_test_ca(tmp_path: Path, pki) -> None:
    web = write(
        tmp_path / "web.yml",
        {
            "tls_server_config": {"cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key)},
            "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff"}},
        },
    )
    server = serve(web)
    try:
        status, headers, body = request(server.port, ctx=client_context(pki))
        assert status == 200 and "slow_metric 1.0" in body
        assert headers["X-Content-Type-Options"] == "nosniff"
        # Plain HTTP to the TLS port gets no metrics.
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            request(server.port)
        # A client that does not trust the CA refuses the server (verification on the client side works).
        with pytest.raises(ssl.SSLCertVerificationError):
            request(server.port, ctx=ssl.create_default_context())
        # TLS 1.2 works by default.
        tls12 = client_context(pki)
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        assert request(server.port, ctx=tls12)[0] == 200
    finally:
        server.stop()


def test_min_version_is_enforced(tmp_path: Path, pki) -> None:
    web = write(tmp_path / "web.yml", {"tls_server_config": {
        "cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key), "min_version": "TLS13"}})
    server = serve(web)
    try:
        tls12 = client_context(pki)
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError, match="(?i)protocol version|alert"):
            request(server.port, ctx=tls12)
        assert request(server.port, ctx=client_context(pki))[0] == 200
    finally:
        server.stop()


def test_mtls_required_and_refused(tmp_path: Path, pki) -> None:
    web = write(tmp_path / "web.yml", {"tls_server_config": {
        "cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key),
        "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(pki["ca"].cert),
        "client_allowed_sans": ["prometheus.example"]}})
    server = serve(web)
    try:
        assert request(server.port, ctx=client_context(pki, "client"))[0] == 200
        for refused in (None, "stranger", "client2"):  # none, another CA's, a SAN not allowed
            with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
                request(server.port, ctx=client_context(pki, refused))
        assert request(server.port, ctx=client_context(pki, "client"))[0] == 200  # still serving
    finally:
        server.stop()


def test_client_cert_optional(tmp_path: Path, pki) -> None:
    web = write(tmp_path / "web.yml", {"tls_server_config": {
        "cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key),
        "client_auth_type": "VerifyClientCertIfGiven", "client_ca_file": str(pki["ca"].cert)}})
    server = serve(web)
    try:
        assert request(server.port, ctx=client_context(pki))[0] == 200
        assert request(server.port, ctx=client_context(pki, "client"))[0] == 200
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            request(server.port, ctx=client_context(pki, "stranger"))
    finally:
        server.stop()


def test_basic_auth_right_wrong_missing(tmp_path: Path, pki, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    web = write(tmp_path / "web.yml", {
        "tls_server_config": {"cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key)},
        "basic_auth_users": {"prometheus": HASH},
        "http_server_config": {"headers": {"X-Frame-Options": "deny"}}})
    server = serve(web)
    ctx = client_context(pki)
    try:
        status, headers, body = request(server.port, ctx=ctx, auth=("prometheus", PASSWORD))
        assert status == 200 and headers["X-Frame-Options"] == "deny"
        for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD), ("prometheus", "")):
            status, headers, body = request(server.port, ctx=ctx, auth=auth)
            assert status == 401, auth
            assert headers["WWW-Authenticate"].startswith("Basic realm=")
            assert headers["X-Frame-Options"] == "deny"  # configured headers on refusals too
            assert PASSWORD not in body and HASH not in body
        for path in ("/", "/-/ready"):
            assert request(server.port, path, ctx=ctx)[0] == 401
        # The health probe needs no credentials (containers and load balancers have none).
        assert request(server.port, "/-/healthy", ctx=ctx)[:1] == (200,)
    finally:
        server.stop()
    logged = "\n".join(r.getMessage() + str(vars(r)) for r in caplog.records)
    assert PASSWORD not in logged and HASH not in logged


def test_basic_auth_without_tls_warns(tmp_path: Path, caplog) -> None:
    web = write(tmp_path / "web.yml", {"basic_auth_users": {"prometheus": HASH}})
    with caplog.at_level(logging.WARNING):
        server = serve(web)
    try:
        assert "clear text" in caplog.text
        assert request(server.port, auth=("prometheus", PASSWORD))[0] == 200
        assert request(server.port)[0] == 401
    finally:
        server.stop()


def test_changes_are_picked_up_and_bad_changes_ignored(tmp_path: Path, pki, caplog) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copy(pki["expired"].cert, cert)
    shutil.copy(pki["expired"].key, key)
    other_hash = bcrypt.hashpw(b"second", bcrypt.gensalt(10)).decode()
    config = {
        "tls_server_config": {"cert_file": "tls.crt", "key_file": "tls.key"},
        "basic_auth_users": {"prometheus": HASH},
    }
    web = write(tmp_path / "web.yml", config)
    server = serve(web)
    ctx = client_context(pki)
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            request(server.port, ctx=ctx, auth=("prometheus", PASSWORD))
        # Certificate rotation: the next connection gets the new certificate, no restart.
        shutil.copy(pki["server"].cert, cert)
        shutil.copy(pki["server"].key, key)
        assert request(server.port, ctx=ctx, auth=("prometheus", PASSWORD))[0] == 200
        # A user's password changes.
        write(web, {**config, "basic_auth_users": {"prometheus": other_hash}})
        assert request(server.port, ctx=ctx, auth=("prometheus", PASSWORD))[0] == 401
        assert request(server.port, ctx=ctx, auth=("prometheus", "second"))[0] == 200
        # A broken file is logged once and the last good configuration stays.
        with caplog.at_level(logging.ERROR):
            web.write_text("tls_server_config: {cert_file: tls.crt, key_file: tls.key, min_version: TLS10}\n")
            for _ in range(3):
                assert request(server.port, ctx=ctx, auth=("prometheus", "second"))[0] == 200
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "TLS10 is too weak" in errors[0].reason
        # A key that does not match the certificate (half-way through a rotation) changes nothing either.
        shutil.copy(pki["client"].key, key)
        write(web, {**config, "basic_auth_users": {"prometheus": other_hash}})
        assert request(server.port, ctx=ctx, auth=("prometheus", "second"))[0] == 200
    finally:
        server.stop()


def test_graceful_stop_answers_the_scrape_in_flight() -> None:
    registry = CollectorRegistry()
    registry.register(_Slow(1.5))
    server = serve(None, registry)
    port = server.port
    result: dict[str, tuple[int, dict[str, str], str]] = {}

    def scrape() -> None:
        result["response"] = request(port)

    t = threading.Thread(target=scrape)
    t.start()
    time.sleep(0.5)  # the scrape is now inside the slow collector
    assert server.stop(grace=10) is True
    t.join(10)
    status, _, body = result["response"]
    assert status == 200 and "slow_metric 1.0" in body
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("tls", [False, True])
def test_healthcheck_command(tmp_path: Path, pki, tls: bool) -> None:
    web = None
    if tls:
        web = write(tmp_path / "web.yml", {
            "tls_server_config": {"cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key)},
            "basic_auth_users": {"prometheus": HASH}})
    server = serve(web)
    try:
        assert cli.healthcheck(f"127.0.0.1:{server.port}") == 0
    finally:
        server.stop()
    assert cli.healthcheck(f"127.0.0.1:{server.port}", timeout=2) == 1


def test_bad_web_config_stops_start_up(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "c.yml"
    (tmp_path / "pw").write_text("x")
    cfg.write_text(yaml.safe_dump({"domains": [{"name": "lab.example", "bind": {"user": "u", "password_file": "pw"}}]}))
    web = write(tmp_path / "web.yml", {"basic_auth_users": {"prometheus": "not-a-hash"}})
    rc = cli.main(["--config.file", str(cfg), "--web.config.file", str(web), "--check-config"])
    err = capsys.readouterr().err
    assert rc == 2 and "--web.config.file" in err and "basic_auth_users.prometheus: is not a bcrypt hash" in err
    assert "not-a-hash" not in err
    write(web, {"basic_auth_users": {"prometheus": HASH}})
    assert cli.main(["--config.file", str(cfg), "--web.config.file", str(web), "--check-config"]) == 0
    assert "web configuration is valid" in capsys.readouterr().out


def test_check_command_does_not_read_the_web_config(tmp_path: Path, monkeypatch, capsys) -> None:
    cfg = tmp_path / "c.yml"
    (tmp_path / "pw").write_text("x")
    cfg.write_text(yaml.safe_dump({"domains": [{"name": "lab.example", "bind": {"user": "u", "password_file": "pw"}}]}))
    web = write(tmp_path / "web.yml", {"basic_auth_users": {"prometheus": "not-a-hash"}})
    ran: list[object] = []

    class NoChecks:
        def states(self) -> list:
            return []

    # The checks themselves need a domain; what matters here is that `check` gets to run them.
    def check_once(config: object) -> NoChecks:
        ran.append(config)
        return NoChecks()

    monkeypatch.setattr(cli, "check_once", check_once)
    rc = cli.main(["check", "--config.file", str(cfg), "--web.config.file", str(web)])
    assert ran and rc == 0, capsys.readouterr().err
    # Validating the configuration still covers the web configuration.
    assert cli.main(["check", "--config.file", str(cfg), "--web.config.file", str(web), "--check-config"]) == 2

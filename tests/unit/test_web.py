"""The HTTP endpoints, served for real on loopback."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from ad_health_exporter.app import Exporter
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.base import Check, CheckContext, CheckError
from ad_health_exporter.config import Config
from ad_health_exporter.topology import Inventory
from ad_health_exporter.version import VERSION
from ad_health_exporter.web.address import parse_listen_address
from ad_health_exporter.web.pages import App, StatusSource
from ad_health_exporter.web.server import Server
from support.builders import dc, domain_config, inventory

PASSWORD = "do-not-show-me"


def fake_inventory(ctx: CheckContext[Any]) -> Inventory:
    return inventory(
        dc("dc1.lab.example", site="Site-A", pdc=True),
        dc("dc2.lab.example", site="Site-B", gc=False, rodc=True),
        down={"dc2.lab.example": "refused"},
    )


@pytest.fixture
def served(request):
    gate = threading.Event()
    inv_def: Check[Any, Inventory] = Check(
        name="inventory", interval=60.0, run=lambda ctx: (gate.wait(10), fake_inventory(ctx))[1],
        series=CHECKS[0].series, findings=CHECKS[0].findings, summary=CHECKS[0].summary, needs_inventory=False,
    )

    def broken(ctx):
        raise CheckError("cannot read the thing on dc1.lab.example")

    other = Check(name="spn", interval=900.0, run=broken, series=lambda d, r: [], findings=lambda r: [],
                  summary=lambda r: [])
    exporter = Exporter(Config(domains=(domain_config(password=PASSWORD, password_source="file pw"),)),
                        checks=(inv_def, other))
    server = Server(
        App(exporter.prometheus_registry, StatusSource(exporter.store), VERSION), parse_listen_address("127.0.0.1:0")
    )
    server.start()
    exporter.start()
    yield f"http://127.0.0.1:{server.port}", gate, exporter
    gate.set()
    server.stop()
    exporter.stop()


def get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def test_endpoints(served) -> None:
    base, gate, exporter = served
    assert get(base + "/-/healthy")[:2] == (200, "Healthy\n")
    status, body, _ = get(base + "/-/ready")
    assert status == 503 and "lab.example/inventory" in body and "lab.example/spn" in body
    # A scrape while checks are still running answers at once, from what is known.
    status, body, headers = get(base + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert f'ad_exporter_build_info{{version="{VERSION}"}} 1.0' in body
    assert "ad_domain_controller_up" not in body

    gate.set()
    for _ in range(200):
        if get(base + "/-/ready")[0] == 200:
            break
        threading.Event().wait(0.05)
    assert get(base + "/-/ready")[:2] == (200, "Ready\n")
    body = get(base + "/metrics")[1]
    assert (
        'ad_domain_controller_info{domain="lab.example",domain_controller="dc1.lab.example",global_catalog="true",'
        'pdc="true",read_only="false",site="Site-A"} 1.0' in body
    )
    assert (
        'ad_domain_controller_info{domain="lab.example",domain_controller="dc2.lab.example",global_catalog="false",'
        'pdc="false",read_only="true",site="Site-B"} 1.0' in body
    )
    assert 'ad_domain_controller_up{domain="lab.example",domain_controller="dc2.lab.example"} 0.0' in body
    assert 'ad_check_success{check="inventory",domain="lab.example"} 1.0' in body
    assert 'ad_check_success{check="spn",domain="lab.example"} 0.0' in body
    assert 'ad_check_last_success_timestamp_seconds{check="spn"' not in body
    assert "process_resident_memory_bytes" in body
    assert PASSWORD not in body

    status, landing, _ = get(base + "/")
    assert status == 200 and 'href="metrics"' in landing
    assert "cannot read the thing on dc1.lab.example" in landing
    assert get(base + "/nope")[0] == 404


def test_post_refused(served) -> None:
    base = served[0]
    req = urllib.request.Request(base + "/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 405


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        (":10088", "0.0.0.0", 10088),
        ("127.0.0.1:9", "127.0.0.1", 9),
        ("[::1]:10088", "::1", 10088),
        ("localhost:1", "localhost", 1),
    ],
)
def test_listen_address(text: str, host: str, port: int) -> None:
    addr = parse_listen_address(text)
    assert (addr.host, addr.port) == (host, port)


@pytest.mark.parametrize("text", ["10088", ":http", ":70000", "[nope]:1"])
def test_bad_listen_address(text: str) -> None:
    with pytest.raises(ValueError, match="--web.listen-address"):
        parse_listen_address(text)

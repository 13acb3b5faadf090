"""End to end: the lab's faults, through the real exporter, real Prometheus and real Alertmanager,
reach a webhook as the right alerts, and the clock and replication alerts resolve after healing.

The rules are the shipped ones with every ``for:`` capped at a few seconds (a test-only rewrite,
see scripts/monitoring_stack.shorten_for); thresholds are unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

import monitoring_stack
from support import ROOT
from support.exporter import start_exporter, stop_exporter
from support.lab import TEST_INTERVALS, exporter_config
from support.labdns import dynamic_dc_record
from support.wait import wait_until

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")),
    reason="prometheus and prometheus-alertmanager are not installed (run make deps)",
)

ALERT_FOR = "6s"


class Webhook:
    """Alertmanager's webhook receiver: keeps every alert of every notification."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with received._lock:
                    received.alerts.extend(body.get("alerts", []))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def matching(self, name: str, status: str, **labels: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                a for a in self.alerts
                if a["labels"].get("alertname") == name and a["status"] == status
                and all(a["labels"].get(k) == v for k, v in labels.items())
            ]

    def wait(self, name: str, status: str, timeout: float, **labels: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(name, status, **labels)
            if found:
                return found[-1]
            time.sleep(1)
        with self._lock:
            seen = sorted({(a["labels"].get("alertname"), a["status"], a["labels"].get("domain_controller", ""),
                            a["labels"].get("computer", ""), a["labels"].get("spn", "")) for a in self.alerts})
        pytest.fail(f"no {status} {name} {labels} within {timeout}s; received: {seen}")

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture(scope="module")
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def watched_exporter(lab, tmp_path_factory):
    """An exporter that also watches the lab's fault computers one by one, and asks every KDC for the
    duplicated SPN."""
    work = tmp_path_factory.mktemp("e2e-exporter")
    computers = [c.name for c in lab.info.faults.computers.values()]
    config = exporter_config(lab.info, work / "config.yml", accounts={"watched_computers": computers},
                             kerberos={"spns": [lab.info.faults.duplicate_spn.spn]})
    running = start_exporter(config, work / "exporter.log")
    yield running
    stop_exporter(running)


@pytest.fixture(scope="module")
def stack(watched_exporter, webhook, tmp_path_factory):
    target = watched_exporter.url.removeprefix("http://")
    s = monitoring_stack.start(
        tmp_path_factory.mktemp("e2e-stack"), target, webhook_url=webhook.url,
        scrape_interval="2s", evaluation_interval="2s", alert_for_at_most=ALERT_FOR,
    )
    yield s
    s.stop()


def test_standing_faults_page_with_the_right_labels(lab, stack, webhook) -> None:
    info = lab.info
    faults = info.faults
    computers = faults.computers
    dc1 = info.dcs["dc1"].fqdn
    slow = 120  # the spn and accounts checks run every 20 s in the tests

    dup = webhook.wait("ADSPNDuplicate", "firing", slow, spn=faults.duplicate_spn.spn.lower(), domain=info.domain)
    assert dup["labels"]["severity"] == "warning"
    assert dup["annotations"]["runbook_url"].endswith("#adspnduplicate")
    assert faults.duplicate_spn.spn.lower() in dup["annotations"]["description"].lower()

    for role in ("password_90d", "password_200d"):
        webhook.wait("ADMachinePasswordTooOld", "firing", slow, computer=computers[role].name)
    webhook.wait("ADWatchedComputerAccountDisabled", "firing", slow, computer=computers["disabled"].name)
    stale = webhook.wait("ADDomainControllerDNSStaleAddress", "firing", slow, domain_controller=dc1)
    assert stale["labels"]["severity"] in ("warning", "critical")
    webhook.wait("ADDNSLocatorUnknownTarget", "firing", slow)
    # The duplicated SPN, confirmed at the KDCs: both refuse it with KDC_ERR_S_PRINCIPAL_UNKNOWN.
    refused = webhook.wait("ADKerberosServiceTicketRefused", "firing", slow, spn=faults.duplicate_spn.spn.lower())
    assert "KDC_ERR_S_PRINCIPAL_UNKNOWN" in refused["annotations"]["description"]
    assert all(f"{dc.fqdn} (error 7)" in refused["annotations"]["description"] for dc in info.dcs.values())

    # The healthy control computer never alerts, in Alertmanager or in Prometheus.
    healthy = computers["healthy"].name
    assert not [a for a in webhook.alerts if a["labels"].get("computer") == healthy]
    assert not [a for a in stack.alerts() if a["labels"].get("computer") == healthy]


def test_clock_skew_pages_and_resolves(lab, stack, webhook) -> None:
    dc2 = lab.info.dcs["dc2"].fqdn
    lab.skew_clock("dc2", "+7m")
    try:
        alert = webhook.wait("ADDomainControllerClockSkewNearKerberosLimit", "firing", 90, domain_controller=dc2)
        assert alert["labels"]["severity"] == "critical"
        assert not webhook.matching("ADDomainControllerClockSkewNearKerberosLimit", "firing",
                                    domain_controller=lab.info.dcs["dc1"].fqdn)
    finally:
        lab.unskew_clock("dc2")
    webhook.wait("ADDomainControllerClockSkewNearKerberosLimit", "resolved", 90, domain_controller=dc2)


def test_stopped_dc_pages_and_resolves(lab, stack, webhook) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    lab.stop_dc("dc2")
    try:
        webhook.wait("ADDomainControllerUnreachable", "firing", 90, domain_controller=dc2)
        link = webhook.wait("ADReplicationLinkFailing", "firing", 120, domain_controller=dc1, source=dc2)
        assert link["labels"]["naming_context"]
    finally:
        lab.start_dc("dc2")
    webhook.wait("ADDomainControllerUnreachable", "resolved", 90, domain_controller=dc2)
    webhook.wait("ADReplicationLinkFailing", "resolved", 180, domain_controller=dc1, source=dc2)


def test_key_divergence_and_replication_switched_off_page_and_resolve(lab, stack, webhook) -> None:
    dc1, dc2 = lab.info.dcs["dc1"].fqdn, lab.info.dcs["dc2"].fqdn
    healthy = lab.info.faults.computers["healthy"]  # watched, so its key is compared DC by DC
    lab.disable_replication("dc2", "inbound")
    try:
        old = lab.key_version("dc2", healthy.sam_account_name)
        new = lab.reset_computer_password("dc1", healthy.name)
        webhook.wait("ADDomainControllerReplicationDisabled", "firing", 90, domain_controller=dc2, direction="inbound")
        key = webhook.wait("ADAccountKeyDivergent", "firing", 90, account=healthy.sam_account_name)
        assert key["labels"]["severity"] == "critical"
        description = key["annotations"]["description"]
        assert f"New key (version {new}) on {dc1}." in description
        assert f"Old key on {dc2} (version {old})" in description
        # The same, as the KDCs hand it out: the HOST/ tickets of the watched computer.
        spn = f"host/{healthy.dns_host_name}".lower()
        tickets = webhook.wait("ADKerberosServiceTicketKeyDivergent", "firing", 90, spn=spn)
        assert f"New key (version {new}) from {dc1}." in tickets["annotations"]["description"]
        assert f"Old key from {dc2} (version {old})" in tickets["annotations"]["description"]
    finally:
        lab.enable_replication("dc2", "inbound")
        lab.replicate("dc2", "dc1")  # dc2's pulls failed while it refused them (8457): clean its links now
    webhook.wait("ADDomainControllerReplicationDisabled", "resolved", 90, domain_controller=dc2, direction="inbound")
    webhook.wait("ADAccountKeyDivergent", "resolved", 90, account=healthy.sam_account_name)
    webhook.wait("ADKerberosServiceTicketKeyDivergent", "resolved", 90, spn=f"host/{healthy.dns_host_name}".lower())


def test_kdc_not_advertised_pages_and_resolves(lab, stack, webhook) -> None:
    dc2 = lab.info.dcs["dc2"].fqdn
    lab.stop_kdc("dc2")  # its LDAP and LDAP ping still answer: only the KDC flag goes
    try:
        alert = webhook.wait("ADDomainControllerNotAdvertisingKDC", "firing", 120, domain_controller=dc2, role="kdc")
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"].endswith("/locator.md#addomaincontrollernotadvertisingkdc")
        assert not webhook.matching("ADDomainControllerLdapPingFailing", "firing", domain_controller=dc2)
        # The KDC itself does not answer, while LDAP does: the kerberos check's page.
        silent = webhook.wait("ADKerberosKDCNotAnswering", "firing", 120, domain_controller=dc2)
        assert silent["annotations"]["runbook_url"].endswith("/kerberos.md#adkerberoskdcnotanswering")
        assert not webhook.matching("ADKerberosKDCNotAnswering", "firing", domain_controller=lab.info.dcs["dc1"].fqdn)
    finally:
        lab.start_kdc("dc2")
    webhook.wait("ADDomainControllerNotAdvertisingKDC", "resolved", 120, domain_controller=dc2, role="kdc")
    webhook.wait("ADKerberosKDCNotAnswering", "resolved", 120, domain_controller=dc2)


def _dashboard_queries() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ad_health_dashboard_queries", ROOT / "grafana" / "queries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_dashboard_query_returns_data(lab, stack, watched_exporter) -> None:
    wait_until(stack.targets_up, 60, "Prometheus to scrape the exporter")
    # Every check must have reported once, and the recording rules must have been evaluated.
    wait_until(lambda: len(stack.query("ad_check_success")) >= len(TEST_INTERVALS), 120, "every check's first run")
    wait_until(lambda: stack.query("domain_controller:ad_replication_links:count"), 60, "the recording rules")
    queries = _dashboard_queries()
    target = watched_exporter.url.removeprefix("http://")
    values = {"job": monitoring_stack.JOB, "instance": re.escape(target), "domain": re.escape(lab.info.domain)}
    empty = []
    # Panels that list findings are empty in a healthy domain, so query them with the faults they exist
    # to show: DC2 stopped (failing replication links) and a dynamic DC record (Samba registers static
    # ones only; Windows DCs register dynamic ones).
    lab.stop_dc("dc2")
    try:
        with dynamic_dc_record(lab.info, "dc1", age_days=2):
            wait_until(lambda: stack.query("ad_dns_record_timestamp_seconds"), 90, "a dynamic DC record")
            wait_until(lambda: stack.query("ad_replication_consecutive_failures > 0"), 120, "failing replication links")
            for q in queries.dashboard_queries(values):
                if q.expr.strip().startswith("label_values") or not q.expr.strip():
                    continue
                if not stack.query(q.expr):
                    empty.append(f"{q.source}: {q.expr}")
    finally:
        lab.start_dc("dc2")
    assert empty == [], "dashboard queries that return no data:\n" + "\n".join(empty)

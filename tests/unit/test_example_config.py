"""The shipped example configuration is valid."""

from __future__ import annotations

from pathlib import Path

import yaml

from ad_health_exporter import config
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.accounts.settings import AccountsSettings
from ad_health_exporter.checks.spn.settings import SpnSettings
from support.builders import settings_of

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "ad-health-exporter.example.yml"


def test_example_is_valid(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    # Point the files it names at stand-ins: the example's own paths exist only on a real host.
    (tmp_path / "pw").write_text("x\n")
    (tmp_path / "ca.pem").write_text("")
    for domain in data["domains"]:
        domain["bind"]["password_file"] = "pw"
        domain["tls"]["ca_file"] = "ca.pem"
    cfg = config.parse(data, CHECKS, base=tmp_path)
    (d,) = cfg.domains
    assert d.name == "corp.example.com" and d.tls.mode == "ldaps"
    assert settings_of(d, "accounts", AccountsSettings).watched_computers == ("FS01", "SQL01")
    assert [e.account for e in settings_of(d, "spn", SpnSettings).expected] == ["svc-sql", "FS01$"]

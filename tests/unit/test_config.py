"""Configuration: every bad input gives one line naming the key and the problem; no secret leaks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ad_health_exporter import config
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.accounts.settings import AccountsSettings
from ad_health_exporter.config import ConfigError
from support.builders import settings_of

PASSWORD = "S3cret-Pa55!"


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    return tmp_path


def write(tmp: Path, body: str) -> Path:
    path = tmp / "cfg.yml"
    path.write_text(textwrap.dedent(body))
    return path


MINIMAL = """
domains:
  - name: Lab.Example.
    bind:
      user: monitor@lab.example
      password_file: pw
"""


def test_minimal_file_gets_safe_defaults(tmp: Path) -> None:
    cfg = config.load(write(tmp, MINIMAL), CHECKS)
    (d,) = cfg.domains
    assert d.name == "lab.example"
    assert d.tls.mode == "ldaps" and not d.tls.allow_insecure_bind
    assert d.ldap.port_for(d.tls.mode) == 636
    assert d.bind.password is not None and d.bind.password.reveal() == PASSWORD  # the file's newline stripped
    assert d.interval("inventory") == 60 and d.timeout("inventory") == 60
    assert settings_of(d, "accounts", AccountsSettings).password_age_days == (45, 90, 180)


def test_durations_numbers_and_go_style(tmp: Path) -> None:
    cfg = config.load(
        write(
            tmp,
            MINIMAL
            + "    intervals: {time: 90s, spn: 1h30m, dns: 120}\n"
            + "    timeouts: {time: 1m}\n    ldap: {receive_timeout: 2.5s}\n",
        ),
        CHECKS,
    )
    d = cfg.domains[0]
    assert (d.interval("time"), d.interval("spn"), d.interval("dns")) == (90, 5400, 120)
    assert d.timeout("time") == 60
    assert d.ldap.receive_timeout == 3  # rounded up to the int ldap3 needs


def test_password_from_environment(tmp: Path) -> None:
    body = MINIMAL.replace("password_file: pw", "password_env: AD_PW")
    cfg = config.load(write(tmp, body), CHECKS, environ={"AD_PW": "x" + PASSWORD})
    password = cfg.domains[0].bind.password
    assert password is not None and password.reveal() == "x" + PASSWORD
    assert "environment variable AD_PW" == cfg.domains[0].bind.password_source


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "the file is empty"),
        ("domains: []\n", "domains: must list at least one domain"),
        ("domain: []\n", "domain: unknown key; known keys: domains"),
        (MINIMAL + "    colour: blue\n", "domains[0].colour: unknown key"),
        (MINIMAL + "    tls: {mode: ldaps, verify: false}\n", "domains[0].tls.verify: unknown key"),
        (MINIMAL + "    tls: {mode: ssl}\n", "domains[0].tls.mode: must be one of ldaps, starttls, none; got 'ssl'"),
        (MINIMAL + "    tls: {mode: none}\n", "domains[0].tls: mode 'none' sends the bind password in clear text"),
        (MINIMAL + "    intervals: {time: soon}\n", "domains[0].intervals.time: must be a duration"),
        (MINIMAL + "    intervals: {tim: 5m}\n", "domains[0].intervals.tim: unknown key"),
        (
            MINIMAL + "    intervals: {time: 30s}\n    timeouts: {time: 1m}\n",
            "timeout 60s is longer than the check's interval 30s",
        ),
        (MINIMAL + "    ldap: {port: 70000}\n", "domains[0].ldap.port: must be at most 65535"),
        (MINIMAL + "    ldap: {port: '636'}\n", "domains[0].ldap.port: must be a whole number, got a string"),
        (MINIMAL + "    dns_servers: [dc1.lab.example]\n", "domains[0].dns_servers[0]: must be an IP address"),
        (MINIMAL + "    domain_controllers: dc1\n", "domains[0].domain_controllers: must be a list, got a string"),
        (
            MINIMAL + "    accounts: {password_age_days: [30, x]}\n",
            "domains[0].accounts.password_age_days[1]: must be a whole number",
        ),
        (
            MINIMAL + "    spn: {expected: [{spn: MSSQLSvc, account: svc}]}\n",
            "domains[0].spn.expected[0].spn: is not an SPN",
        ),
        (
            MINIMAL + "    spn: {expected: [{spn: http/x}]}\n",
            "domains[0].spn.expected[0]: missing required key 'account'",
        ),
        ("domains:\n  - name: lab.example\n", "domains[0]: missing required key 'bind'"),
        (
            "domains:\n  - name: 'not a name'\n    bind: {user: u, password_file: pw}\n",
            "domains[0].name: is not a valid DNS name",
        ),
        (MINIMAL.replace("password_file: pw", "password_file: nope"), "domains[0].bind.password_file: cannot read"),
        (
            MINIMAL.replace("password_file: pw", "password_env: AD_PW_UNSET_XYZ"),
            "environment variable AD_PW_UNSET_XYZ is not set",
        ),
        (
            MINIMAL.replace("      password_file: pw\n", ""),
            "domains[0].bind: give exactly one of 'password_file' or 'password_env'",
        ),
        (MINIMAL + MINIMAL.replace("domains:\n", ""), "domains[1].name: domain lab.example is configured twice"),
        ("domains: [\n", "not valid YAML at line"),
    ],
)
def test_bad_config_names_key_and_problem(tmp: Path, body: str, expected: str) -> None:
    path = write(tmp, body)
    with pytest.raises(ConfigError) as info:
        config.load(path, CHECKS, environ={})
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path))
    assert "\n" not in message
    assert PASSWORD not in message


def test_missing_file(tmp: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml: no such file"):
        config.load(tmp / "nope.yml", CHECKS)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_password_file_as_user(tmp: Path) -> None:  # pragma: no cover - CI runs as root
    (tmp / "pw").chmod(0)
    with pytest.raises(ConfigError, match="password_file: cannot read"):
        config.load(write(tmp, MINIMAL), CHECKS)


def test_password_file_that_is_a_directory(tmp: Path) -> None:
    (tmp / "pwdir").mkdir()
    with pytest.raises(ConfigError, match=r"domains\[0\]\.bind\.password_file: cannot read .*pwdir"):
        config.load(write(tmp, MINIMAL.replace("password_file: pw", "password_file: pwdir")), CHECKS)


def test_empty_password_refused(tmp: Path) -> None:
    (tmp / "pw").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        config.load(write(tmp, MINIMAL), CHECKS)


def test_secret_hides_itself(tmp: Path) -> None:
    cfg = config.load(write(tmp, MINIMAL), CHECKS)
    for text in (repr(cfg), str(cfg.domains[0].bind), f"{cfg.domains[0].bind.password}"):
        assert PASSWORD not in text


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ad_health_exporter", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, env={**os.environ, "AD_PW": ""},
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "no such file"),
        (MINIMAL + "    colour: blue\n", "domains[0].colour: unknown key"),
        (MINIMAL + "    ldap: {page_size: many}\n", "domains[0].ldap.page_size: must be a whole number"),
        (
            MINIMAL.replace("password_file: pw", "password_file: missing.pw"),
            "domains[0].bind.password_file: cannot read",
        ),
        (MINIMAL + "    tls: {mode: none}\n", "set allow_insecure_bind: true"),
    ],
)
def test_cli_exits_2_with_one_line(tmp: Path, body: str | None, expected: str) -> None:
    if body is not None:
        write(tmp, body)
    for extra in ([], ["--check-config"], ["check"]):
        proc = run_cli("--config.file", "cfg.yml", *extra, cwd=tmp)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], proc.stderr
        assert lines[0].startswith("ad-health-exporter: error: cfg.yml")
        assert PASSWORD not in proc.stdout + proc.stderr


def test_cli_check_config_ok(tmp: Path) -> None:
    write(tmp, MINIMAL)
    proc = run_cli("--config.file", "cfg.yml", "--check-config", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "configuration is valid (1 domain(s): lab.example)" in proc.stdout

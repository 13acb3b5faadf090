"""The alert bundle (alerts/build.py): the committed rules, tests and dashboard are the default build, other
settings give rules that still pass promtool and fire for the configured job, and bad settings are refused
with a one-line error naming the key."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILDER = REPO / "alerts" / "build.py"
DEFAULTS = REPO / "alerts" / "bundle.yml"
RUNBOOKS_INDEX = REPO / "docs" / "runbooks" / "README.md"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian package 'prometheus'); CI installs it",
)


def load_builder() -> ModuleType:
    # The name grafana/generate_dashboard.py loads it under, so that both share one copy.
    name = "ad_health_alert_bundle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUILDER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


bundle = load_builder()


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd,
                          timeout=300)


def build(settings: str, out: Path) -> Path:
    """Write settings to a file and build the bundle with them into out, through the command line."""
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out.parent / f"{out.name}-settings.yml"
    settings_file.write_text(settings, encoding="utf-8")
    result = subprocess.run([sys.executable, str(BUILDER), "--settings", str(settings_file), "--out", str(out)],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def alert(rules_file: Path, name: str) -> dict[str, Any]:
    doc = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    return next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == name)


# --- the committed files are the default build -----------------------------------------------------------


def test_committed_files_are_the_default_build() -> None:
    layout = bundle.Layout.committed()
    files = bundle.render(bundle.load_settings(), layout)
    stale = [str(p.relative_to(REPO)) for p, text in files.items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date, run `make alerts` (.venv/bin/python alerts/build.py): {stale}"
    stray = set(layout.tests.glob("*.yml")) - set(files)
    assert not stray, f"promtool tests built from no template in alerts/src/tests/: {sorted(stray)}"


def test_check_mode_passes_on_the_committed_files_and_fails_on_a_changed_one(tmp_path: Path) -> None:
    assert bundle.main(["--check"]) == 0
    out = tmp_path / "bundle"
    assert bundle.main(["--out", str(out)]) == 0
    assert bundle.main(["--check", "--out", str(out)]) == 0
    rules = out / "ad-health.rules.yml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("vector(30)", "vector(31)"), encoding="utf-8")
    assert bundle.main(["--check", "--out", str(out)]) == 1


# --- other settings ---------------------------------------------------------------------------------------

CUSTOM = """\
job: my-ad-exporter
runbook_base_url: https://wiki.example.com/ad-health/runbooks/
policy:
  clock_offset_critical: 3m
  machine_password_max_age: 60d
  replication_max_age: 2h
  check_stale: 30m
"""


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(CUSTOM, tmp_path_factory.mktemp("custom") / "bundle")


def test_custom_build_carries_the_settings(custom: Path) -> None:
    rules = custom / "ad-health.rules.yml"
    assert alert(rules, "ADExporterDown")["expr"] == 'up{job="my-ad-exporter"} == 0'
    assert alert(rules, "ADExporterAbsent")["expr"] == 'absent(up{job="my-ad-exporter"})'
    text = rules.read_text(encoding="utf-8")
    assert "ad-health-runbooks.invalid" not in text
    assert "runbook_url: https://wiki.example.com/ad-health/runbooks/time.md#addomaincontrollerclockdrifting" in text
    assert "expr: vector(60 * 86400)" in text and "expr: vector(3 * 60)" in text
    for test_file in (custom / "tests").glob("*.yml"):
        test_text = test_file.read_text(encoding="utf-8")
        assert "ad-health-exporter\"" not in test_text and "job: ad-health-exporter" not in test_text, test_file
        assert "ad-health-runbooks.invalid" not in test_text, test_file
    dashboard = json.loads((custom / "ad-health.json").read_text(encoding="utf-8"))
    job = next(v for v in dashboard["templating"]["list"] if v["name"] == "job")
    assert job["query"] == 'label_values(ad_exporter_build_info{job="my-ad-exporter"}, job)'
    assert f"{60 * 86400}" in json.dumps(dashboard)


@needs_promtool
def test_custom_build_passes_promtool_and_its_own_tests(custom: Path) -> None:
    checked = promtool("check", "rules", custom / "ad-health.rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = sorted((custom / "tests").glob("*.yml"))
    assert len(tests) == len(list((REPO / "alerts" / "tests").glob("*.yml")))
    tested = promtool("test", "rules", *tests)
    assert tested.returncode == 0, tested.stdout + tested.stderr


# Written here, not rendered from the templates: it fails if the rules ignore the configured job.
EXPORTER_FOR_MY_JOB = """\
rule_files: [ad-health.rules.yml]
evaluation_interval: 1m
tests:
  - name: the exporter of job my-ad-exporter is down
    interval: 1m
    input_series:
      - series: 'up{job="my-ad-exporter",instance="ad1:10088"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 5m
        alertname: ADExporterDown
        exp_alerts: []
      - eval_time: 15m
        alertname: ADExporterDown
        exp_alerts:
          - exp_labels: {severity: critical, job: my-ad-exporter, instance: "ad1:10088"}
            exp_annotations:
              summary: Prometheus cannot scrape ad-health-exporter, so no Active Directory alert can fire.
              description: The scrape of ad1:10088 (job my-ad-exporter) has failed for 10 minutes.
              runbook_url: https://wiki.example.com/ad-health/runbooks/exporter.md#adexporterdown
      - eval_time: 20m
        alertname: ADExporterAbsent
        exp_alerts: []
  - name: only a target of the default job name exists, so job my-ad-exporter is absent
    interval: 1m
    input_series:
      - series: 'up{job="ad-health-exporter",instance="ad1:10088"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 15m
        alertname: ADExporterDown
        exp_alerts: []
      - eval_time: 20m
        alertname: ADExporterAbsent
        exp_alerts:
          - exp_labels: {severity: critical, job: my-ad-exporter}
            exp_annotations:
              summary: Prometheus has no ad-health-exporter target, so no Active Directory alert can fire.
              description: No target of job my-ad-exporter has been discovered for 15 minutes.
              runbook_url: https://wiki.example.com/ad-health/runbooks/exporter.md#adexporterabsent
"""


@needs_promtool
def test_exporter_alerts_fire_for_the_configured_job(custom: Path) -> None:
    test_file = custom / "exporter-for-my-job.yml"
    test_file.write_text(EXPORTER_FOR_MY_JOB, encoding="utf-8")
    result = promtool("test", "rules", test_file.name, cwd=custom)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_a_full_selector_builds_rules_and_tests_that_pass(tmp_path: Path) -> None:
    out = build("job: ad-health-prod\nselector: 'job=~\"ad-health-(prod|lab)\", env=\"prod\"'\n", tmp_path / "b")
    rules = out / "ad-health.rules.yml"
    assert alert(rules, "ADExporterDown")["expr"] == 'up{job=~"ad-health-(prod|lab)", env="prod"} == 0'
    checked = promtool("check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", *sorted((out / "tests").glob("*.yml")))
    assert tested.returncode == 0, tested.stdout + tested.stderr


# --- bad settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ("jobs: my-ad-exporter\n", "jobs"),
        ("policy:\n  clock_skew: 30s\n", "policy.clock_skew"),
        ("job: 5\n", "job"),
        ("job: [a, b]\n", "job"),
        ("policy: 30s\n", "policy"),
        ("policy:\n  check_stale: 3600\n", "policy.check_stale"),
        ("policy:\n  check_stale: an hour\n", "policy.check_stale"),
        ("policy:\n  replication_max_age: 10m\n", "policy.replication_max_age"),
        ("policy:\n  clock_offset_warning: 5m\n", "policy.clock_offset_warning"),
        ("policy:\n  clock_offset_critical: 20s\n", "policy.clock_offset_critical"),
        ("policy:\n  tombstone_margin: 180d\n", "policy.tombstone_margin"),
        ("runbook_base_url: [https://a.example]\n", "runbook_base_url"),
        ("runbook_base_url: wiki/runbooks\n", "runbook_base_url"),
        ("job: my job\n", "job"),
        ("selector: job=my-ad-exporter\n", "selector"),
        ("selector: 'job=\"my-ad-exporter\"'\n", "selector"),
        ("selector: 'job=~\".*\"'\n", "selector"),
    ],
    ids=lambda value: value.strip().replace("\n", " ") if isinstance(value, str) else value,
)
def test_bad_settings_give_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: str, key: str
) -> None:
    settings_file = tmp_path / "bundle.yml"
    settings_file.write_text(settings, encoding="utf-8")
    out = tmp_path / "out"
    assert bundle.main(["--settings", str(settings_file), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {settings_file}: {key}: "), lines[0]
    assert not out.exists(), "nothing is written when the settings are bad"


def test_a_settings_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    settings_file = tmp_path / "bundle.yml"
    settings_file.write_text("- job: my-ad-exporter\n", encoding="utf-8")
    with pytest.raises(bundle.SettingsError, match=r"expected a mapping of settings, got a list"):
        bundle.load_settings(settings_file)


# --- documentation and make -------------------------------------------------------------------------------


def default_settings() -> dict[str, Any]:
    doc = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    flat = {k: v for k, v in doc.items() if k != "policy"}
    flat.update({f"policy.{k}": v for k, v in doc["policy"].items()})
    return flat


@pytest.mark.parametrize("key", list(default_settings()))
def test_every_setting_is_documented_with_its_default(key: str) -> None:
    value = default_settings()[key]
    shown = "null" if value is None else str(value)
    rows = re.findall(rf"^\| `{re.escape(key)}` \| `([^`]*)` \|", RUNBOOKS_INDEX.read_text("utf-8"), re.MULTILINE)
    assert rows == [shown], f"docs/runbooks/README.md must have one settings row for {key} with default {shown}"


def test_make_builds_the_bundle_without_sed() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^alerts: ", makefile, re.MULTILINE) and re.search(r"^alerts-check: ", makefile, re.MULTILINE)
    assert "alerts/build.py" in makefile
    assert not re.search(r"\bsed\b", makefile) and "runbook-url" not in makefile

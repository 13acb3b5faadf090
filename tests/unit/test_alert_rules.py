"""Checks on alerts/ad-health.rules.yml: promtool, style, runbooks, unit-test coverage, metric names."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from ad_health_exporter import metrics

REPO = Path(__file__).resolve().parents[2]
RULES_FILE = REPO / "alerts" / "ad-health.rules.yml"
RULE_TESTS_DIR = REPO / "alerts" / "tests"
RUNBOOKS_DIR = REPO / "docs" / "runbooks"

SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_PARTS = ("Meaning", "Impact", "Diagnosis", "Mitigation", "If that does not fix it")
POLICY_PREFIX = "ad_policy:"
MIN_FOR_SECONDS = 3 * 60

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian package 'prometheus'); CI installs it",
)


def known_metric_names() -> frozenset[str]:
    """The metric names rules may use: the exporter's catalogue, plus Prometheus' own `up`."""
    return frozenset(spec.name for spec in metrics.ALL) | {"up"}


@dataclass(frozen=True)
class Rule:
    group: str
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return self.body.get("alert") or self.body["record"]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.body


def load_rules() -> list[Rule]:
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [Rule(group["name"], rule) for group in doc["groups"] for rule in group["rules"]]


ALL_RULES = load_rules()
ALERTS = [r for r in ALL_RULES if r.is_alert]
RECORDS = [r for r in ALL_RULES if not r.is_alert]
RECORD_NAMES = {r.name for r in RECORDS}


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = re.findall(r"(\d+)([smhdw])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * units[u] for n, u in parts)


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def markdown_sections(path: Path) -> dict[str, str]:
    """Level-2 sections of a page, keyed by their anchor."""
    sections: dict[str, str] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^## (.+)$", line)
        if match:
            current = github_anchor(match.group(1))
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def all_anchors(path: Path) -> set[str]:
    return {
        github_anchor(m.group(1))
        for m in re.finditer(r"^#{1,6} (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    }


# --- promtool -------------------------------------------------------------------------------------------


@needs_promtool
def test_promtool_check_rules_is_clean() -> None:
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALL_RULES)} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    files = rule_test_files()
    assert files, f"no promtool unit tests in {RULE_TESTS_DIR}"
    result = subprocess.run(
        [PROMTOOL, "test", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- style ----------------------------------------------------------------------------------------------


def test_alert_names_are_camel_case_with_the_ad_prefix_and_unique() -> None:
    names = [a.name for a in ALERTS]
    assert len(names) == len(set(names)), "duplicate alert names"
    bad = [n for n in names if not re.fullmatch(r"AD[A-Z][A-Za-z0-9]+", n)]
    assert not bad, f"alert names must be CamelCase with the AD prefix: {bad}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alert_has_severity_summary_description_and_runbook(alert: Rule) -> None:
    labels = alert.body.get("labels", {})
    annotations = alert.body.get("annotations", {})
    assert labels.get("severity") in SEVERITIES, f"{alert.name}: severity must be one of {SEVERITIES}"
    summary = annotations.get("summary", "")
    assert summary, f"{alert.name}: no summary"
    assert "{{" not in summary, f"{alert.name}: the summary must be static"
    assert re.fullmatch(r"[A-Z][^.!?]*(\.[^ .!?][^.!?]*)*\.", summary), (
        f"{alert.name}: the summary must be one sentence: {summary!r}"
    )
    description = annotations.get("description", "")
    assert "{{ $labels." in description, f"{alert.name}: the description must name what is affected"
    assert annotations.get("runbook_url"), f"{alert.name}: no runbook_url"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alert_waits_before_firing(alert: Rule) -> None:
    assert "for" in alert.body, f"{alert.name}: no `for:`, one bad sample would notify"
    assert duration_seconds(alert.body["for"]) >= MIN_FOR_SECONDS, f"{alert.name}: `for:` too short"


# --- runbooks -------------------------------------------------------------------------------------------


def test_runbook_urls_share_one_base() -> None:
    bases = {a.body["annotations"]["runbook_url"].rsplit("/", 1)[0] for a in ALERTS}
    assert len(bases) == 1, f"runbook_url bases differ: {sorted(bases)}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_runbook_url_points_at_an_existing_section(alert: Rule) -> None:
    url = alert.body["annotations"]["runbook_url"]
    match = re.fullmatch(r"[a-z]+://[^#]+/(?P<page>[a-z0-9-]+\.md)#(?P<anchor>[a-z0-9-]+)", url)
    assert match, f"{alert.name}: runbook_url must be <base>/<page>.md#<anchor>, got {url!r}"
    assert match["anchor"] == alert.name.lower(), f"{alert.name}: anchor must be the lower-case alert name"
    page = RUNBOOKS_DIR / match["page"]
    assert page.is_file(), f"{alert.name}: runbook page {page} does not exist"
    assert match["anchor"] in markdown_sections(page), f"{alert.name}: no '## {alert.name}' in {page.name}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_runbook_section_has_every_part(alert: Rule) -> None:
    page = RUNBOOKS_DIR / alert.body["annotations"]["runbook_url"].split("#")[0].rsplit("/", 1)[1]
    section = markdown_sections(page)[alert.name.lower()]
    positions = [section.find(f"**{part}**") for part in RUNBOOK_PARTS]
    assert -1 not in positions, f"{alert.name}: runbook section lacks one of {RUNBOOK_PARTS}"
    assert positions == sorted(positions), f"{alert.name}: runbook parts out of order"


def test_runbook_links_between_pages_resolve() -> None:
    broken = []
    for page in RUNBOOKS_DIR.glob("*.md"):
        for target, anchor in re.findall(r"\]\(([A-Za-z0-9-]*\.md)?#([a-z0-9-]+)\)", page.read_text("utf-8")):
            linked = RUNBOOKS_DIR / target if target else page
            if not linked.is_file() or anchor not in all_anchors(linked):
                broken.append(f"{page.name} -> {target}#{anchor}")
    assert not broken, f"broken runbook links: {broken}"


def test_runbook_index_lists_every_alert_with_its_severity() -> None:
    index = (RUNBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (AD[A-Za-z0-9]+) \| (\w+) \|", index, re.MULTILINE))
    expected = {a.name: a.body["labels"]["severity"] for a in ALERTS}
    assert rows == expected


# --- unit-test coverage ---------------------------------------------------------------------------------


def load_rule_tests() -> list[dict[str, Any]]:
    loaded = []
    for path in rule_test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        rule_files = [(path.parent / f).resolve() for f in doc.get("rule_files", [])]
        assert rule_files == [RULES_FILE.resolve()], f"{path.name} must test {RULES_FILE}"
        loaded.extend(doc.get("tests", []))
    return loaded


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_alert_has_unit_tests_for_boundary_firing_and_resolution(alert: Rule) -> None:
    cases = [
        (duration_seconds(case["eval_time"]), bool(case.get("exp_alerts")))
        for test in load_rule_tests()
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert.name
    ]
    firing = [t for t, fires in cases if fires]
    silent = [t for t, fires in cases if not fires]
    assert firing, f"{alert.name}: no unit test where it fires"
    assert any(t < min(firing) for t in silent), f"{alert.name}: no unit test where it stays silent first"
    assert any(t > max(firing) for t in silent), f"{alert.name}: no unit test where it resolves"


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if not r.name.startswith(POLICY_PREFIX)], ids=lambda r: r.name
)
def test_recording_rule_has_a_unit_test(record: Rule) -> None:
    tested = {
        sel.name
        for test in load_rule_tests()
        for case in test.get("promql_expr_test", [])
        if case.get("exp_samples")
        for sel in selectors(case["expr"])
    }
    assert record.name in tested, f"{record.name}: no promql_expr_test with expected samples"


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if r.name.startswith(POLICY_PREFIX)], ids=lambda r: r.name
)
def test_policy_threshold_is_used_and_documented(record: Rule) -> None:
    users = [a.name for a in ALERTS if record.name in {s.name for s in selectors(a.body["expr"])}]
    assert users, f"{record.name} is used by no alert"
    index = (RUNBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    row = re.search(rf"^\|.*\| `{re.escape(record.name)}`[^|]*\|.*$", index, re.MULTILINE)
    assert row, f"{record.name} is missing from the thresholds table in docs/runbooks/README.md"
    assert f"`{record.body['expr'].strip()}`" in row.group(0), (
        f"{record.name}: the documented expression differs from the rule's {record.body['expr']!r}"
    )
    for user in users:
        assert user in row.group(0), f"{record.name}: the table does not say that {user} uses it"


# --- metric names ---------------------------------------------------------------------------------------


def referenced_metric_names(rule: Rule) -> set[str]:
    names = {s.name for s in selectors(rule.body["expr"]) if s.name}
    # Annotations may query other series through the `query` template function.
    for text in rule.body.get("annotations", {}).values():
        names.update(re.findall(r'printf\s+"([a-zA-Z_:][a-zA-Z0-9_:]*)\{', text))
    return names


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_rule_uses_only_contract_metrics(rule: Rule) -> None:
    unknown = referenced_metric_names(rule) - known_metric_names() - RECORD_NAMES
    assert not unknown, f"{rule.name} uses metrics outside the catalogue (metrics.py): {sorted(unknown)}"


def test_every_selector_names_its_metric() -> None:
    nameless = [r.name for r in ALL_RULES if any(not s.name for s in selectors(r.body["expr"]))]
    assert not nameless, f"selectors without a metric name escape the contract check: {nameless}"


def test_exporter_job_selector_is_one_value_shared_with_the_tests() -> None:
    jobs = set()
    for rule in ALL_RULES:
        for sel in selectors(rule.body["expr"]):
            if sel.name == "up":
                matchers = [m for m in sel.matchers.matchers if m.name == "job"]
                assert len(matchers) == 1 and matchers[0].op == promql_parser.MatchOp.Equal, rule.name
                jobs.add(matchers[0].value)
    assert len(jobs) == 1, f"the exporter's job must be selected the same way everywhere: {jobs}"
    job = jobs.pop()
    tested = " ".join(path.read_text(encoding="utf-8") for path in rule_test_files())
    assert f'up{{job="{job}"' in tested, f"no unit test feeds up{{job={job!r}}}"

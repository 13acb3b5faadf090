"""Checks on the Grafana dashboard: generated JSON is current, and it follows the key dashboard-linter rules.

The linter rules implemented here: template-datasource, template-job, template-instance,
template-on-time-change-reload, template-label-promql, panel-datasource, panel-title-description,
panel-units, panel-no-targets, target-promql, target-job, target-instance, target-rate-interval,
uneditable-dashboard; plus no hard-coded data source uid, a stable uid, and metric names from the contract.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import pytest
import yaml

from ad_health_exporter import metrics

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "ad-health.json"
RULES_FILE = REPO / "alerts" / "ad-health.rules.yml"

# Links and bookmarks use the uid: it must never change.
STABLE_UID = "ad-health"
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
LABEL_VARIABLES = {"job": "Job", "instance": "Instance", "domain": "Domain"}
# Metrics without a domain label; every other selector must filter on $domain.
WITHOUT_DOMAIN = {"up", "ad_exporter_build_info"}
# Grafana unit ids (a subset of the linter's list, covering what a dashboard of this kind may use).
VALID_UNITS = {
    "none", "string", "short", "percent", "percentunit", "sci", "locale",
    "ns", "µs", "ms", "s", "m", "h", "d", "dtdurationms", "dtdurations", "dthms", "dtdhms", "clockms", "clocks",
    "dateTimeAsIso", "dateTimeAsIsoNoDateIfToday", "dateTimeAsLocal", "dateTimeAsSystem", "dateTimeFromNow",
    "bool", "bool_yes_no", "bool_on_off", "bytes", "decbytes", "cps", "ops", "reqps",
}
PANELS_WITH_UNITS = {"stat", "singlestat", "graph", "table", "timeseries", "gauge", "bargauge", "state-timeline"}

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian package 'prometheus'); CI installs it",
)


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


generator = load_module("ad_health_generate_dashboard", GRAFANA / "generate_dashboard.py")
queries = load_module("ad_health_dashboard_queries", GRAFANA / "queries.py")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def visual_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard["panels"]) if p["type"] != "row"]


def targets(dashboard: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, t) for p in visual_panels(dashboard) for t in p.get("targets", [])]


def parse(expr: str) -> promql_parser.Expr:
    """Parse as the linter does: variables inside strings stay; built-in interval variables get a value."""
    return promql_parser.parse(queries.substitute(expr, {}, "test") if "$__" in expr else expr)


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []
    promql_parser.walk(parse(expr), lambda n: found.append(n) if isinstance(n, promql_parser.VectorSelector) else None)
    return found


def variable(dashboard: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [v for v in dashboard["templating"]["list"] if v["name"] == name]
    assert len(matches) == 1, f"expected one variable named {name!r}"
    return matches[0]


def datasource_refs(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield f"{path}.{key}", value
            yield from datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from datasource_refs(value, f"{path}[{i}]")


def known_metric_names() -> set[str]:
    """What panels may use: the exporter's catalogue, Prometheus' own `up`, and the recording rules."""
    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    return {spec.name for spec in metrics.ALL} | {"up"} | recorded


# --- generated, stable ------------------------------------------------------------------------------------


def test_committed_json_matches_the_generator() -> None:
    assert DASHBOARD_FILE.read_text(encoding="utf-8") == generator.render(), (
        "grafana/dashboards/ad-health.json is out of date: run .venv/bin/python grafana/generate_dashboard.py"
    )


def test_uid_is_stable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == STABLE_UID
    assert len(dashboard["uid"]) <= 40


def test_dashboard_is_not_an_export_for_sharing(dashboard: dict[str, Any]) -> None:
    assert "__inputs" not in dashboard and "__requires" not in dashboard
    assert "${DS_" not in DASHBOARD_FILE.read_text(encoding="utf-8")


def test_dashboard_is_uneditable(dashboard: dict[str, Any]) -> None:
    assert dashboard["editable"] is False


def test_panel_ids_are_unique_and_panels_fit_the_grid(dashboard: dict[str, Any]) -> None:
    panels = list(all_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{p['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = p["title"]


# --- data source ------------------------------------------------------------------------------------------


def test_datasource_variable_is_present(dashboard: dict[str, Any]) -> None:
    sources = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert len(sources) == 1
    assert sources[0]["name"] == "datasource"
    assert sources[0]["label"] == "Data source"
    assert sources[0]["query"] == "prometheus"


def test_no_hard_coded_datasource_anywhere(dashboard: dict[str, Any]) -> None:
    refs = list(datasource_refs(dashboard))
    assert refs, "no data source references at all"
    bad = [(path, ref) for path, ref in refs if ref != DATASOURCE_REF]
    assert not bad, f"data source references must be {DATASOURCE_REF}: {bad}"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for panel in visual_panels(dashboard):
        assert panel.get("datasource") == DATASOURCE_REF, panel["title"]
        for target in panel.get("targets", []):
            assert target.get("datasource", DATASOURCE_REF) == DATASOURCE_REF, panel["title"]


# --- variables --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LABEL_VARIABLES)
def test_label_variable_follows_the_linter(dashboard: dict[str, Any], name: str) -> None:
    var = variable(dashboard, name)
    assert var["type"] == "query"
    assert var["datasource"] == DATASOURCE_REF
    assert var["label"] == LABEL_VARIABLES[name]
    assert var["multi"] is True
    assert var["includeAll"] is True and var["allValue"] == ".+"
    assert var["refresh"] == 2, "variables must reload when the time range changes"


@pytest.mark.parametrize("name", LABEL_VARIABLES)
def test_label_variable_query_is_valid_and_narrowed_by_the_ones_before(dashboard: dict[str, Any], name: str) -> None:
    query_text = variable(dashboard, name)["query"]
    promql = queries.label_values_as_promql(query_text, name)
    sels = selectors(promql)
    assert len(sels) == 1 and sels[0].name in known_metric_names()
    earlier = list(LABEL_VARIABLES)[: list(LABEL_VARIABLES).index(name)]
    matchers = {(m.name, m.value) for m in sels[0].matchers.matchers if m.op == promql_parser.MatchOp.Re}
    assert matchers == {(e, f"${e}") for e in earlier}


# --- panels -----------------------------------------------------------------------------------------------


def test_every_panel_has_a_title_and_a_description(dashboard: dict[str, Any]) -> None:
    for panel in all_panels(dashboard["panels"]):
        assert panel.get("title", "").strip(), f"panel {panel['id']} has no title"
        if panel["type"] != "row":
            assert len(panel.get("description", "").strip()) >= 20, f"{panel['title']!r} has no description"


def test_every_panel_has_targets(dashboard: dict[str, Any]) -> None:
    empty = [p["title"] for p in visual_panels(dashboard) if not p.get("targets")]
    assert not empty


def test_every_panel_sets_a_valid_unit(dashboard: dict[str, Any]) -> None:
    for panel in visual_panels(dashboard):
        if panel["type"] not in PANELS_WITH_UNITS:
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit in VALID_UNITS, f"{panel['title']!r}: unit {unit!r}"
        for override in panel["fieldConfig"].get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in VALID_UNITS, f"{panel['title']!r}: override unit {prop['value']!r}"


# --- targets ----------------------------------------------------------------------------------------------


def test_every_target_is_promql_the_parser_accepts(dashboard: dict[str, Any]) -> None:
    for panel, target in targets(dashboard):
        try:
            parse(target["expr"])
        except ValueError as err:  # the parser's error for PromQL it does not accept
            pytest.fail(f"{panel['title']!r} target {target['refId']}: {err}")


def test_every_selector_filters_on_job_instance_and_domain(dashboard: dict[str, Any]) -> None:
    for panel, target in targets(dashboard):
        for sel in selectors(target["expr"]):
            regex = {m.name: m.value for m in sel.matchers.matchers if m.op == promql_parser.MatchOp.Re}
            where = f"{panel['title']!r} target {target['refId']} selector {sel.name}"
            assert regex.get("job") == "$job", f"{where}: no job=~\"$job\""
            assert regex.get("instance") == "$instance", f"{where}: no instance=~\"$instance\""
            if sel.name not in WITHOUT_DOMAIN:
                assert regex.get("domain") == "$domain", f"{where}: no domain=~\"$domain\""


def test_range_vectors_use_rate_interval(dashboard: dict[str, Any]) -> None:
    for panel, target in targets(dashboard):
        for window in re.findall(r"\[([^\]]*)\]", target["expr"]):
            assert window == "$__rate_interval", f"{panel['title']!r}: range [{window}]"


def test_every_target_has_a_unique_ref_id(dashboard: dict[str, Any]) -> None:
    for panel in visual_panels(dashboard):
        refs = [t.get("refId") for t in panel.get("targets", [])]
        assert all(refs) and len(refs) == len(set(refs)), panel["title"]


def test_panels_use_only_contract_metrics(dashboard: dict[str, Any]) -> None:
    known = known_metric_names()
    for panel, target in targets(dashboard):
        unknown = {s.name for s in selectors(target["expr"])} - known
        assert not unknown, f"{panel['title']!r} uses {sorted(unknown)}, not in the metric catalogue"


ALL_VALUES = {"job": ".+", "instance": ".+", "domain": ".+"}


@needs_promtool
def test_every_expression_is_valid_for_prometheus(tmp_path: Path) -> None:
    """Prometheus' own parser and type checker, through `promtool check rules`."""
    exprs = queries.dashboard_queries(ALL_VALUES)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": q.expr} for i, q in enumerate(exprs)
    ]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the panels compute ------------------------------------------------------------------------------


def series(metric: str, value: float, **labels: str) -> dict[str, str]:
    base = {"job": "ad-health-exporter", "instance": "localhost:10088", "domain": "lab.example"}
    text = ",".join(f'{k}="{v}"' for k, v in {**base, **labels}.items())
    return {"series": f"{metric}{{{text}}}", "values": f"{value}x20"}


# One or more findings per category, plus near-misses the alerts ignore too.
FINDINGS_INPUT = [
    series("ad_domain_controller_time_offset_seconds", 45, domain_controller="dc1", source="ntp"),
    series("ad_domain_controller_time_probe_success", 1, domain_controller="dc1", source="ntp"),
    series("ad_domain_controller_time_offset_seconds", 45, domain_controller="dc2", source="ntp"),
    series("ad_domain_controller_time_probe_success", 0, domain_controller="dc2", source="ntp"),
    series("ad_domain_controller_time_offset_seconds", -30, domain_controller="dc3", source="ldap"),
    series("ad_domain_controller_time_probe_success", 1, domain_controller="dc3", source="ldap"),
    series("ad_domain_controller_ntp_leap", 3, domain_controller="dc1"),
    series("ad_domain_controller_ntp_stratum", 16, domain_controller="dc2"),
    series("ad_spn_duplicates", 2),
    series("ad_spn_expected_holders", 0, spn="http/a", account="svc_a"),
    series("ad_spn_expected_on_account", 0, spn="http/a", account="svc_a"),
    series("ad_spn_expected_holders", 1, spn="http/b", account="svc_b"),
    series("ad_spn_expected_on_account", 0, spn="http/b", account="svc_b"),
    series("ad_spn_expected_holders", 1, spn="http/c", account="svc_c"),
    series("ad_spn_expected_on_account", 1, spn="http/c", account="svc_c"),
    series("ad_computer_account_present", 0, computer="FS01"),
    series("ad_computer_account_enabled", 0, computer="FS01"),
    series("ad_computer_account_present", 1, computer="FS02"),
    series("ad_computer_account_enabled", 0, computer="FS02"),
    series("ad_computer_password_last_set_timestamp_seconds", -9000000, computer="FS02"),
    series("ad_computer_account_present", 1, computer="FS03"),
    series("ad_computer_account_enabled", 1, computer="FS03"),
    series("ad_computer_password_last_set_timestamp_seconds", -9000000, computer="FS03"),
    series("ad_domain_controller_up", 1, domain_controller="dc1"),
    series("ad_domain_controller_up", 0, domain_controller="dc2"),
    series("ad_dns_stale_addresses", 1, domain_controller="dc1", dns_server="ns1"),
    series("ad_dns_stale_addresses", 2, domain_controller="dc2", dns_server="ns1"),
    series("ad_dns_srv_unknown_targets", 1, record="_ldap._tcp", dns_server="ns1"),
    series("ad_dns_srv_missing_domain_controllers", 2, record="_kerberos._tcp", dns_server="ns1"),
    series("ad_dns_dsa_alias_present", 0, domain_controller="dc1", dns_server="ns1"),
    series("ad_replication_consecutive_failures", 3, domain_controller="dc1", naming_context="DC=a", source="dc2"),
    series("ad_replication_last_success_timestamp_seconds", 500, domain_controller="dc1", naming_context="DC=a",
           source="dc2"),
    series("ad_replication_consecutive_failures", 0, domain_controller="dc2", naming_context="DC=a", source="dc1"),
    series("ad_replication_last_success_timestamp_seconds", -90000, domain_controller="dc2", naming_context="DC=a",
           source="dc1"),
]
# Time: dc1 offset, dc1 leap. SPN: 2 duplicated, svc_a missing, svc_b misplaced. Accounts: FS01 missing,
# FS02 disabled (its old password not counted again), FS03 old password. DNS: dc1 stale address (dc2 is
# down, so its addresses are not counted), one unknown target, two missing DCs, dc1's alias.
# Replication: one failing link, one a day old. Unreachable: dc2.
EXPECTED_FINDINGS = {"Time": 2, "SPN": 4, "Accounts": 3, "DNS": 5, "Replication": 2, "Unreachable DCs": 1}


@needs_promtool
def test_findings_per_category_count_what_the_alerts_count(dashboard: dict[str, Any], tmp_path: Path) -> None:
    panel = next(p for p in visual_panels(dashboard) if p["title"] == "Findings per category")
    assert {t["legendFormat"] for t in panel["targets"]} == set(EXPECTED_FINDINGS)
    tests = [
        {"expr": queries.substitute(t["expr"], ALL_VALUES, t["legendFormat"]), "eval_time": "10m",
         "exp_samples": [{"labels": "{}", "value": EXPECTED_FINDINGS[t["legendFormat"]]}]}
        for t in panel["targets"]
    ]
    (tmp_path / "empty.rules.yml").write_text("groups: []\n", encoding="utf-8")
    test_file = tmp_path / "findings.yml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": ["empty.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": FINDINGS_INPUT, "promql_expr_test": tests}],
    }), encoding="utf-8")
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True,
                            check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- thresholds from the alert policy ---------------------------------------------------------------------


def override(panel: dict[str, Any], column: str, prop: str) -> Any:
    for o in panel["fieldConfig"]["overrides"]:
        if o["matcher"] == {"id": "byName", "options": column}:
            for p in o["properties"]:
                if p["id"] == prop:
                    return p["value"]
    raise AssertionError(f"{panel['title']!r} has no {prop} override for {column!r}")


def policy_records() -> dict[str, float]:
    """The `ad_policy:<name>` records of the committed rules, each `vector(<arithmetic on numbers>)`."""
    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    found = {}
    for rule in (r for g in rules["groups"] for r in g["rules"] if r.get("record", "").startswith("ad_policy:")):
        match = re.fullmatch(r"vector\(([0-9 ()*+-]+)\)", rule["expr"].strip())
        assert match, f"{rule['record']}: not vector(<arithmetic on numbers>): {rule['expr']!r}"
        found[rule["record"].removeprefix("ad_policy:")] = float(eval(match[1], {"__builtins__": {}}))
    return found


def test_policy_is_the_one_of_the_alert_rules() -> None:
    policy, _ = generator.from_settings()
    assert dataclasses.asdict(policy) == policy_records()


def test_thresholds_come_from_the_alert_policy(dashboard: dict[str, Any]) -> None:
    policy = generator.Policy(**policy_records())
    panels = {p["title"]: p for p in visual_panels(dashboard)}
    clock = [s["value"] for s in panels["Clock offset per DC"]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    warn, crit = policy.clock_offset_warning_seconds, policy.clock_offset_critical_seconds
    assert clock == [None, -crit, -warn, warn, crit]
    password = override(panels["Watched computer accounts"], "Password age", "thresholds")["steps"]
    assert password[-1]["value"] == policy.machine_password_max_age_seconds
    krbtgt = panels["krbtgt password age"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert krbtgt[-1]["value"] == policy.krbtgt_password_max_age_seconds
    since = override(panels["Check runs"], "Since last success", "thresholds")["steps"]
    assert since[-1]["value"] == policy.check_stale_seconds


def scrape_panel(built: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in all_panels(built["panels"]) if p.get("title") == "Exporter scrape")


def test_scrape_panel_and_job_variable_select_the_exporter_targets(dashboard: dict[str, Any]) -> None:
    """`up` exists for every target: the panel must not show other jobs when the job variable is All."""
    _, selector = generator.from_settings()
    assert selector == 'job="ad-health-exporter"'
    (target,) = scrape_panel(dashboard)["targets"]
    (up,) = selectors(target["expr"])
    equal = {m.name: m.value for m in up.matchers.matchers if m.op == promql_parser.MatchOp.Equal}
    assert equal == {"job": "ad-health-exporter"}
    assert variable(dashboard, "job")["query"] == f"label_values(ad_exporter_build_info{{{selector}}}, job)"


def test_dashboard_follows_the_bundle_settings(tmp_path: Path) -> None:
    settings = tmp_path / "bundle.yml"
    settings.write_text("job: my-ad-exporter\npolicy:\n  machine_password_max_age: 60d\n", encoding="utf-8")
    policy, selector = generator.from_settings(settings)
    assert policy.machine_password_max_age_seconds == 60 * 86400 and selector == 'job="my-ad-exporter"'
    built = generator.build(policy, selector)
    panel = next(p for p in built["panels"] if p["title"] == "Watched computer accounts")
    assert override(panel, "Password age", "thresholds")["steps"][-1]["value"] == 60 * 86400
    assert 'job="my-ad-exporter"' in scrape_panel(built)["targets"][0]["expr"]
    assert variable(built, "job")["query"] == 'label_values(ad_exporter_build_info{job="my-ad-exporter"}, job)'


def test_bad_settings_are_refused_with_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bundle.yml"
    bad.write_text("policy:\n  clock_offset_critical: soon\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"policy\.clock_offset_critical"):
        generator.from_settings(bad)


# --- the queries helper -----------------------------------------------------------------------------------


def test_queries_helper_lists_every_target_and_variable_substituted(dashboard: dict[str, Any]) -> None:
    values = {"job": "ad-health-exporter", "instance": "localhost:10088", "domain": "lab\\.example"}
    listed = queries.dashboard_queries(values)
    panel_queries = [q for q in listed if q.source.startswith("panel ")]
    assert len(panel_queries) == len(targets(dashboard))
    assert len(listed) - len(panel_queries) == len(LABEL_VARIABLES)
    for q in listed:
        assert "$" not in q.expr, q
        promql_parser.parse(q.expr)
    for panel, target in targets(dashboard):
        expected = target["expr"].replace("$job", values["job"]).replace("$instance", values["instance"])
        expected = expected.replace("$domain", "lab\\\\.example")  # escaped for the PromQL string
        assert any(q.expr == expected for q in panel_queries), panel["title"]


def test_queries_helper_names_a_variable_without_value() -> None:
    with pytest.raises(KeyError, match=r"\$domain"):
        queries.dashboard_queries({"job": ".+", "instance": ".+"})


def test_queries_helper_leaves_regex_group_references_alone() -> None:
    expr = 'label_replace(up{job=~"$job"}, "host", "$1", "instance", "(.*):.*")'
    assert queries.substitute(expr, {"job": "a"}, "test") == expr.replace("$job", "a")


# --- provisioning -----------------------------------------------------------------------------------------


def test_datasource_provisioning() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text("utf-8"))
    assert doc["apiVersion"] == 1
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")


def test_dashboard_provisioning() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ad-health.yml").read_text("utf-8"))
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["folder"]
    assert provider["options"]["path"].startswith("/")
    assert provider["allowUiUpdates"] is False, "generated dashboards must not be edited in the UI"
    for path in (GRAFANA / "provisioning").rglob("*"):
        if path.is_file():
            assert "__inputs" not in path.read_text(encoding="utf-8"), path

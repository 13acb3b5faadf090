"""Every PromQL expression of the dashboard, with its template variables replaced by given values.

Used by tests that run the dashboard's queries against a live Prometheus. Load it by path (grafana/ is not a
package):

    import importlib.util
    spec = importlib.util.spec_from_file_location("ad_health_dashboard_queries", "grafana/queries.py")
    queries = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(queries)
    for q in queries.dashboard_queries({"job": "ad-health-exporter", "instance": ".+", "domain": ".+"}):
        ...  # GET /api/v1/query?query=<q.expr>

or from a shell: `python grafana/queries.py job=ad-health-exporter instance=.+ domain=lab.example`.

Every variable of the dashboard sits inside a `=~"..."` matcher, so a value is a regular expression
(`.+` stands for "All", `lab\\.example` matches one domain) and is escaped for the PromQL string it lands in.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARD_FILE = Path(__file__).resolve().parent / "dashboards" / "ad-health.json"

# Grafana's built-in variables, with values that suit an instant query.
BUILTIN_VALUES = {
    "__interval": "1m",
    "__interval_ms": "60000",
    "__rate_interval": "5m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

# $name, ${name}, ${name:format} and [[name]]; names start with a letter or "_" so that "$1" in
# label_replace replacements is left alone.
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[A-Za-z_]\w*)\s*\)\s*$", re.S)


@dataclass(frozen=True)
class DashboardQuery:
    """One query: a panel target, or the PromQL equivalent of a variable's label_values()."""

    source: str  # "panel <id> '<title>' target <refId>" or "variable <name>"
    expr: str
    instant: bool


def promql_string_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def substitute(expr: str, values: Mapping[str, str], where: str) -> str:
    """Replace template variables in expr; a variable without a value is an error naming it.

    Given values are escaped for a double-quoted PromQL string, where the dashboard's variables sit.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            return promql_string_escape(values[name])
        if name in BUILTIN_VALUES:
            return BUILTIN_VALUES[name]
        raise KeyError(f"{where}: no value given for template variable ${name} in {expr!r}")

    return _VARIABLE.sub(replace, expr)


def label_values_as_promql(definition: str, where: str) -> str:
    """label_values(selector, label) -> group by (label) (selector): the series behind the variable."""
    match = _LABEL_VALUES.match(definition)
    if not match:
        raise ValueError(f"{where}: not a label_values() query: {definition!r}")
    label = match["label"]
    selector = match["selector"] or f'{{{label}!=""}}'
    return f"group by ({label}) ({selector})"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows keep their panels inside


def _variable_query(variable: dict[str, Any]) -> str:
    text = variable.get("query", "")
    return text.get("query", "") if isinstance(text, dict) else text


def dashboard_queries(
    values: Mapping[str, str],
    dashboard_file: Path = DASHBOARD_FILE,
    *,
    include_variables: bool = True,
) -> list[DashboardQuery]:
    """All queries of the dashboard in panel order (variables first), variables substituted."""
    dashboard = json.loads(dashboard_file.read_text(encoding="utf-8"))
    result = []
    if include_variables:
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            where = f"variable {variable['name']}"
            promql = label_values_as_promql(_variable_query(variable), where)
            result.append(DashboardQuery(where, substitute(promql, values, where), instant=True))
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" not in target or target.get("hide"):
                continue
            where = f"panel {panel.get('id')} {panel.get('title', '')!r} target {target.get('refId', '')}"
            result.append(DashboardQuery(where, substitute(target["expr"], values, where),
                                         instant=bool(target.get("instant"))))
    return result


def main(argv: list[str]) -> int:
    try:
        values = dict(arg.split("=", 1) for arg in argv)
    except ValueError:
        print("usage: queries.py name=value ...  (e.g. job=ad-health-exporter instance=.+ domain=.+)",
              file=sys.stderr)
        return 2
    try:
        queries = dashboard_queries(values)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 1
    for q in queries:
        print(f"# {q.source}\n{q.expr}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

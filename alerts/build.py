"""Build the alert bundle (rules, their promtool tests, dashboard) from the settings in alerts/bundle.yml.

    .venv/bin/python alerts/build.py                                      # rebuild the committed files
    .venv/bin/python alerts/build.py --check                              # exit 1 if they are out of date
    .venv/bin/python alerts/build.py --settings my.yml --out build/alerts # your settings, elsewhere

Settings: alerts/bundle.yml holds every key with its default; --settings names a file that sets any of them
again (the `policy` mapping key by key). Keys and their rules: docs/runbooks/README.md.

Output: without --out, the committed files alerts/ad-health.rules.yml, alerts/tests/*.yml and
grafana/dashboards/ad-health.json; with --out DIR, DIR/ad-health.rules.yml, DIR/tests/*.yml and
DIR/ad-health.json (run `promtool test rules DIR/tests/*.yml`).

The rules and tests are rendered from the templates in alerts/src/. A `${...}` in a template is an expression
over the settings: names (job, selector, runbook_base_url, each policy key in seconds, tombstone_alert, and
the exporter tests' label sets in template_names()), whole numbers, + - * //, and the functions duration()
and timestamp() (Prometheus' humanizeDuration and humanizeTimestamp), prose() ("a day", "45 days";
prose(x, "one") says "one day"), promql() and promql_difference() (seconds as PromQL arithmetic: 4 * 60,
(180 - 30) * 86400), yaml() (text as a YAML scalar, quoted only where needed), min() and max(). A `${...}`
alone on its line may stand for several lines, indented like it, or for none. The dashboard is built by
grafana/generate_dashboard.py with the same policy and selector.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import functools
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULTS_FILE = HERE / "bundle.yml"
TEMPLATES = HERE / "src"
RULES_TEMPLATE = TEMPLATES / "ad-health.rules.yml"
TEST_TEMPLATES = TEMPLATES / "tests"
DASHBOARD_GENERATOR = REPO / "grafana" / "generate_dashboard.py"

RULES_NAME = "ad-health.rules.yml"
TESTS_DIR = "tests"
DASHBOARD_NAME = "ad-health.json"


@dataclass(frozen=True)
class Layout:
    """Where the three parts of the bundle go."""

    rules: Path
    tests: Path
    dashboard: Path

    @classmethod
    def committed(cls) -> Layout:
        return cls(HERE / RULES_NAME, HERE / TESTS_DIR, REPO / "grafana" / "dashboards" / DASHBOARD_NAME)

    @classmethod
    def under(cls, out: Path) -> Layout:
        return cls(out / RULES_NAME, out / TESTS_DIR, out / DASHBOARD_NAME)


class SettingsError(ValueError):
    """A bad setting; the message is one line naming the file and the key."""


# --- durations ----------------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str) -> int:
    """Seconds in a Prometheus duration such as 30s, 4m, 1h30m or 45d; ValueError for anything else."""
    if not _DURATION.fullmatch(text):
        raise ValueError(text)
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))


# --- the exporter selector ----------------------------------------------------------------------------------

_MATCHER = re.compile(r'\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*')
_ESCAPES = {"\\": "\\", '"': '"'}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def text(self) -> str:
        return f'{self.name}{self.op}"{promql_escape(self.value)}"'

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            return (actual == self.value) == (self.op == "=")
        # Prometheus anchors its regular expressions at both ends.
        return (re.fullmatch(self.value, actual) is not None) == (self.op == "=~")


def promql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def parse_selector(text: str) -> tuple[Matcher, ...]:
    """`name op "value", ...` (PromQL label matchers in double quotes); ValueError saying what is wrong."""
    matchers = []
    for part in _split_matchers(text.strip().removeprefix("{").removesuffix("}")):
        match = _MATCHER.fullmatch(part)
        if not match:
            raise ValueError(f'{part.strip()!r} is not a label matcher such as job="ad-health-exporter"')
        bad = re.search(r'\\[^\\"]', match["value"].replace("\\\\", ""))
        if bad:
            raise ValueError(f"{part.strip()!r}: the only escapes in a value are \\\\ and \\\" "
                             f"(write \\\\{bad[0][1]} for a regular expression's {bad[0]})")
        value = re.sub(r"\\(.)", lambda m: _ESCAPES[m[1]], match["value"])
        if match["op"] in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"{match['name']}{match['op']}: bad regular expression {value!r}: {err}") from err
        matchers.append(Matcher(match["name"], match["op"], value))
    if not matchers:
        raise ValueError("no label matcher")
    names = [m.name for m in matchers]
    if "__name__" in names:
        raise ValueError("the metric name is not part of the selector")
    if len(set(names)) != len(names):
        raise ValueError("a label is matched twice")
    if all(m.matches({}) for m in matchers):
        raise ValueError("it matches every series (Prometheus refuses a selector that matches the empty label set)")
    return tuple(matchers)


def _split_matchers(text: str) -> list[str]:
    """Split on the commas between matchers, not on those inside quoted values; a trailing comma is allowed."""
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip() or not parts:
        parts.append(current)
    return parts if any(p.strip() for p in parts) else []


# --- settings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The policy thresholds, in seconds."""

    clock_offset_warning: int
    clock_offset_critical: int
    machine_password_max_age: int
    krbtgt_password_max_age: int
    replication_max_age: int
    tombstone_lifetime: int
    tombstone_margin: int
    dns_record_max_age: int
    check_stale: int
    key_divergence_max_age: int

    @property
    def tombstone_alert(self) -> int:
        return self.tombstone_lifetime - self.tombstone_margin


# The least each threshold may be, with the reason given when it is less.
POLICY_MINIMUM = {
    "clock_offset_warning": (1, "1s"),
    "clock_offset_critical": (2, "2s"),
    "machine_password_max_age": (86400, "1d"),
    "krbtgt_password_max_age": (86400, "1d"),
    "replication_max_age": (3600, "1h (intra-site replication runs once an hour when nothing changes)"),
    "tombstone_lifetime": (86400, "1d"),
    "tombstone_margin": (0, "0s"),
    "dns_record_max_age": (86400, "1d (DCs refresh their records once a day)"),
    "check_stale": (300, "5m"),
    # The DCs disagree about a key from the password change until it has replicated: a few minutes in a site.
    "key_divergence_max_age": (900, "15m (a change takes minutes to reach the other DCs of a site)"),
}
POLICY_KEYS = tuple(f.name for f in fields(Policy))
TOP_KEYS = ("job", "selector", "runbook_base_url", "policy")

_JOB = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]*")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9\-._~:/@!$&()*+,;=%\[\]]+")
# The job of a target the exporter tests feed besides the exporter's own, which the selector must not select.
OTHER_JOB = "node"


@dataclass(frozen=True)
class Settings:
    job: str
    selector: tuple[Matcher, ...]
    runbook_base_url: str
    policy: Policy

    @property
    def selector_text(self) -> str:
        return ", ".join(m.text() for m in self.selector)

    @property
    def equality_labels(self) -> dict[str, str]:
        """The labels absent() gives the exporter's missing `up`: those the selector matches with `=`."""
        return {m.name: m.value for m in self.selector if m.op == "="}


def _read_mapping(path: Path) -> dict[Any, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SettingsError(f"{path}: cannot read: {err.strerror}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SettingsError(f"{path}: not valid YAML{where}: {problem}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}: expected a mapping of settings, got {_kind(doc)}")
    return doc


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def _flatten(doc: dict[Any, Any], path: Path) -> dict[str, tuple[Any, Path]]:
    """`key` and `policy.key` -> (value, the file that set it); unknown keys are refused."""
    flat: dict[str, tuple[Any, Path]] = {}
    for key, value in doc.items():
        if key not in TOP_KEYS:
            raise SettingsError(f"{path}: {key}: unknown setting (known: {', '.join(TOP_KEYS)})")
        if key != "policy":
            flat[key] = (value, path)
            continue
        if not isinstance(value, dict):
            raise SettingsError(f"{path}: policy: expected a mapping of thresholds, got {_kind(value)}")
        for name, threshold in value.items():
            if name not in POLICY_KEYS:
                raise SettingsError(f"{path}: policy.{name}: unknown threshold (known: {', '.join(POLICY_KEYS)})")
            flat[f"policy.{name}"] = (threshold, path)
    return flat


def load_settings(override: Path | None = None, defaults: Path = DEFAULTS_FILE) -> Settings:
    """The defaults file, every key required, with the override file's keys on top."""
    values = _flatten(_read_mapping(defaults), defaults)
    missing = [k for k in (*TOP_KEYS[:-1], *(f"policy.{p}" for p in POLICY_KEYS)) if k not in values]
    if missing:
        raise SettingsError(f"{defaults}: {missing[0]}: missing (the defaults file must set every key)")
    if override is not None:
        values.update(_flatten(_read_mapping(override), override))
    return _validate(values, defaults)


def _text(values: dict[str, tuple[Any, Path]], key: str, *, optional: bool = False) -> str | None:
    value, path = values[key]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SettingsError(f"{path}: {key}: expected text, got {_kind(value)} {value!r}")
    return value


def _validate(values: dict[str, tuple[Any, Path]], defaults: Path) -> Settings:
    def fail(key: str, problem: str) -> SettingsError:
        return SettingsError(f"{values[key][1]}: {key}: {problem}")

    job = _text(values, "job")
    assert job is not None
    if not _JOB.fullmatch(job):
        raise fail("job", f"{job!r} is not a job name this bundle can use (letters, digits and _ . : / -)")
    if job == OTHER_JOB:
        raise fail("job", f"{job!r} is the other job the exporter tests use; name the exporter's job otherwise")

    selector_text = _text(values, "selector", optional=True)
    selector: tuple[Matcher, ...]
    if selector_text is None:
        selector = (Matcher("job", "=", job),)
    else:
        try:
            selector = parse_selector(selector_text)
        except ValueError as err:
            raise fail("selector", f"{selector_text!r}: {err}") from err
        for bad in ("$", "{{", "}}", ": ", " #", "\n", "\t"):
            if any(bad in m.value for m in selector):
                raise fail("selector", f"{selector_text!r}: {bad!r} cannot be written into the rules, "
                                       "their tests and the dashboard")
        target = {**{m.name: m.value for m in selector if m.op == "="}, "job": job}
        if not all(m.matches(target) for m in selector):
            raise fail("selector", f"{selector_text!r} does not select a target with job={job!r} "
                                   "(set `job` to the job name of a target it selects)")
        if all(m.matches({"job": OTHER_JOB, "instance": "localhost:9100"}) for m in selector):
            raise fail("selector", f"{selector_text!r} also selects the targets of other jobs")

    url = _text(values, "runbook_base_url")
    assert url is not None
    url = url.rstrip("/")
    if not _URL.fullmatch(url):
        raise fail("runbook_base_url", f"{url!r} is not an absolute URL without spaces, '?', '#' or quotes")

    seconds: dict[str, int] = {}
    for name in POLICY_KEYS:
        key = f"policy.{name}"
        text = values[key][0]
        try:
            seconds[name] = parse_duration(text) if isinstance(text, str) else parse_duration("")
        except ValueError:
            got = repr(text) if isinstance(text, str) else f"{_kind(text)} {text!r}"
            raise fail(key, f"expected a duration such as 30s, 4m, 1h or 45d, got {got}") from None
        least, reason = POLICY_MINIMUM[name]
        if seconds[name] < least:
            raise fail(key, f"{text} is less than {reason}")
    policy = Policy(**seconds)

    def blamed(*keys: str) -> str:
        """Of keys that do not agree, one the override file set (the defaults agree), else the last."""
        return next((k for k in keys if values[k][1] != defaults), keys[-1])

    if policy.clock_offset_critical <= policy.clock_offset_warning:
        raise fail(blamed("policy.clock_offset_warning", "policy.clock_offset_critical"),
                   "policy.clock_offset_warning must be below policy.clock_offset_critical")
    if policy.tombstone_alert <= policy.replication_max_age:
        raise fail(blamed("policy.replication_max_age", "policy.tombstone_lifetime", "policy.tombstone_margin"),
                   "policy.tombstone_lifetime - policy.tombstone_margin must be above policy.replication_max_age")
    return Settings(job=job, selector=selector, runbook_base_url=url, policy=policy)


def records(settings: Settings) -> dict[str, int]:
    """The `ad_policy:<name>` records of the rules, in seconds: what the dashboard colours by."""
    p = settings.policy
    return {
        "clock_offset_warning_seconds": p.clock_offset_warning,
        "clock_offset_critical_seconds": p.clock_offset_critical,
        "machine_password_max_age_seconds": p.machine_password_max_age,
        "krbtgt_password_max_age_seconds": p.krbtgt_password_max_age,
        "replication_max_age_seconds": p.replication_max_age,
        "replication_tombstone_alert_seconds": p.tombstone_alert,
        "dns_record_max_age_seconds": p.dns_record_max_age,
        "check_stale_seconds": p.check_stale,
    }


# --- template functions -------------------------------------------------------------------------------------


def humanize_duration(seconds: int) -> str:
    """Prometheus' humanizeDuration of a whole number of seconds."""
    sign, value = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(value, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{sign}{minutes}m {secs}s"
    return f"{sign}{secs}s"


def humanize_timestamp(seconds: int) -> str:
    """Prometheus' humanizeTimestamp (Go's time.Time.String in UTC) of a whole number of seconds."""
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    return f"{t.year:04d}-{t:%m-%d %H:%M:%S} +0000 UTC"


_PROSE_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def prose(seconds: int, one: str = "a") -> str:
    """45 days, a day (or one day), an hour, 90 minutes."""
    for size, unit in _PROSE_UNITS:
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            if count == 1:
                return f"{'an' if one == 'a' and unit == 'hour' else one} {unit}"
            return f"{count} {unit}s"
    return f"{seconds} seconds"


def _unit(*values: int) -> int:
    return next(size for size in (86400, 3600, 60, 1) if all(v % size == 0 for v in values))


def promql(seconds: int) -> str:
    """Seconds as PromQL arithmetic: 30, 4 * 60, 3600, 45 * 86400."""
    unit = _unit(seconds)
    count = seconds // unit
    return str(seconds) if unit == 1 or count == 1 else f"{count} * {unit}"


def promql_difference(a: int, b: int) -> str:
    """a - b in seconds as PromQL arithmetic: (180 - 30) * 86400."""
    unit = _unit(a, b)
    return f"({a // unit} - {b // unit})" + ("" if unit == 1 else f" * {unit}")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "duration": humanize_duration,
    "timestamp": humanize_timestamp,
    "prose": prose,
    "promql": promql,
    "promql_difference": promql_difference,
    "yaml": lambda value: yaml_scalar(str(value)),
    "min": min,
    "max": max,
}
_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
}


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(f"unknown name {node.id!r}")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, names)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"unknown function {node.func.id!r}")
        return FUNCTIONS[node.func.id](*(_evaluate(arg, names) for arg in node.args))
    raise ValueError(f"not allowed in a template: {ast.unparse(node)!r}")


_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


def _placeholder(match: re.Match[str], names: Mapping[str, Any], where: str) -> str:
    try:
        return str(_evaluate(ast.parse(match[1].strip(), mode="eval").body, names))
    except (SyntaxError, ValueError, TypeError) as err:
        raise ValueError(f"{where}: ${{{match[1]}}}: {err}") from err


def render_template(text: str, names: Mapping[str, Any], where: str) -> str:
    """Replace each ${expression}; see the module's docstring."""
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        here = f"{where}:{number}"
        alone = _PLACEHOLDER.fullmatch(line.strip())
        if alone:
            value = _placeholder(alone, names, here)
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + part for part in value.splitlines())
            continue
        rendered = _PLACEHOLDER.sub(functools.partial(_placeholder, names=names, where=here), line)
        if "\n" in rendered:
            raise ValueError(f"{here}: a value of several lines must stand alone on its line")
        out.append(rendered)
    return "".join(line + "\n" for line in out)


# --- the bundle ---------------------------------------------------------------------------------------------


def yaml_scalar(value: str) -> str:
    """value as a YAML scalar: plain where YAML reads it back as the same text, quoted otherwise."""
    dumped = yaml.safe_dump(value, width=1_000_000, allow_unicode=True)
    return dumped.removesuffix("\n").removesuffix("\n...")


def template_names(settings: Settings) -> dict[str, Any]:
    """What a template's ${...} may name."""
    policy = settings.policy
    up = {"job": settings.job, **settings.equality_labels}
    absent = settings.equality_labels
    if "job" in absent:
        absent_target, absent_target_expected = "of job {{ $labels.job }}", f"of job {absent['job']}"
    else:
        absent_target = absent_target_expected = f"matching up{{{settings.selector_text}}}"
    return {
        **{name: getattr(policy, name) for name in POLICY_KEYS},
        "tombstone_alert": policy.tombstone_alert,
        "job": settings.job,
        "selector": settings.selector_text,
        "runbook_base_url": settings.runbook_base_url,
        # The exporter tests: the labels of the exporter's `up` series (in a single-quoted YAML string), the
        # alert labels ADExporterDown and ADExporterAbsent give it, and the job of another target.
        "up_labels": ",".join(f'{k}="{promql_escape(v)}"' for k, v in up.items()).replace("'", "''"),
        "up_exp_labels": "\n".join(f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in up.items()),
        "absent_exp_labels": "\n".join(f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in absent.items()),
        "absent_target": absent_target,
        "absent_target_expected": absent_target_expected,
        "other_job": OTHER_JOB,
    }


def _generated(template: Path) -> str:
    source = template.relative_to(REPO).as_posix()
    return f"# Generated by `make alerts` from {source} and the bundle settings; edit those, not this file.\n"


def render_rules(settings: Settings) -> str:
    text = _generated(RULES_TEMPLATE) + render_template(
        RULES_TEMPLATE.read_text(encoding="utf-8"), template_names(settings), RULES_TEMPLATE.name)
    # The selector lands in plain YAML scalars: make sure it reads back as written.
    rules = {r.get("alert"): r for g in yaml.safe_load(text)["groups"] for r in g["rules"]}
    up = f"up{{{settings.selector_text}}}"
    if (rules["ADExporterDown"]["expr"], rules["ADExporterAbsent"]["expr"]) != (f"{up} == 0", f"absent({up})"):
        raise SettingsError(f"selector: {settings.selector_text!r} cannot be written into the rules")
    return text


def render_tests(settings: Settings) -> dict[str, str]:
    """File name -> promtool test file."""
    names = template_names(settings)
    out = {}
    for template in sorted(TEST_TEMPLATES.glob("*.yml")):
        text = _generated(template) + render_template(template.read_text(encoding="utf-8"), names, template.name)
        yaml.safe_load(text)
        out[template.name] = text
    return out


def dashboard_generator() -> ModuleType:
    """grafana/generate_dashboard.py (grafana/ is not a package), loaded once."""
    name = "ad_health_generate_dashboard"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DASHBOARD_GENERATOR)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is created
        spec.loader.exec_module(module)
    return sys.modules[name]


def render_dashboard(settings: Settings) -> str:
    generator = dashboard_generator()
    policy = generator.Policy(**{name: float(value) for name, value in records(settings).items()})
    text: str = generator.render(policy, settings.selector_text)
    return text


def render(settings: Settings, layout: Layout) -> dict[Path, str]:
    """Every file of the bundle, by where it goes."""
    files = {layout.rules: render_rules(settings)}
    files.update({layout.tests / name: text for name, text in render_tests(settings).items()})
    files[layout.dashboard] = render_dashboard(settings)
    return files


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--settings", type=Path, help="a file of settings to use instead of the defaults in "
                        "alerts/bundle.yml (any subset of its keys)")
    parser.add_argument("--out", type=Path, help="write DIR/ad-health.rules.yml, DIR/tests/*.yml and "
                        "DIR/ad-health.json (default: the committed files)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files differ")
    args = parser.parse_args(argv)
    layout = Layout.under(args.out.resolve()) if args.out else Layout.committed()
    try:
        files = render(load_settings(args.settings), layout)
    except ValueError as err:  # SettingsError, or a template that does not render
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        stale = [path for path, text in files.items()
                 if not path.is_file() or path.read_text(encoding="utf-8") != text]
        stray = sorted(set(layout.tests.glob("*.yml")) - set(files))
        for path in stale:
            print(f"{_shown(path)} is out of date: run python alerts/build.py (make alerts)", file=sys.stderr)
        for path in stray:
            print(f"{_shown(path)} is built from no template in alerts/src/tests/", file=sys.stderr)
        return 1 if stale or stray else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

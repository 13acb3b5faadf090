"""Generate the ad-health-exporter Grafana dashboard (grafana/dashboards/ad-health.json).

    .venv/bin/python grafana/generate_dashboard.py          # write the JSON
    .venv/bin/python grafana/generate_dashboard.py --check  # exit 1 if the committed JSON is out of date

Built with grafana-foundation-sdk, Grafana's own typed builders. It is part of the alert bundle: threshold
colours that are site policy (clock offset, machine-password age, replication age, ...) and the selector of
the exporter's targets come from the bundle settings (alerts/bundle.yml) that the alert rules are built from,
so the dashboard and the alerts agree. `make alerts` (alerts/build.py) builds the dashboard with the rules;
--settings here builds the dashboard alone with other settings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from grafana_foundation_sdk.builders import bargauge, dashboard, gauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

HERE = Path(__file__).resolve().parent
BUNDLE_BUILDER = HERE.parent / "alerts" / "build.py"
OUTPUT_FILE = HERE / "dashboards" / "ad-health.json"

UID = "ad-health"
TITLE = "Active Directory health"

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")


# --- policy thresholds and the exporter's selector, from the bundle settings ------------------------------


@dataclass(frozen=True)
class Policy:
    """The values of the `ad_policy:<field>` records of the alert rules, in seconds."""

    clock_offset_warning_seconds: float
    clock_offset_critical_seconds: float
    machine_password_max_age_seconds: float
    krbtgt_password_max_age_seconds: float
    replication_max_age_seconds: float
    replication_tombstone_alert_seconds: float
    dns_record_max_age_seconds: float
    check_stale_seconds: float


def bundle_builder() -> ModuleType:
    """alerts/build.py, which reads and checks the bundle settings (alerts/ is not a package), loaded once."""
    name = "ad_health_alert_bundle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUNDLE_BUILDER)
        assert spec and spec.loader, BUNDLE_BUILDER
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is created
        spec.loader.exec_module(module)
    return sys.modules[name]


def from_settings(settings_file: Path | None = None) -> tuple[Policy, str]:
    """The policy and the exporter's selector of the bundle settings: the defaults, or settings_file on top."""
    bundle = bundle_builder()
    settings = bundle.load_settings(settings_file)
    policy = Policy(**{name: float(value) for name, value in bundle.records(settings).items()})
    return policy, settings.selector_text


# --- PromQL and panel helpers -----------------------------------------------------------------------------


def sel(metric: str, *extra: str, domain: bool = True, target: str = "") -> str:
    """A selector filtered by the dashboard's job, instance and (for per-domain metrics) domain.

    target: the matchers that select the exporter's targets, for a metric that other targets have too (up).
    """
    matchers = [target] if target else []
    matchers += ['job=~"$job"', 'instance=~"$instance"']
    if domain:
        matchers.append('domain=~"$domain"')
    matchers.extend(extra)
    return f"{metric}{{{', '.join(matchers)}}}"


def count_or_zero(expr: str) -> str:
    return f"(count({expr}) or vector(0))"


def sum_or_zero(expr: str) -> str:
    return f"(sum({expr}) or vector(0))"


def number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def query(ref: str, expr: str, legend: str = "", *, kind: str = "range") -> prometheus.Dataquery:
    """kind: "range" for graphs, "instant" for stats, "table" for table rows (instant, table format)."""
    q = prometheus.Dataquery().ref_id(ref).expr(expr).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if kind == "table":
        return q.format(prom_model.PromQueryFormat.TABLE).instant()
    if kind == "instant":
        return q.instant()
    return q.range()


def steps(*pairs: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
        [model.Threshold(value=None if v is None else number(v), color=c) for v, c in pairs]
    )


def value_text(mapping: dict[int, tuple[str, str]]) -> list[model.ValueMapping]:
    return [model.ValueMap(options={
        str(value): model.ValueMappingResult(text=text, color=color, index=i)
        for i, (value, (text, color)) in enumerate(mapping.items())
    })]


UP_DOWN = value_text({1: ("up", "green"), 0: ("DOWN", "red")})
OK_FAILING = value_text({1: ("OK", "green"), 0: ("FAILING", "red")})
YES_NO = value_text({1: ("yes", "green"), 0: ("NO", "red")})

MERGE = model.DataTransformerConfig(id_val="merge", options={})
LABEL_COLUMNS = {
    "domain": "Domain",
    "domain_controller": "Domain controller",
    "source": "Source",
    "naming_context": "Naming context",
    "dns_server": "DNS server",
    "record": "Record",
    "spn": "SPN",
    "account": "Account",
    "computer": "Computer",
    "check": "Check",
    "address": "Address",
    "site": "Site",
    "global_catalog": "Global catalog",
    "read_only": "Read-only",
    "pdc": "PDC emulator",
}


def organize(values: dict[str, str]) -> model.DataTransformerConfig:
    """Hide time and target labels, give label and value columns readable names."""
    hidden = {name: True for name in ("Time", "__name__", "job", "instance")}
    return model.DataTransformerConfig(
        id_val="organize",
        options={"excludeByName": hidden, "indexByName": {}, "renameByName": {**LABEL_COLUMNS, **values}},
    )


def column(name: str, *properties: model.DynamicConfigValue) -> tuple[str, list[model.DynamicConfigValue]]:
    return name, list(properties)


def unit_of(unit: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="unit", value=unit)


def mappings_of(mappings: list[model.ValueMapping]) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="mappings", value=mappings)


def thresholds_of(config: dashboard.ThresholdsConfig) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="thresholds", value=config.build())


COLOURED = model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})


def table_panel(
    title: str,
    description: str,
    targets: Iterable[prometheus.Dataquery],
    values: dict[str, str],
    *,
    unit: str = "none",
    columns: Iterable[tuple[str, list[model.DynamicConfigValue]]] = (),
    extra: Iterable[model.DataTransformerConfig] = (),
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    targets = list(targets)
    panel = (
        table.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(width).height(height).targets(targets)
    )
    if len(targets) > 1:
        panel = panel.with_transformation(MERGE)
    for transformation in extra:
        panel = panel.with_transformation(transformation)
    panel = panel.with_transformation(organize(values))
    for name, properties in columns:
        panel = panel.override_by_name(name, properties)
    return panel


def stat_panel(title: str, description: str, targets: Iterable[prometheus.Dataquery], *, unit: str = "none",
               width: int = 6, height: int = 4) -> stat.Panel:
    return (
        stat.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(width).height(height).targets(list(targets))
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
    )


def graph_panel(title: str, description: str, targets: Iterable[prometheus.Dataquery], *, unit: str,
                width: int = 12, height: int = 8) -> timeseries.Panel:
    return (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(width).height(height).targets(list(targets))
        .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                .placement(common.LegendPlacement.RIGHT).show_legend(True).calcs(["lastNotNull", "max"]))
    )


# --- variables --------------------------------------------------------------------------------------------


def label_variable(name: str, label: str, query_text: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name).label(label).datasource(DATASOURCE).query(query_text)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".+")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def variables(selector: str) -> list[Any]:
    return [
        dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        label_variable("job", "Job", f"label_values(ad_exporter_build_info{{{selector}}}, job)"),
        label_variable("instance", "Instance", 'label_values(ad_exporter_build_info{job=~"$job"}, instance)'),
        label_variable(
            "domain", "Domain", 'label_values(ad_check_success{job=~"$job", instance=~"$instance"}, domain)'
        ),
    ]


# --- rows -------------------------------------------------------------------------------------------------


def findings_by_category(policy: Policy) -> list[prometheus.Dataquery]:
    ntp_answered = sel("ad_domain_controller_time_probe_success", 'source="ntp"')
    offset = (
        f"max without (source) (abs({sel('ad_domain_controller_time_offset_seconds')})"
        f" and {sel('ad_domain_controller_time_probe_success')} == 1)"
    )
    unsynchronised = (
        f"({sel('ad_domain_controller_ntp_leap')} == 3 or {sel('ad_domain_controller_ntp_stratum')} == 0"
        f" or {sel('ad_domain_controller_ntp_stratum')} >= 16)"
        f" and on (job, instance, domain, domain_controller)"
        f" {ntp_answered} == 1"
    )
    dc_down = f"on (job, instance, domain, domain_controller) {sel('ad_domain_controller_up')} == 0"
    holders, on_account = sel("ad_spn_expected_holders"), sel("ad_spn_expected_on_account")
    present, enabled = sel("ad_computer_account_present"), sel("ad_computer_account_enabled")
    categories = {
        "Time": [
            count_or_zero(f"{offset} > {number(policy.clock_offset_warning_seconds)}"),
            count_or_zero(unsynchronised),
        ],
        "SPN": [
            sum_or_zero(sel("ad_spn_duplicates")),
            count_or_zero(f"{holders} == 0"),
            count_or_zero(f"{holders} > 0 unless ({on_account} == 1 and {holders} == 1)"),
        ],
        "Accounts": [
            count_or_zero(f"{present} == 0"),
            count_or_zero(f"{enabled} == 0 and {present} == 1"),
            count_or_zero(
                f"(time() - {sel('ad_computer_password_last_set_timestamp_seconds')})"
                f" > {number(policy.machine_password_max_age_seconds)} and {enabled} == 1"
            ),
        ],
        "DNS": [
            sum_or_zero(f"{sel('ad_dns_stale_addresses')} unless {dc_down}"),
            sum_or_zero(sel("ad_dns_srv_unknown_targets")),
            sum_or_zero(sel("ad_dns_srv_missing_domain_controllers")),
            count_or_zero(f"{sel('ad_dns_dsa_alias_present')} == 0"),
        ],
        "Replication": [
            count_or_zero(f"{sel('ad_replication_consecutive_failures')} > 0"),
            count_or_zero(
                f"(time() - {sel('ad_replication_last_success_timestamp_seconds')})"
                f" > {number(policy.replication_max_age_seconds)}"
            ),
        ],
        "Unreachable DCs": [count_or_zero(f"{sel('ad_domain_controller_up')} == 0")],
    }
    return [
        query(chr(ord("A") + i), "\n+ ".join(parts), name, kind="instant")
        for i, (name, parts) in enumerate(categories.items())
    ]


def overview_row(policy: Policy, selector: str) -> list[Any]:
    return [
        dashboard.Row("Overview"),
        stat_panel(
            "Findings per category",
            "Faults found in the last run of each check, counted the way the alerts count them: clocks off by "
            f"more than {number(policy.clock_offset_warning_seconds)} s or unsynchronised; duplicated, missing or "
            "misplaced SPNs; missing or disabled watched accounts and machine passwords older than policy; "
            "stale DNS addresses, bad locator records and missing _msdcs aliases; failing or day-old "
            "replication links; DCs that do not answer LDAP. 0 everywhere is healthy, as long as the checks "
            "run (next panel).",
            findings_by_category(policy), unit="short", width=12,
        ).thresholds(steps((None, "green"), (1, "red"))),
        stat_panel(
            "Checks healthy",
            "Share of checks (per domain) whose last run could read Active Directory. Below 100 % some "
            "findings are unknown, not healthy.",
            [query("A", f"sum({sel('ad_check_success')}) / count({sel('ad_check_success')})", kind="instant")],
            unit="percentunit", width=6,
        ).thresholds(steps((None, "red"), (1, "green"))),
        stat_panel(
            "Exporter scrape",
            "Whether Prometheus can scrape each selected exporter instance.",
            [query("A", sel("up", domain=False, target=selector), "{{instance}}", kind="instant")], width=6,
        ).mappings(UP_DOWN).thresholds(steps((None, "red"), (1, "green"))),
        stat_panel(
            "Check status",
            "Result of the last run of each check: OK if it could read what it needs, FAILING if not (see "
            "the exporter's log for the reason).",
            [query("A", sel("ad_check_success"), "{{domain}} {{check}}", kind="instant")], width=24,
        ).mappings(OK_FAILING).thresholds(steps((None, "red"), (1, "green"))),
        table_panel(
            "Domain controllers",
            "Domain controllers found in the Configuration partition (nTDSDSA objects) and whether each "
            "answered LDAP in the last run.",
            [query("A", sel("ad_domain_controller_info"), kind="table"),
             query("B", sel("ad_domain_controller_up"), kind="table")],
            {"Value #A": "Info", "Value #B": "LDAP"},
            columns=[column("Info", model.DynamicConfigValue(id_val="custom.hidden", value=True)),
                     column("LDAP", mappings_of(UP_DOWN), COLOURED)],
            width=24, height=7,
        ),
    ]


def clocks_row(policy: Policy) -> list[Any]:
    warn, crit = policy.clock_offset_warning_seconds, policy.clock_offset_critical_seconds
    return [
        dashboard.Row("Clocks"),
        graph_panel(
            "Clock offset per DC",
            "DC clock minus the exporter's clock, by probe (ntp, or ldap: rootDSE currentTime, accurate to "
            f"about a second). Dashed lines: warning at ±{number(warn)} s, critical at ±{number(crit)} s; "
            "Kerberos fails beyond 5 minutes. The same offset on every DC means the exporter's clock is off.",
            [query("A", sel("ad_domain_controller_time_offset_seconds"), "{{domain_controller}} ({{source}})")],
            unit="s", width=12,
        ).thresholds(steps((None, "red"), (-crit, "orange"), (-warn, "green"), (warn, "orange"), (crit, "red")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)),
        graph_panel(
            "Time probe round trip",
            "Round-trip time of each time probe. The ldap offset's error is about half of it plus a second.",
            [query("A", sel("ad_domain_controller_time_probe_rtt_seconds"), "{{domain_controller}} ({{source}})")],
            unit="s", width=12,
        ),
        stat_panel(
            "NTP stratum",
            "Stratum in each DC's NTP answer. 0 and 16 mean unsynchronised.",
            [query("A", sel("ad_domain_controller_ntp_stratum"), "{{domain_controller}}", kind="instant")],
            width=8,
        ).thresholds(steps((None, "red"), (1, "green"), (16, "red"))),
        stat_panel(
            "NTP leap indicator",
            "Leap indicator in each DC's NTP answer; 3 means its clock is not synchronised.",
            [query("A", sel("ad_domain_controller_ntp_leap"), "{{domain_controller}}", kind="instant")],
            width=8,
        ).mappings(value_text({0: ("in sync", "green"), 1: ("leap +1 s", "green"), 2: ("leap -1 s", "green"),
                               3: ("UNSYNCHRONISED", "red")}))
        .thresholds(steps((None, "green"), (3, "red"))),
        stat_panel(
            "Time probes answering",
            "Whether each time probe got an answer from each DC in the last run; offsets of probes that did "
            "not answer are ignored by the alerts.",
            [query("A", sel("ad_domain_controller_time_probe_success"), "{{domain_controller}} {{source}}",
                   kind="instant")],
            width=8,
        ).mappings(YES_NO).thresholds(steps((None, "red"), (1, "green"))),
    ]


def replsummary_table(side: str, title: str, text: str, age_thresholds: Any) -> Any:
    """One side of repadmin /replsummary, from the recording rules aggregated by ``side``."""
    return table_panel(
        title,
        f"{text} From the recording rules in alerts/ad-health.rules.yml.",
        [query("A", sel(f"{side}:ad_replication_largest_delta_seconds:max"), kind="table"),
         query("B", sel(f"{side}:ad_replication_failing_links:count"), kind="table"),
         query("C", sel(f"{side}:ad_replication_links:count"), kind="table")],
        {"Value #A": "Largest delta", "Value #B": "Fails", "Value #C": "Total"},
        columns=[column("Largest delta", unit_of("dtdurations"), thresholds_of(age_thresholds), COLOURED),
                 column("Fails", thresholds_of(steps((None, "green"), (1, "red"))), COLOURED)],
    )


def matrix_table(title: str, text: str, expr: str, unit: str, thresholds: Any, *,
                 rows: str = "domain_controller", columns: str = "source", width: int = 12) -> Any:
    """One label's values as rows, another's as columns (destination DCs and their sources by default)."""
    return table_panel(
        title, text, [query("A", expr, kind="table")], {},
        extra=[model.DataTransformerConfig(id_val="groupingToMatrix", options={
            "rowField": rows, "columnField": columns, "valueField": "Value",
            "emptyValue": "null"})],
        unit=unit, width=width,
    ).thresholds(thresholds).cell_options(common.TableColorTextCellOptions())


def replication_row(policy: Policy) -> list[Any]:
    max_age = policy.replication_max_age_seconds
    age_thresholds = steps((None, "green"), (3600, "orange"), (max_age, "red"))
    failures = sel("ad_replication_consecutive_failures")
    return [
        dashboard.Row("Replication"),
        replsummary_table(
            "domain_controller", "Replication summary by destination",
            "The repadmin /replsummary view, per destination DC: largest delta is the longest time since a "
            "successful inbound replication over its links (one link per naming context and source); fails "
            "of total counts links whose last attempts failed.",
            age_thresholds,
        ),
        replsummary_table(
            "source", "Replication summary by source",
            "The source side of repadmin /replsummary: for each DC that others pull from, the longest time "
            "since a successful pull from it and how many of those links fail.",
            age_thresholds,
        ),
        matrix_table(
            "Replication matrix: consecutive failures",
            "Rows are destination DCs, columns their sources; each cell is the highest number of consecutive "
            "failed attempts over the naming contexts replicated between the two. Empty: no link.",
            f"max by (domain_controller, source) ({failures})", "short", steps((None, "green"), (1, "red")),
        ),
        matrix_table(
            "Replication matrix: time since last success",
            "Rows are destination DCs, columns their sources; each cell is the longest time since a "
            f"successful replication over the naming contexts between the two. Red beyond {number(max_age)} s "
            "(the replication alert's threshold). A link that never succeeded shows the time since 1970.",
            f"max by (domain_controller, source) (time() - {sel('ad_replication_last_success_timestamp_seconds')})",
            "dtdurations", age_thresholds,
        ),
        table_panel(
            "Failing links",
            "Every link whose last attempt failed, with the Win32 result of the last attempt (unsigned: "
            "2148074274 is -2146893022, SEC_E_WRONG_PRINCIPAL) and the time since its last success. See "
            "docs/runbooks/replication.md for the codes.",
            [query("A", f"{failures} > 0", kind="table"),
             query("B", f"{sel('ad_replication_last_result')} and {failures} > 0", kind="table"),
             query("C", f"(time() - {sel('ad_replication_last_success_timestamp_seconds')}) and {failures} > 0",
                   kind="table")],
            {"Value #A": "Consecutive failures", "Value #B": "Last result", "Value #C": "Since last success"},
            columns=[column("Since last success", unit_of("dtdurations")),
                     column("Last result", model.DynamicConfigValue(id_val="decimals", value=0))],
            width=24,
        ),
        graph_panel(
            "Largest delta per destination DC",
            "History of the replsummary largest delta per destination DC (recording rule "
            "domain_controller:ad_replication_largest_delta_seconds:max).",
            [query("A", sel("domain_controller:ad_replication_largest_delta_seconds:max"), "{{domain_controller}}")],
            unit="s", width=24,
        ).thresholds(steps((None, "green"), (max_age, "red")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)),
    ]


def dns_row(policy: Policy) -> list[Any]:
    red_from_one = thresholds_of(steps((None, "green"), (1, "red")))
    return [
        dashboard.Row("DNS"),
        table_panel(
            "DC addresses per DNS server",
            "How many A/AAAA addresses each DNS server returns for each DC's host name, and how many of them "
            "do not answer LDAP as that DC (stale).",
            [query("A", sel("ad_dns_domain_controller_addresses"), kind="table"),
             query("B", sel("ad_dns_stale_addresses"), kind="table")],
            {"Value #A": "Addresses", "Value #B": "Stale"},
            columns=[column("Stale", red_from_one, COLOURED)],
        ),
        table_panel(
            "DC locator SRV records",
            "For each locator SRV record and DNS server: targets that are not current DCs, and current DCs "
            "the record does not list.",
            [query("A", sel("ad_dns_srv_unknown_targets"), kind="table"),
             query("B", sel("ad_dns_srv_missing_domain_controllers"), kind="table")],
            {"Value #A": "Unknown targets", "Value #B": "Missing DCs"},
            columns=[column("Unknown targets", red_from_one, COLOURED),
                     column("Missing DCs", red_from_one, COLOURED)],
        ),
        table_panel(
            "_msdcs aliases",
            "Whether each DC's <DSA GUID>._msdcs CNAME resolves to it on each DNS server; replication "
            "partners need it (error 8524 when missing).",
            [query("A", sel("ad_dns_dsa_alias_present"), kind="table")],
            {"Value": "Alias"},
            columns=[column("Alias", mappings_of(YES_NO), COLOURED)],
        ),
        table_panel(
            "Dynamic DC record age",
            "Time since each dynamic A/AAAA record of a DC's host name was last refreshed (static records "
            f"are not listed). Red beyond {number(policy.dns_record_max_age_seconds)} s: scavenging may "
            "delete it, or nobody registers it any more.",
            [query("A", f"time() - {sel('ad_dns_record_timestamp_seconds')}", kind="table")],
            {"Value": "Since refresh"},
            columns=[column("Since refresh", unit_of("dtdurations"), COLOURED, thresholds_of(
                steps((None, "green"), (policy.dns_record_max_age_seconds, "red"))))],
        ),
    ]


def spn_row() -> list[Any]:
    return [
        dashboard.Row("Service principal names"),
        stat_panel(
            "SPN findings",
            "Forest-wide: SPNs held by more than one account (HOST aliases expanded), enabled computers "
            "without HOST/<dNSHostName>, and values that do not parse.",
            [query("A", sel("ad_spn_duplicates"), "duplicated {{domain}}", kind="instant"),
             query("B", sel("ad_spn_host_missing_accounts"), "HOST SPN missing {{domain}}", kind="instant"),
             query("C", sel("ad_spn_malformed_values"), "malformed {{domain}}", kind="instant")],
            unit="short", width=18,
        ).thresholds(steps((None, "green"), (1, "red"))),
        stat_panel(
            "SPN values scanned",
            "servicePrincipalName values read in the last run of the SPN check.",
            [query("A", sel("ad_spn_values"), "{{domain}}", kind="instant")], unit="short", width=6,
        ).thresholds(steps((None, "blue"))),
        table_panel(
            "Duplicated SPNs",
            "Each duplicated SPN (lower case) and how many accounts hold it. The exporter caps this list; "
            "setspn -X -F lists all.",
            [query("A", sel("ad_spn_duplicate_accounts"), kind="table")],
            {"Value": "Accounts"},
        ),
        table_panel(
            "Expected SPNs",
            "Each configured expected SPN (and each DC's own SPNs): how many accounts hold it, and whether "
            "the expected account does. Healthy: 1 holder, on the expected account.",
            [query("A", sel("ad_spn_expected_holders"), kind="table"),
             query("B", sel("ad_spn_expected_on_account"), kind="table")],
            {"Value #A": "Holders", "Value #B": "On expected account"},
            columns=[column("On expected account", mappings_of(YES_NO), COLOURED),
                     column("Holders", thresholds_of(steps((None, "red"), (1, "green"), (2, "red"))), COLOURED)],
        ),
    ]


def accounts_row(policy: Policy) -> list[Any]:
    max_age = policy.machine_password_max_age_seconds
    stale = sel("ad_computer_password_stale_accounts")
    enabled = sel("ad_computer_accounts", 'enabled="true"')
    return [
        dashboard.Row("Computer accounts"),
        bargauge.Panel()
        .title("Machine password age distribution")
        .description("Enabled computer accounts whose machine password is older than each configured age "
                     "(pwdLastSet). Machines change it every 30 days by default, so accounts past 45 days "
                     "are usually gone or broken.")
        .datasource(DATASOURCE).unit("short").span(8).height(8)
        .with_target(query("A", f"sort_desc({stale})", "older than {{older_than_days}} days", kind="instant"))
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .thresholds(steps((None, "green"), (1, "orange"))),
        gauge.Panel()
        .title("Share of enabled computers with a stale password")
        .description("The same counts as a share of all enabled computer accounts of the domain.")
        .datasource(DATASOURCE).unit("percentunit").min(0).max(1).span(8).height(8)
        .with_target(query(
            "A",
            f"sort_desc({stale} / on (job, instance, domain) group_left () "
            f"{enabled})",
            "older than {{older_than_days}} days", kind="instant"))
        .thresholds(steps((None, "green"), (0.05, "orange"), (0.2, "red"))),
        stat_panel(
            "Computer accounts",
            "Computer accounts in the domain, enabled and disabled.",
            [query("A", sel("ad_computer_accounts"), "enabled: {{enabled}}", kind="instant")],
            unit="short", width=4, height=8,
        ).thresholds(steps((None, "blue"))),
        stat_panel(
            "krbtgt password age",
            "Time since the krbtgt password was last set. Red beyond "
            f"{number(policy.krbtgt_password_max_age_seconds)} s (policy).",
            [query("A", f"time() - {sel('ad_krbtgt_password_last_set_timestamp_seconds')}", "{{domain}}",
                   kind="instant")],
            unit="dtdurations", width=4, height=8,
        ).thresholds(steps((None, "green"), (policy.krbtgt_password_max_age_seconds, "red"))),
        table_panel(
            "Watched computer accounts",
            "Watched computers (configured, plus every DC): whether the account exists and is enabled, and "
            f"the age of its machine password. Red beyond {number(max_age)} s (policy).",
            [query("A", sel("ad_computer_account_present"), kind="table"),
             query("B", sel("ad_computer_account_enabled"), kind="table"),
             query("C", f"time() - {sel('ad_computer_password_last_set_timestamp_seconds')}", kind="table")],
            {"Value #A": "Exists", "Value #B": "Enabled", "Value #C": "Password age"},
            columns=[column("Exists", mappings_of(YES_NO), COLOURED),
                     column("Enabled", mappings_of(YES_NO), COLOURED),
                     column("Password age", unit_of("dtdurations"), COLOURED,
                            thresholds_of(steps((None, "green"), (max_age, "red"))))],
            width=24,
        ),
    ]


def keys_row() -> list[Any]:
    versions = sel("ad_account_key_version")
    newest = f"max by (job, instance, domain, account) ({versions})"
    return [
        dashboard.Row("Keys: the same account on every DC"),
        matrix_table(
            "Key versions: account by DC",
            "msDS-KeyVersionNumber of each important account (every DC's computer account, krbtgt, watched "
            "computers, holders of expected SPNs, keys.accounts) as each DC holds it. A row whose cells differ "
            "is an account whose password change has not reached every DC: the DC with the lower number issues "
            "tickets the service cannot decrypt (1397). Empty: the DC could not be read or lacks the account.",
            versions, "none", steps((None, "blue")), rows="account", columns="domain_controller",
        ),
        matrix_table(
            "Key versions behind the newest DC",
            "The same matrix as each DC's key version minus the highest any DC holds for that account: 0 is "
            "current, below 0 is an old key on that DC (see docs/runbooks/keys.md).",
            f"{versions} - on (job, instance, domain, account) group_left () {newest}", "none",
            steps((None, "red"), (0, "green")), rows="account", columns="domain_controller",
        ),
        stat_panel(
            "Computers whose password differs between DCs",
            "Enabled computer accounts whose pwdLastSet differs between the DCs, among those whose password "
            "changed within keys.look_back. Changes still replicating count too: a count that stays is the "
            "1397 condition. 'not compared' while fewer than two DCs could be read.",
            [query("A", f"{sel('ad_computer_password_divergent_accounts')} or on () vector(-1)", "{{domain}}",
                   kind="instant")],
            unit="short", width=8, height=8,
        ).thresholds(steps((None, "green"), (1, "orange")))
        .mappings(value_text({-1: ("not compared", "text")})),
        matrix_table(
            "Replication switched off",
            "Each DC's DSA options DISABLE_INBOUND_REPL / DISABLE_OUTBOUND_REPL as the DC holds them. Switched "
            "off, its links need not report any failure: they stop moving, and its keys age.",
            sel("ad_domain_controller_replication_disabled"), "none",
            steps((None, "green"), (1, "red")), rows="domain_controller", columns="direction", width=16,
        ).mappings(value_text({0: ("on", "green"), 1: ("OFF", "red")})),
    ]


KDC_ERRORS = value_text({0: ("issued", "green"), 7: ("7 S_PRINCIPAL_UNKNOWN", "red"),
                         14: ("14 ETYPE_NOSUPP", "red"), 12: ("12 POLICY", "red")})


def kerberos_row() -> list[Any]:
    return [
        dashboard.Row("Kerberos: what each DC's KDC hands out"),
        table_panel(
            "KDCs",
            "Each DC's KDC asked on its own for a TGT as the monitoring identity: whether it answers (TCP 88), "
            "how long the AS exchange took, and the KDC's answer (0 = TGT issued, else its error code). A KDC "
            "DOWN on a DC whose LDAP is up gives clients that pick it no ticket.",
            [query("A", sel("ad_kerberos_kdc_up"), kind="table"),
             query("B", sel("ad_kerberos_as_exchange_seconds"), kind="table"),
             query("C", sel("ad_kerberos_as_error_code"), kind="table")],
            {"Value #A": "KDC", "Value #B": "AS exchange", "Value #C": "TGT"},
            columns=[column("KDC", mappings_of(UP_DOWN), COLOURED),
                     column("AS exchange", unit_of("s")),
                     column("TGT", mappings_of(KDC_ERRORS), thresholds_of(steps((None, "green"), (1, "red"))),
                            COLOURED)],
            width=8,
        ),
        matrix_table(
            "Service tickets: key version, SPN by DC",
            "The key version (kvno) of the ticket each DC's KDC issued for each probed SPN (every DC's ldap/, "
            "the expected SPNs, HOST/ of the watched computers, kerberos.spns). A row whose cells differ is the "
            "1397 condition: the DC with the lower number holds an old key, and clients that ask it get tickets "
            "the service cannot decrypt (docs/runbooks/kerberos.md). Empty: no ticket (see the next panel).",
            sel("ad_kerberos_service_ticket_key_version"), "none", steps((None, "blue")),
            rows="spn", columns="domain_controller", width=8,
        ),
        matrix_table(
            "Service tickets: the KDC's answer, SPN by DC",
            "issued, or the KDC's error code: 7 (KDC_ERR_S_PRINCIPAL_UNKNOWN) is an SPN that no account holds, "
            "or that two accounts hold; 14 an account without an AES key. Empty: the DC issued no TGT.",
            sel("ad_kerberos_service_ticket_error_code"), "none", steps((None, "green"), (1, "red")),
            rows="spn", columns="domain_controller", width=8,
        ).mappings(KDC_ERRORS),
    ]


ADVERTISED = value_text({1: ("yes", "green"), 0: ("no", "text")})


def locator_row() -> list[Any]:
    info = sel("ad_domain_controller_ldap_ping_info")
    with_sites = "* on (job, instance, domain, domain_controller) group_left (site, client_site) " + info
    return [
        dashboard.Row("DC roles: what each DC advertises to the DC locator"),
        matrix_table(
            "DC roles",
            "What each DC advertises in its answer to the LDAP ping (UDP 389), the answer Windows clients "
            "choose DCs by: pdc, gc (global catalog), kdc, timeserv, good_timeserv (reliable time source), "
            "writable, rodc, ldap, ds. A DC that does not answer has no row (see the next panel). "
            "no on kdc while the DC's LDAP is up: it issues no Kerberos tickets (docs/runbooks/locator.md).",
            sel("ad_domain_controller_advertised"), "none", steps((None, "text")),
            rows="domain_controller", columns="role", width=10,
        ).mappings(ADVERTISED),
        table_panel(
            "LDAP ping",
            "Whether each DC answered the LDAP ping, in how long, the site it says it is in, and the site it "
            "places the exporter's address in (empty: no subnet object covers it).",
            [query("A", f"({sel('ad_domain_controller_ldap_ping_success')} {with_sites}) "
                        f"or {sel('ad_domain_controller_ldap_ping_success')}", kind="table"),
             query("B", f"{sel('ad_domain_controller_ldap_ping_rtt_seconds')} {with_sites}", kind="table")],
            {"Value #A": "Answers", "Value #B": "Round trip", "client_site": "Exporter's site"},
            columns=[column("Answers", mappings_of(UP_DOWN), COLOURED), column("Round trip", unit_of("s"))],
            width=8,
        ),
        stat_panel(
            "DCs advertising each role",
            "How many of the DCs that answer the LDAP ping advertise the PDC emulator, a global catalog, a KDC "
            "and a time service. 0 for pdc or gc is ADNoPDCAdvertised / ADNoGlobalCatalogAdvertised.",
            [query("A", "sum by (role) (" + sel("ad_domain_controller_advertised", 'role=~"pdc|gc|kdc|timeserv"')
                   + ")", "{{role}}", kind="instant")],
            unit="short", width=6, height=8,
        ).thresholds(steps((None, "red"), (1, "green"))),
    ]


def exporter_row(policy: Policy) -> list[Any]:
    return [
        dashboard.Row("Exporter"),
        table_panel(
            "Check runs",
            "Each check's last result, how long its last run took, and the time since it last succeeded "
            f"(red beyond {number(policy.check_stale_seconds)} s, the staleness alert's threshold).",
            [query("A", sel("ad_check_success"), kind="table"),
             query("B", sel("ad_check_duration_seconds"), kind="table"),
             query("C", f"time() - {sel('ad_check_last_success_timestamp_seconds')}", kind="table")],
            {"Value #A": "Last run", "Value #B": "Duration", "Value #C": "Since last success"},
            columns=[column("Last run", mappings_of(OK_FAILING), COLOURED),
                     column("Duration", unit_of("s")),
                     column("Since last success", unit_of("dtdurations"), COLOURED,
                            thresholds_of(steps((None, "green"), (policy.check_stale_seconds, "red"))))],
            width=10,
        ),
        table_panel(
            "Per-DC check status",
            "Whether the per-DC part of the time, dns and replication checks could read each DC in its last "
            "run.",
            [query("A", sel("ad_domain_controller_check_success"), kind="table")],
            {"Value": "Last run"},
            columns=[column("Last run", mappings_of(OK_FAILING), COLOURED)],
            width=10,
        ),
        stat_panel(
            "Exporter version",
            "Version of each selected exporter instance.",
            [query("A", sel("ad_exporter_build_info", domain=False), "{{version}}", kind="instant")],
            width=4, height=8,
        ).text_mode(common.BigValueTextMode.NAME).thresholds(steps((None, "blue"))),
    ]


# --- dashboard --------------------------------------------------------------------------------------------


def build(policy: Policy | None = None, selector: str | None = None) -> dict[str, Any]:
    """The dashboard as a JSON-ready dict; what is not given comes from the default bundle settings."""
    if policy is None or selector is None:
        default_policy, default_selector = from_settings()
        policy, selector = policy or default_policy, selector or default_selector
    builder = (
        dashboard.Dashboard(TITLE).uid(UID)
        .description("Faults behind Kerberos mutual-authentication failures in Active Directory: DC clocks, "
                     "SPNs, computer accounts and machine passwords, DNS and replication, as seen by "
                     "ad-health-exporter.")
        .tags(["active-directory", "kerberos", "ad-health-exporter"])
        .time("now-24h", "now").refresh("1m").timezone("browser").readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
    )
    for variable in variables(selector):
        builder = builder.with_variable(variable)
    for item in [*overview_row(policy, selector), *clocks_row(policy), *replication_row(policy), *dns_row(policy),
                 *spn_row(), *accounts_row(policy), *keys_row(), *kerberos_row(),
                 *locator_row(),
                 *exporter_row(policy)]:
        builder = builder.with_row(item) if isinstance(item, dashboard.Row) else builder.with_panel(item)
    result: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for panel_id, panel in enumerate(result["panels"], start=1):
        panel["id"] = panel_id
    return result


def render(policy: Policy | None = None, selector: str | None = None) -> str:
    return json.dumps(build(policy, selector), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT_FILE, help=f"default: {OUTPUT_FILE}")
    parser.add_argument("--settings", type=Path, help="bundle settings on top of alerts/bundle.yml")
    args = parser.parse_args(argv)
    try:
        text = render(*from_settings(args.settings))
    except ValueError as err:  # the bundle's SettingsError
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python {Path(__file__).name} (or make alerts)", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

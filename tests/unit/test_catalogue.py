"""The check catalogue drives configuration, and docs/configuration.md says what it holds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ad_health_exporter import config
from ad_health_exporter.catalogue import BY_NAME, CHECKS
from ad_health_exporter.checks.base import Check
from ad_health_exporter.config import CheckSettings, ConfigError
from ad_health_exporter.config.tree import Node

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_UNITS = {"s": 1, "m": 60, "h": 3600}


def minimal_domain(**extra: object) -> dict[str, object]:
    bind = {"user": "monitor@lab.example", "password_env": "PW"}
    return {"domains": [{"name": "lab.example", "bind": bind, **extra}]}


def parse(data: dict[str, object], checks: tuple[Check, ...] = CHECKS) -> config.Config:
    return config.parse(data, checks, base=Path("."), environ={"PW": "secret"})


def test_documented_default_intervals_are_the_catalogue_s() -> None:
    (line,) = [ln for ln in DOCS.read_text().splitlines() if ln.startswith("Default intervals:")]
    documented = {name: float(n) * _UNITS[unit] for name, n, unit in re.findall(r"`(\w+)` (\d+)([smh])", line)}
    assert documented == {c.name: c.interval for c in CHECKS}


def test_every_settings_section_is_documented_with_its_keys() -> None:
    text = DOCS.read_text()
    for check in CHECKS:
        if check.settings is None:
            continue
        section = text.split(f"### `{check.name}`\n", 1)
        assert len(section) == 2, f"docs/configuration.md has no section for {check.name}"
        body = section[1].split("\n### ", 1)[0]
        default = check.settings.default
        for field in dataclasses.fields(default):
            assert f"| `{field.name}` |" in body, f"{check.name}.{field.name} is not documented"


def test_defaults_come_from_the_catalogue() -> None:
    (domain,) = parse(minimal_domain()).domains
    assert dict(domain.intervals) == {c.name: c.interval for c in CHECKS}
    assert {name: type(value) for name, value in domain.settings.items()} == {
        c.name: type(c.settings.default) for c in CHECKS if c.settings is not None
    }


def test_a_new_check_brings_its_own_interval_key_and_section() -> None:
    @dataclasses.dataclass(frozen=True)
    class Probe:
        attempts: int = 3

    def read(node: Node) -> Probe:
        keys = node.mapping(("attempts",))
        return Probe(keys["attempts"].integer(1, 10)) if "attempts" in keys else Probe()

    extra = Check(
        name="probe", interval=30.0, run=lambda ctx: None, series=lambda d, r: [], findings=lambda r: [],
        summary=lambda r: [], settings=CheckSettings(default=Probe(), parse=read),
    )
    checks = (*CHECKS, extra)
    (domain,) = parse(minimal_domain(probe={"attempts": 5}, intervals={"probe": "10s"}), checks).domains
    assert domain.settings["probe"] == Probe(5) and domain.interval("probe") == 10.0
    with pytest.raises(ConfigError, match=r"domains\[0\]\.probe\.attempts: must be at most 10"):
        parse(minimal_domain(probe={"attempts": 50}), checks)
    # Without the check in the catalogue, its keys are unknown.
    with pytest.raises(ConfigError, match=r"domains\[0\]\.probe: unknown key"):
        parse(minimal_domain(probe={"attempts": 5}))
    with pytest.raises(ConfigError, match=r"domains\[0\]\.intervals\.probe: unknown key"):
        parse(minimal_domain(intervals={"probe": "10s"}))


def test_by_name_is_the_catalogue() -> None:
    assert list(BY_NAME) == [c.name for c in CHECKS]
    assert all(BY_NAME[c.name] is c for c in CHECKS)

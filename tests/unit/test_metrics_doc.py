"""docs/metrics.md lists exactly the metrics the code defines, with the same labels."""

from __future__ import annotations

import re
from pathlib import Path

from ad_health_exporter import metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(ad_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \|")


def documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            name, type_, labels = match.groups()
            assert name not in rows, f"{name} documented twice"
            rows[name] = (type_, tuple(re.findall(r"`([a-z_]+)`", labels)))
    return rows


def test_every_metric_documented_with_its_labels() -> None:
    docs = documented()
    code = {spec.name: (spec.type, spec.labels) for spec in metrics.ALL}
    assert sorted(set(code) - set(docs)) == [], "metrics missing from docs/metrics.md"
    assert sorted(set(docs) - set(code)) == [], "docs/metrics.md lists metrics the code does not define"
    for name, (type_, labels) in code.items():
        assert docs[name][0] == type_, name
        assert sorted(docs[name][1]) == sorted(labels), name


def test_catalogue_names_follow_conventions() -> None:
    for spec in metrics.ALL:
        assert spec.name.startswith("ad_"), spec.name
        assert "dc" not in spec.labels, f"{spec.name}: use domain_controller, not dc"
        if "timestamp" in spec.name:
            assert spec.name.endswith("_timestamp_seconds"), spec.name
        assert spec.help.strip(), spec.name

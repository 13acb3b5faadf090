"""A prometheus_client collector that renders the stored latest results on each scrape."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import metrics as m
from ..checks.base import Check
from ..metrics import Series
from .store import ResultStore

log = logging.getLogger(__name__)


class ExporterCollector(Collector):
    def __init__(self, store: ResultStore, checks: Iterable[Check[Any, Any]], version: str) -> None:
        self._store = store
        self._checks = {c.name: c for c in checks}
        self._version = version

    def describe(self) -> list:
        # Empty: registering must not run collect() before the scheduler has started.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        series: list[Series] = [Series(m.BUILD_INFO, (self._version,), 1.0)]
        for state in self._store.states():
            key = (state.domain, state.check)
            if state.last is not None:
                series.append(Series(m.CHECK_SUCCESS, key, 1.0 if state.last.ok else 0.0))
                series.append(Series(m.CHECK_DURATION, key, state.last.duration))
            if state.last_success is not None:
                series.append(Series(m.CHECK_LAST_SUCCESS, key, state.last_success.finished))
            check = self._checks.get(state.check)
            if state.result is None or check is None:
                continue
            try:
                series.extend(check.series(state.domain, state.result))
            except Exception:  # one check's bug must not break the whole scrape (logged with its traceback)
                log.exception("cannot render the check's result", extra={"domain": state.domain, "check": state.check})
        yield from families(series)


def families(series: Iterable[Series]) -> Iterator[GaugeMetricFamily]:
    """Group series into families, in catalogue order, dropping repeated series (first wins)."""
    grouped: dict[str, tuple[GaugeMetricFamily, set[tuple[str, ...]]]] = {}
    for s in series:
        if s.metric.name not in grouped:
            grouped[s.metric.name] = (GaugeMetricFamily(s.metric.name, s.metric.help, labels=s.metric.labels), set())
        family, seen = grouped[s.metric.name]
        if s.labels in seen:
            continue
        seen.add(s.labels)
        family.add_metric(list(s.labels), s.value)
    order = {spec.name: i for i, spec in enumerate(m.ALL)}
    for name in sorted(grouped, key=lambda n: order.get(n, len(order))):
        yield grouped[name][0]

"""A prometheus_client collector that renders the scheduler's latest results on each scrape."""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import metrics as m
from .metrics import Sample
from .registry import CheckDefinition
from .scheduler import Scheduler

log = logging.getLogger(__name__)


class ExporterCollector(Collector):
    def __init__(self, scheduler: Scheduler, checks: Iterable[CheckDefinition], version: str) -> None:
        self._scheduler = scheduler
        self._checks = {c.name: c for c in checks}
        self._version = version

    def describe(self) -> list:
        # Empty: registering must not run collect() before the scheduler has started.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        samples: list[Sample] = [Sample(m.BUILD_INFO, (self._version,), 1.0)]
        for state in self._scheduler.states():
            key = (state.domain, state.check)
            if state.last is not None:
                samples.append(Sample(m.CHECK_SUCCESS, key, 1.0 if state.last.ok else 0.0))
                samples.append(Sample(m.CHECK_DURATION, key, state.last.duration))
            if state.last_success is not None:
                samples.append(Sample(m.CHECK_LAST_SUCCESS, key, state.last_success.finished))
            definition = self._checks.get(state.check)
            if state.result is None or definition is None:
                continue
            try:
                samples.extend(definition.samples(state.domain, state.result))
            except Exception:  # noqa: BLE001 - one check's bug must not break the whole scrape
                log.exception("cannot render the check's result", extra={"domain": state.domain, "check": state.check})
        yield from families(samples)


def families(samples: Iterable[Sample]) -> Iterator[GaugeMetricFamily]:
    """Group samples into families, in catalogue order, dropping repeated series (first wins)."""
    grouped: dict[str, tuple[GaugeMetricFamily, set[tuple[str, ...]]]] = {}
    for s in samples:
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

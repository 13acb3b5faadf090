"""The checks the exporter runs, each with its result-to-samples and result-to-findings functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .checks import clock as time_check
from .checks import dns as dns_check
from .checks import inventory as inventory_check
from .checks import spn as spn_check
from .checks import accounts as accounts_check
from .checks import replication as replication_check
from .checks.base import CheckContext, Finding
from .metrics import Sample
from .samples import clock as time_samples
from .samples import dns as dns_samples
from .samples import inventory as inventory_samples
from .samples import spn as spn_samples
from .samples import accounts as accounts_samples
from .samples import replication as replication_samples


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    run: Callable[[CheckContext], Any]
    samples: Callable[[str, Any], Iterable[Sample]]
    findings: Callable[[Any], list[Finding]]
    needs_inventory: bool = True
    # Lines that describe what was seen (tables such as the DC list), for the check report.
    summary: Callable[[Any], list[str]] | None = None


CHECKS: tuple[CheckDefinition, ...] = (
    CheckDefinition(
        name=inventory_check.NAME,
        run=inventory_check.run,
        samples=inventory_samples.samples,
        findings=inventory_check.findings,
        needs_inventory=False,
        summary=inventory_check.summary,
    ),
    CheckDefinition(
        name=spn_check.NAME,
        run=spn_check.run,
        samples=spn_samples.samples,
        findings=spn_check.findings,
        summary=spn_check.summary,
    ),
    CheckDefinition(
        name=accounts_check.NAME,
        run=accounts_check.run,
        samples=accounts_samples.samples,
        findings=accounts_check.findings,
        summary=accounts_check.summary,
    ),
    CheckDefinition(
        name=time_check.NAME,
        run=time_check.run,
        samples=time_samples.samples,
        findings=time_check.findings,
        summary=time_check.summary,
    ),
    CheckDefinition(
        name=dns_check.NAME,
        run=dns_check.run,
        samples=dns_samples.samples,
        findings=dns_check.findings,
        summary=dns_check.summary,
    ),
    CheckDefinition(
        name=replication_check.NAME,
        run=replication_check.run,
        samples=replication_samples.samples,
        findings=replication_check.findings,
        summary=replication_check.summary,
    ),
)

BY_NAME: dict[str, CheckDefinition] = {c.name: c for c in CHECKS}

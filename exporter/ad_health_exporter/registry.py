"""The checks the exporter runs, each with its result-to-samples and result-to-findings functions."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
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


def _define(check: ModuleType, samples: ModuleType, needs_inventory: bool = True) -> CheckDefinition:
    """A check module (NAME, run, findings, summary) with its samples module (samples)."""
    return CheckDefinition(
        name=check.NAME,
        run=check.run,
        samples=samples.samples,
        findings=check.findings,
        needs_inventory=needs_inventory,
        summary=check.summary,
    )


# Inventory first: the `check` command runs and reports the checks in this order, and every other
# check reads the inventory.
CHECKS: tuple[CheckDefinition, ...] = (
    _define(inventory_check, inventory_samples, needs_inventory=False),
    _define(spn_check, spn_samples),
    _define(accounts_check, accounts_samples),
    _define(time_check, time_samples),
    _define(dns_check, dns_samples),
    _define(replication_check, replication_samples),
)

BY_NAME: dict[str, CheckDefinition] = {c.name: c for c in CHECKS}

"""The checks the exporter runs, each with its result-to-samples and result-to-findings functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .checks import inventory as inventory_check
from .checks.base import CheckContext, Finding
from .metrics import Sample
from .samples import inventory as inventory_samples


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
)

BY_NAME: dict[str, CheckDefinition] = {c.name: c for c in CHECKS}

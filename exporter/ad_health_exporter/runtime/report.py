"""The ``check`` command's report: one line per finding, grouped by domain and check, like dcdiag."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from ..checks.base import Check, Finding
from .store import JobState

EXIT_HEALTHY, EXIT_FINDINGS, EXIT_CANNOT_RUN = 0, 1, 2
_MARK = {"error": "ERROR", "warning": "WARN ", "info": "INFO "}


@dataclass(frozen=True)
class Outcome:
    findings: list[Finding]
    failed_checks: list[str]

    @property
    def exit_status(self) -> int:
        if self.failed_checks:
            return EXIT_CANNOT_RUN
        if any(f.severity in ("error", "warning") for f in self.findings):
            return EXIT_FINDINGS
        return EXIT_HEALTHY


def write(states: Iterable[JobState], checks: dict[str, Check[Any, Any]], out: TextIO) -> Outcome:
    all_findings: list[Finding] = []
    failed: list[str] = []
    by_domain: dict[str, list[JobState]] = {}
    for state in states:
        by_domain.setdefault(state.domain, []).append(state)
    for domain, domain_states in by_domain.items():
        out.write(f"Domain {domain}\n")
        for state in domain_states:
            check = checks[state.check]
            last = state.last
            if last is None:
                continue
            status = "passed" if last.ok else "FAILED"
            out.write(f"\n  {state.check} ........ {status} ({last.duration:.1f}s)\n")
            if not last.ok:
                failed.append(f"{domain}/{state.check}")
                out.write(f"    could not run: {last.error}\n")
            if state.result is None:
                continue
            for line in check.summary(state.result):
                out.write(f"    {line}\n")
            findings = check.findings(state.result)
            all_findings.extend(findings)
            for f in findings:
                out.write(f"    {_MARK[f.severity]} {f.subject}: {f.message}\n")
                if f.fix:
                    out.write(f"          fix: {f.fix}\n")
        out.write("\n")
    errors = sum(f.severity == "error" for f in all_findings)
    warnings = sum(f.severity == "warning" for f in all_findings)
    outcome = Outcome(all_findings, failed)
    verdict = {EXIT_HEALTHY: "healthy", EXIT_FINDINGS: "findings", EXIT_CANNOT_RUN: "some checks could not run"}
    out.write(
        f"Summary: {errors} error(s), {warnings} warning(s), {len(failed)} check(s) could not run"
        f" -> {verdict[outcome.exit_status]}\n"
    )
    return outcome

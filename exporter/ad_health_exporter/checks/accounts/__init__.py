"""Accounts check: computer accounts (enabled, machine password age), watched computers, krbtgt."""

from ..base import Check
from . import report, scan, series, settings

CHECK = Check(
    name=scan.NAME,
    interval=900.0,
    run=scan.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

"""Kerberos check: each DC's KDC asked for a TGT and for service tickets; key versions compared."""

from ..base import Check
from . import probe, report, series, settings

CHECK = Check(
    name=probe.NAME,
    interval=300.0,
    run=probe.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

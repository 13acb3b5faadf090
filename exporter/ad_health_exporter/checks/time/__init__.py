"""The time check: each DC's clock against the exporter's, by NTP and by LDAP currentTime."""

from ..base import Check
from . import probe, report, series, settings

CHECK = Check(
    name=probe.NAME,
    interval=60.0,
    run=probe.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

"""The locator check: the LDAP ping (UDP 389) to every DC, and what each one advertises."""

from ..base import Check
from . import ping, report, series, settings

CHECK = Check(
    name=ping.NAME,
    interval=60.0,
    run=ping.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

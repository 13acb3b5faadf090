"""SPN check: duplicated, missing and malformed service principal names."""

from ..base import Check
from . import index, read, report, series, settings

CHECK = Check(
    name=index.NAME,
    interval=900.0,
    run=read.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

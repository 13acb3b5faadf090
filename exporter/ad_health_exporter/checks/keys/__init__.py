"""The keys check: each important account's key version as every DC holds it, and the domain's
computers whose password differs between DCs (error 1397 at the DC that holds the old key)."""

from ..base import Check
from . import model, read, report, series, settings

CHECK = Check(
    name=model.NAME,
    interval=300.0,
    run=read.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    settings=settings.SETTINGS,
)

"""DNS check: do the DNS servers send clients to the DCs that exist, at addresses where they answer?"""

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

"""Replication check: each DC's inbound links, per naming context and source, like ``repadmin /showrepl``."""

from ..base import Check
from . import read, report, series

CHECK = Check(
    name=read.NAME,
    interval=60.0,
    run=read.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
)

"""Inventory check: which DCs the domain has, their roles, and whether each answers LDAP."""

from ..base import Check
from . import read, report, series

CHECK = Check(
    name=read.NAME,
    interval=60.0,
    run=read.run,
    series=series.series,
    findings=report.findings,
    summary=report.summary,
    needs_inventory=False,
)

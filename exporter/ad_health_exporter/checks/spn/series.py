"""Series of the spn check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .index import SpnResult


def series(domain: str, result: SpnResult) -> Iterator[Series]:
    yield Series(m.SPN_VALUES, (domain,), float(result.values))
    yield Series(m.SPN_DUPLICATES, (domain,), float(result.duplicates))
    yield Series(m.SPN_MALFORMED, (domain,), float(result.malformed))
    if result.host_missing is not None:
        yield Series(m.SPN_HOST_MISSING, (domain,), float(result.host_missing))
    for dup in result.duplicate_list:
        yield Series(m.SPN_DUPLICATE_ACCOUNTS, (domain, dup.spn), float(dup.holders))
    for e in result.expected:
        yield Series(m.SPN_EXPECTED_HOLDERS, (domain, e.spn, e.account), float(e.holders))
        yield Series(m.SPN_EXPECTED_ON_ACCOUNT, (domain, e.spn, e.account), 1.0 if e.on_account else 0.0)

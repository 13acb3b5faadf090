"""Series of the spn check."""

from __future__ import annotations

from typing import Iterator

from .. import metrics as m
from ..checks.spn import SpnResult
from ..metrics import Sample


def samples(domain: str, result: SpnResult) -> Iterator[Sample]:
    yield Sample(m.SPN_VALUES, (domain,), float(result.values))
    yield Sample(m.SPN_DUPLICATES, (domain,), float(result.duplicates))
    yield Sample(m.SPN_MALFORMED, (domain,), float(result.malformed))
    if result.host_missing is not None:
        yield Sample(m.SPN_HOST_MISSING, (domain,), float(result.host_missing))
    for dup in result.duplicate_list:
        yield Sample(m.SPN_DUPLICATE_ACCOUNTS, (domain, dup.spn), float(dup.holders))
    for e in result.expected:
        yield Sample(m.SPN_EXPECTED_HOLDERS, (domain, e.spn, e.account), float(e.holders))
        yield Sample(m.SPN_EXPECTED_ON_ACCOUNT, (domain, e.spn, e.account), 1.0 if e.on_account else 0.0)

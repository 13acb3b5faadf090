"""Series of the replication check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .read import NAME, ReplicationResult


def series(domain: str, result: ReplicationResult) -> Iterator[Series]:
    for state in result.dcs:
        yield Series(m.DC_CHECK_SUCCESS, (domain, state.host, NAME), 1.0 if state.readable else 0.0)
        for link in state.links:
            labels = (domain, state.host, link.naming_context, link.source)
            yield Series(m.REPL_FAILURES, labels, float(link.consecutive_failures))
            # 0 = never, as the catalogue says; PromQL's time() - 0 then reads as "very old".
            yield Series(m.REPL_LAST_SUCCESS, labels, float(link.last_success or 0))
            yield Series(m.REPL_LAST_ATTEMPT, labels, float(link.last_attempt or 0))
            yield Series(m.REPL_LAST_RESULT, labels, float(link.last_result & 0xFFFFFFFF))

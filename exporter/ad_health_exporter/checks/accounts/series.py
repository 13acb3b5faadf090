"""Series of the accounts check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .scan import AccountsResult


def series(domain: str, result: AccountsResult) -> Iterator[Series]:
    yield Series(m.COMPUTER_ACCOUNTS, (domain, "true"), float(result.enabled))
    yield Series(m.COMPUTER_ACCOUNTS, (domain, "false"), float(result.disabled))
    for days, count in result.stale:
        yield Series(m.COMPUTER_PASSWORD_STALE, (domain, str(days)), float(count))
    for w in result.watched:
        yield Series(m.COMPUTER_PRESENT, (domain, w.computer), 1.0 if w.present else 0.0)
        yield Series(m.COMPUTER_ENABLED, (domain, w.computer), 1.0 if w.present and w.enabled else 0.0)
        if w.password is not None and w.password.unix is not None:
            yield Series(m.COMPUTER_PASSWORD_LAST_SET, (domain, w.computer), w.password.unix)
    if result.krbtgt is not None and result.krbtgt.unix is not None:
        yield Series(m.KRBTGT_PASSWORD_LAST_SET, (domain,), result.krbtgt.unix)

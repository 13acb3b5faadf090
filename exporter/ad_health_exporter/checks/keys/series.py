"""Series of the keys check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .model import NAME, KeysResult


def series(domain: str, result: KeysResult) -> Iterator[Series]:
    for dc in result.dcs:
        yield Series(m.DC_CHECK_SUCCESS, (domain, dc.host, NAME), 1.0 if dc.error is None else 0.0)
        for account, reading in dc.readings.items():
            if reading is None:
                continue
            if reading.key_version is not None:
                yield Series(m.ACCOUNT_KEY_VERSION, (domain, dc.host, account), float(reading.key_version))
            when = reading.password_last_set_unix
            if when is not None:
                yield Series(m.ACCOUNT_PASSWORD_LAST_SET, (domain, dc.host, account), when)
    for verdict in result.verdicts:
        # Only a comparison has a verdict: one DC read alone never reads as "they agree".
        if verdict.comparable:
            yield Series(m.ACCOUNT_KEY_DIVERGENT, (domain, verdict.account), 1.0 if verdict.divergent else 0.0)
    if result.domain_wide is not None:
        yield Series(m.COMPUTER_PASSWORD_DIVERGENT, (domain,), float(result.domain_wide.divergent))

"""Series of the Kerberos check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .model import NAME, KerberosResult


def series(domain: str, result: KerberosResult) -> Iterator[Series]:
    if not result.enabled:
        return
    for dc in result.dcs:
        yield Series(m.DC_CHECK_SUCCESS, (domain, dc.host, NAME), 1.0 if dc.tgt else 0.0)
        if dc.answered is None:  # not asked: neither up nor down
            continue
        yield Series(m.KERBEROS_KDC_UP, (domain, dc.host), 1.0 if dc.answered else 0.0)
        if not dc.answered:
            continue
        if dc.as_seconds is not None:
            yield Series(m.KERBEROS_AS_SECONDS, (domain, dc.host), dc.as_seconds)
        yield Series(m.KERBEROS_AS_ERROR, (domain, dc.host), float(dc.as_error or 0))
        for ticket in dc.tickets:
            labels = (domain, dc.host, ticket.spn.lower())
            yield Series(m.KERBEROS_TICKET_ISSUED, labels, 1.0 if ticket.issued else 0.0)
            if ticket.issued:
                yield Series(m.KERBEROS_TICKET_ERROR, labels, 0.0)
                if ticket.kvno is not None:
                    yield Series(m.KERBEROS_TICKET_KVNO, labels, float(ticket.kvno))
            elif ticket.kdc_error is not None:
                yield Series(m.KERBEROS_TICKET_ERROR, labels, float(ticket.kdc_error))
    for spn, by_kvno in sorted(result.key_versions().items()):
        if sum(len(hosts) for hosts in by_kvno.values()) >= 2:
            yield Series(m.KERBEROS_TICKET_DIVERGENT, (domain, spn), 1.0 if len(by_kvno) > 1 else 0.0)

"""Series of the dns check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .model import NAME, DnsResult


def series(domain: str, result: DnsResult) -> Iterator[Series]:
    for dc in result.dcs:
        yield Series(m.DC_CHECK_SUCCESS, (domain, dc.host, NAME), 1.0 if result.dc_readable(dc.host) else 0.0)
    # A server that did not answer has no series: "no answer" must not read as "0 stale".
    for view in result.servers:
        if view.error is not None:
            continue
        for lookup in view.dcs:
            labels = (domain, lookup.host, view.server)
            if lookup.addresses is not None:
                yield Series(m.DNS_DC_ADDRESSES, labels, float(len(lookup.addresses)))
                yield Series(m.DNS_STALE_ADDRESSES, labels, float(len(result.stale(lookup))))
            if lookup.alias_error is None:
                yield Series(m.DNS_DSA_ALIAS, labels, 1.0 if lookup.alias_target == lookup.host else 0.0)
        for srv in view.srv:
            labels = (domain, srv.record.record, view.server)
            unknown = result.srv_unknown(srv)
            if unknown is not None:
                yield Series(m.DNS_SRV_UNKNOWN, labels, float(len(unknown)))
            missing = result.srv_missing(srv)
            if missing is not None:
                yield Series(m.DNS_SRV_MISSING, labels, float(len(missing)))
    for rec in result.zone_records:
        if rec.timestamp is not None:  # static records (timestamp 0) never age: not exported
            yield Series(m.DNS_RECORD_TIMESTAMP, (domain, rec.host, rec.address), float(rec.timestamp))

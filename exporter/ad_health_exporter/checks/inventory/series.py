"""Series of the inventory check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series, flag
from ...topology import Inventory, Reachability


def series(domain: str, result: Inventory) -> Iterator[Series]:
    for dc in result.domain_controllers:
        yield Series(
            m.DC_INFO,
            (domain, dc.host, dc.site, flag(dc.global_catalog), flag(dc.read_only), flag(dc.pdc)),
            1.0,
        )
        reach = result.reachability.get(dc.host, Reachability(up=False))
        yield Series(m.DC_UP, (domain, dc.host), 1.0 if reach.up else 0.0)
        for direction, disabled in (("inbound", dc.inbound_replication_disabled),
                                    ("outbound", dc.outbound_replication_disabled)):
            yield Series(m.DC_REPLICATION_DISABLED, (domain, dc.host, direction), 1.0 if disabled else 0.0)

"""Series of the inventory check."""

from __future__ import annotations

from typing import Iterator

from .. import metrics as m
from ..inventory import Inventory, Reachability
from ..metrics import Sample
from .common import flag


def samples(domain: str, result: Inventory) -> Iterator[Sample]:
    for dc in result.domain_controllers:
        yield Sample(
            m.DC_INFO,
            (domain, dc.host, dc.site, flag(dc.global_catalog), flag(dc.read_only), flag(dc.pdc)),
            1.0,
        )
        reach = result.reachability.get(dc.host, Reachability(up=False))
        yield Sample(m.DC_UP, (domain, dc.host), 1.0 if reach.up else 0.0)

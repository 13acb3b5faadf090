"""The ``locator:`` section of a domain: how long to wait for an LDAP ping answer, and how often to ask."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional


@dataclass(frozen=True)
class LocatorSettings:
    # Per request. A DC answers in a few milliseconds; Windows' own locator waits 0.4 s before
    # asking again, so a second is generous without letting one lost datagram fail a DC.
    timeout: float = 1.0
    retries: int = 2  # requests sent again to an address that has not answered


def parse(node: Node) -> LocatorSettings:
    keys = node.mapping(("timeout", "retries"))
    return LocatorSettings(
        timeout=optional(keys, "timeout", lambda n: n.duration(), 1.0),
        retries=optional(keys, "retries", lambda n: n.integer(0, 10), 2),
    )


SETTINGS = CheckSettings(default=LocatorSettings(), parse=parse)

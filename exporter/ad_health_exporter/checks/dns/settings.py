"""The ``dns:`` section of a domain: which DNS servers to ask, and the probes' time limits."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, ip_address, optional


@dataclass(frozen=True)
class DnsSettings:
    # Empty: ask each DC as a DNS server (up to max_servers of them).
    servers: tuple[str, ...] = ()
    max_servers: int = 4
    timeout: float = 2.0
    probe_timeout: float = 2.0
    read_zones: bool = True


def parse(node: Node) -> DnsSettings:
    keys = node.mapping(("servers", "max_servers", "timeout", "probe_timeout", "read_zones"))
    servers: tuple[str, ...] = ()
    if "servers" in keys and keys["servers"].value is not None:
        servers = tuple(ip_address(n) for n in keys["servers"].items())
    return DnsSettings(
        servers=servers,
        max_servers=optional(keys, "max_servers", lambda n: n.integer(1, 64), 4),
        timeout=optional(keys, "timeout", lambda n: n.duration(), 2.0),
        probe_timeout=optional(keys, "probe_timeout", lambda n: n.duration(), 2.0),
        read_zones=optional(keys, "read_zones", Node.boolean, True),
    )


SETTINGS = CheckSettings(default=DnsSettings(), parse=parse)

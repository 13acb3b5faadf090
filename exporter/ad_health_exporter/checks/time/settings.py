"""The ``time:`` section of a domain: which probes run, and the report's offset thresholds."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional


@dataclass(frozen=True)
class TimeSettings:
    ntp: bool = True
    ntp_timeout: float = 2.0
    ldap: bool = True
    # Offsets the check report calls a warning / an error (Kerberos' MaxClockSkew is 5 minutes).
    warning_offset: float = 30.0
    error_offset: float = 240.0


def parse(node: Node) -> TimeSettings:
    keys = node.mapping(("ntp", "ntp_timeout", "ldap", "warning_offset", "error_offset"))
    cfg = TimeSettings(
        ntp=optional(keys, "ntp", Node.boolean, True),
        ntp_timeout=optional(keys, "ntp_timeout", lambda n: n.duration(), 2.0),
        ldap=optional(keys, "ldap", Node.boolean, True),
        warning_offset=optional(keys, "warning_offset", lambda n: n.duration(), 30.0),
        error_offset=optional(keys, "error_offset", lambda n: n.duration(), 240.0),
    )
    if not (cfg.ntp or cfg.ldap):
        raise node.fail("ntp and ldap are both false: the time check would have no source to read")
    if cfg.warning_offset >= cfg.error_offset:
        where = keys.get("warning_offset") or keys.get("error_offset") or node
        raise where.fail(
            f"warning_offset ({cfg.warning_offset:g}s) must be smaller than error_offset ({cfg.error_offset:g}s)"
        )
    return cfg


SETTINGS = CheckSettings(default=TimeSettings(), parse=parse)

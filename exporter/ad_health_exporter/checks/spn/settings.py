"""The ``spn:`` section of a domain: the SPNs expected on which accounts, and series limits."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional


@dataclass(frozen=True)
class ExpectedSpn:
    spn: str
    account: str


@dataclass(frozen=True)
class SpnSettings:
    expected: tuple[ExpectedSpn, ...] = ()
    duplicate_series_limit: int = 100
    expect_domain_controller_spns: bool = True
    expect_host_spn_on_computers: bool = True


def parse(node: Node) -> SpnSettings:
    keys = node.mapping(
        ("expected", "duplicate_series_limit", "expect_domain_controller_spns", "expect_host_spn_on_computers")
    )
    expected: list[ExpectedSpn] = []
    if "expected" in keys and keys["expected"].value is not None:
        for item in keys["expected"].items():
            fields = item.mapping(("spn", "account"))
            for required in ("spn", "account"):
                if required not in fields:
                    raise item.fail(f"missing required key '{required}'")
            spn = fields["spn"].string()
            if spn.count("/") not in (1, 2) or any(not p for p in spn.split("/")[:2]):
                raise fields["spn"].fail(f"is not an SPN of the form class/host[:port][/service]: {spn!r}")
            expected.append(ExpectedSpn(spn=spn, account=fields["account"].string()))
    return SpnSettings(
        expected=tuple(expected),
        duplicate_series_limit=optional(keys, "duplicate_series_limit", lambda n: n.integer(0, 100000), 100),
        expect_domain_controller_spns=optional(keys, "expect_domain_controller_spns", Node.boolean, True),
        expect_host_spn_on_computers=optional(keys, "expect_host_spn_on_computers", Node.boolean, True),
    )


SETTINGS = CheckSettings(default=SpnSettings(), parse=parse)

"""The ``keys:`` section of a domain: extra accounts to compare across DCs, and the domain-wide count."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional

DAY = 86400.0


@dataclass(frozen=True)
class KeysSettings:
    # sAMAccountNames compared on every DC besides the automatic ones (every DC's computer account,
    # krbtgt, accounts.watched_computers and the holders of spn.expected): service accounts, say.
    accounts: tuple[str, ...] = ()
    # Count the enabled computers whose password differs between DCs, domain-wide.
    domain_wide: bool = True
    # The domain-wide count looks only at computers whose pwdLastSet is newer than this on some DC:
    # what bounds its cost (docs/performance.md). A divergence whose newer password is older than
    # this leaves the count; the replication alerts have paged long before.
    look_back: float = DAY


def parse(node: Node) -> KeysSettings:
    keys = node.mapping(("accounts", "domain_wide", "look_back"))
    accounts: tuple[str, ...] = ()
    if "accounts" in keys and keys["accounts"].value is not None:
        accounts = tuple(dict.fromkeys(_account(n) for n in keys["accounts"].items()))
    return KeysSettings(
        accounts=accounts,
        domain_wide=optional(keys, "domain_wide", Node.boolean, True),
        look_back=optional(keys, "look_back", lambda n: n.duration(minimum=60.0), DAY),
    )


def _account(node: Node) -> str:
    # "LAB\\svc_sql" and "svc_sql" name the same account; the sAMAccountName is what is compared.
    name = node.string().rsplit("\\", 1)[-1].strip()
    if not name or any(c in name for c in '"/[]:;|=+*?<>,@'):
        raise node.fail(f"is not a sAMAccountName: {node.string()!r}")
    return name


SETTINGS = CheckSettings(default=KeysSettings(), parse=parse)

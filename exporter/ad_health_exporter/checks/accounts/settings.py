"""The ``accounts:`` section of a domain: which computers to watch, and the password-age thresholds."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional


@dataclass(frozen=True)
class AccountsSettings:
    watched_computers: tuple[str, ...] = ()
    password_age_days: tuple[int, ...] = (45, 90, 180)
    watch_domain_controllers: bool = True


def parse(node: Node) -> AccountsSettings:
    keys = node.mapping(("watched_computers", "password_age_days", "watch_domain_controllers"))
    watched: tuple[str, ...] = ()
    if "watched_computers" in keys and keys["watched_computers"].value is not None:
        watched = tuple(n.string().rstrip("$").upper() for n in keys["watched_computers"].items())
    ages: tuple[int, ...] = (45, 90, 180)
    if "password_age_days" in keys and keys["password_age_days"].value is not None:
        items = keys["password_age_days"].items()
        if not items:
            raise keys["password_age_days"].fail("must list at least one number of days")
        ages = tuple(sorted({n.integer(1, 100000) for n in items}))
    return AccountsSettings(
        watched_computers=watched,
        password_age_days=ages,
        watch_domain_controllers=optional(keys, "watch_domain_controllers", Node.boolean, True),
    )


SETTINGS = CheckSettings(default=AccountsSettings(), parse=parse)

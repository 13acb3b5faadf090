"""The ``kerberos:`` section of a domain: whether the KDC probe runs, as whom, for which extra SPNs."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import CheckSettings
from ...config.tree import Node, optional


@dataclass(frozen=True)
class KerberosSettings:
    enabled: bool = True
    # The monitoring identity's Kerberos principal when bind.user is not a UPN (DOMAIN\user or a DN).
    principal: str | None = None
    # SPNs asked for besides the automatic ones (spn.expected, HOST/ of accounts.watched_computers,
    # every DC's ldap/). Never "every SPN": a ticket for a user account's SPN can be cracked offline.
    spns: tuple[str, ...] = ()
    # The KDC's time for one DC's AS exchange and every service ticket, once its worker has started;
    # each request gets a third of it where MIT krb5 honours request_timeout (1.21 and later).
    timeout: float = 10.0


def _spn(node: Node) -> str:
    spn = node.string().strip()
    parts = spn.split("/")
    if len(parts) not in (2, 3) or any(not p for p in parts[:2]) or "@" in spn:
        raise node.fail(f"is not an SPN of the form class/host[:port][/service] (no realm): {spn!r}")
    return spn


def _principal(node: Node) -> str:
    principal = node.string().strip()
    if principal.count("@") != 1 or principal.startswith("@") or principal.endswith("@") or "\\" in principal:
        raise node.fail(f"is not a Kerberos principal (user@REALM, or a UPN user@suffix): {principal!r}")
    return principal


def parse(node: Node) -> KerberosSettings:
    keys = node.mapping(("enabled", "principal", "spns", "timeout"))
    spns: tuple[str, ...] = ()
    if "spns" in keys and keys["spns"].value is not None:
        spns = tuple(dict.fromkeys(_spn(n) for n in keys["spns"].items()))
    return KerberosSettings(
        enabled=optional(keys, "enabled", Node.boolean, True),
        principal=optional(keys, "principal", _principal, None),
        spns=spns,
        timeout=optional(keys, "timeout", lambda n: n.duration(minimum=1.0), 10.0),
    )


SETTINGS = CheckSettings(default=KerberosSettings(), parse=parse)

"""Which accounts the keys check compares, and finding them in the directory once per run.

The accounts whose key matters most: every DC's computer account (replication and logons depend
on it), krbtgt (every TGT), the computers the ``accounts`` check watches, every account that holds
or should hold an SPN the ``spn`` check expects, and the ``keys.accounts`` of the configuration.
The other checks' settings are read here so that an account is named once, where it is watched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from ldap3.utils.conv import escape_filter_chars

from ...config import DomainConfig
from ...ldap import Entry
from ...ldap.dn import same_dn
from ...topology import Inventory
from ..accounts.settings import AccountsSettings
from ..spn.index import account_matches
from ..spn.settings import ExpectedSpn, SpnSettings
from .model import Target
from .settings import KeysSettings

KRBTGT = "krbtgt"
RESOLVE_ATTRIBUTES = ("sAMAccountName", "objectGUID", "servicePrincipalName")


@dataclass(frozen=True)
class Wanted:
    """What to look for: names, SPNs and DNs, each with why it matters."""

    names: dict[str, str] = field(default_factory=dict)  # sAMAccountName (lower) -> reason
    spns: tuple[ExpectedSpn, ...] = ()
    dcs: dict[str, str] = field(default_factory=dict)  # computer DN -> DC host
    configured: tuple[str, ...] = ()  # names from the configuration, to report the ones not found

    def filter(self) -> str:
        terms = [f"(sAMAccountName={escape_filter_chars(n)})" for n in self.names]
        terms += [f"(servicePrincipalName={escape_filter_chars(e.spn)})" for e in self.spns]
        for e in self.spns:  # "FS01" may name the computer FS01$
            name = _sam(e.account)
            terms += [f"(sAMAccountName={escape_filter_chars(n)})" for n in (name, name.rstrip("$") + "$")]
        terms += [f"(distinguishedName={escape_filter_chars(dn)})" for dn in self.dcs]
        return "(|" + "".join(dict.fromkeys(terms)) + ")"


def _sam(configured: str) -> str:
    return configured.rsplit("\\", 1)[-1]


def wanted(domain: DomainConfig, inventory: Inventory, settings: KeysSettings) -> Wanted:
    accounts = domain.settings.get("accounts")
    spn = domain.settings.get("spn")
    watched = accounts.watched_computers if isinstance(accounts, AccountsSettings) else ()
    expected = spn.expected if isinstance(spn, SpnSettings) else ()
    names: dict[str, str] = {KRBTGT: "krbtgt: every ticket-granting ticket"}
    for computer in watched:
        names.setdefault(f"{computer.lower()}$", "watched computer (accounts.watched_computers)")
    for account in settings.accounts:
        names.setdefault(account.lower(), "configured (keys.accounts)")
    dcs = {dc.computer_dn: dc.host for dc in inventory.domain_controllers if dc.computer_dn}
    configured = tuple(f"{c}$" for c in watched) + settings.accounts
    return Wanted(names=names, spns=tuple(expected), dcs=dcs, configured=configured)


def targets(want: Wanted, entries: Iterable[Entry]) -> list[Target]:
    """The accounts found, each once, with every reason it is compared (pure)."""
    out: dict[str, Target] = {}
    for entry in entries:
        sam = entry.text("sAMAccountName")
        if not sam:
            continue
        reasons: list[str] = []
        for dn, host in want.dcs.items():
            if same_dn(dn, entry.dn):
                reasons.append(f"domain controller {host}")
        if sam.lower() in want.names:
            reasons.append(want.names[sam.lower()])
        held = {s.lower() for s in entry.texts("servicePrincipalName")}
        for expected in want.spns:
            if expected.spn.lower() in held:
                reasons.append(f"holds {expected.spn}")
            elif account_matches(expected.account, sam):
                reasons.append(f"expected to hold {expected.spn}")
        if not reasons:
            continue  # matched a term only by a case the rules above do not share
        guid = entry.first_raw("objectGUID")
        ref = f"<GUID={uuid.UUID(bytes_le=guid)}>" if guid is not None and len(guid) == 16 else entry.dn
        known = out.get(sam.lower())
        merged = tuple(dict.fromkeys((known.reasons if known else ()) + tuple(reasons)))
        out[sam.lower()] = Target(account=sam, ref=ref, dn=entry.dn, reasons=merged)
    return sorted(out.values(), key=lambda t: (not t.reasons[0].startswith("domain controller"), t.account.lower()))

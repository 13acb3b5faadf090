"""The SPN index and the evaluation of a scan: pure, no I/O."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ...formats.errors import DecodeError
from ...formats.spn import SpnMappings, parse_spn
from ...ldap import Entry
from ...ldap.dn import dn_to_dns_name
from ...topology import DomainController, Inventory
from .settings import ExpectedSpn

NAME = "spn"
log = logging.getLogger(__name__)

# The SPN replication between DCs is mutually authenticated with (MS-DRSR 2.2.3.2).
DRS_SPN_CLASS = "E3514235-4B06-11D1-AB04-00C04FC2DCD2"
UF_ACCOUNTDISABLE = 0x2
SCAN_FILTER = "(|(servicePrincipalName=*)(objectCategory=computer))"
SCAN_ATTRIBUTES = ("servicePrincipalName", "sAMAccountName", "userAccountControl", "dNSHostName", "objectCategory")
# Lists in the result (not the counts) are capped, so a broken forest cannot blow up memory or the report.
EXAMPLES_LIMIT = 50
_LOGGED_MALFORMED = 10
_FLAG_CR_NTDS_DOMAIN = 0x2

Source = Literal["config", "domain_controller"]


# --- the index (pure) -------------------------------------------------------------------------


class SpnIndex:
    """Which accounts hold which SPN, keyed by the lower-cased SPN.

    A key with one holder maps to that account's number; with several, to a list of them.
    Only keys of values actually present are stored: alias expansion happens at query time
    (an alias-class SPN also asks who holds its canonical-class twin), so ``HOST/x`` does not
    cost one entry per sPNMappings alias.
    """

    def __init__(self, mappings: SpnMappings) -> None:
        self._mappings = mappings
        self._holders: dict[str, int | list[int]] = {}
        self._malformed: set[str] = set()
        self.names: list[str] = []
        self.values = 0

    def add_account(self, name: str) -> int:
        self.names.append(name)
        return len(self.names) - 1

    def add(self, account: int, value: str) -> DecodeError | None:
        """Index one SPN value of an account; returns the parse error if the value is malformed."""
        self.values += 1
        key = value.lower()
        error: DecodeError | None = None
        try:
            parse_spn(value)
        except DecodeError as exc:
            # Still indexed under its own key: AD's uniqueness rule applies to the value as written.
            error = exc
            self._malformed.add(key)
        held = self._holders.get(key)
        if held is None:
            self._holders[key] = account
        elif isinstance(held, int):
            if held != account:
                self._holders[key] = [held, account]
        elif account not in held:
            held.append(account)
        return error

    def _own(self, key: str) -> list[int]:
        held = self._holders.get(key)
        if held is None:
            return []
        return [held] if isinstance(held, int) else held

    def _canonical_twin(self, key: str) -> str | None:
        """``cifs/x`` -> ``host/x`` when cifs is an alias; None for other keys."""
        if key in self._malformed:
            return None
        service_class, slash, rest = key.partition("/")
        if not slash:
            return None
        canonical = self._mappings.canonical_class(service_class)
        return None if canonical == service_class else f"{canonical}/{rest}"

    def holders(self, spn: str) -> list[int]:
        """Accounts a ticket request for ``spn`` could be served from: holders of the value itself
        and, for an alias class, of its canonical-class twin."""
        key = spn.lower()
        own = self._own(key)
        twin = self._canonical_twin(key)
        if twin is None:
            return list(own)
        return list(dict.fromkeys(own + self._own(twin)))

    def duplicates(self) -> Iterable[tuple[str, list[int]]]:
        """(key, holders) for every distinct present SPN that more than one account answers for."""
        aliases = self._mappings.aliases
        for key, held in self._holders.items():
            if isinstance(held, list):
                yield key, self.holders(key)
                continue
            # One direct holder: a duplicate only if it is an alias whose twin lives elsewhere.
            service_class = key.partition("/")[0]
            if service_class in aliases and key not in self._malformed:
                found = self.holders(key)
                if len(found) > 1:
                    yield key, found

    @property
    def distinct(self) -> int:
        return len(self._holders)


# --- result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateSpn:
    spn: str  # lower case
    accounts: tuple[str, ...]  # sorted; at most EXAMPLES_LIMIT names
    holders: int  # exact


@dataclass(frozen=True)
class ExpectedSpnStatus:
    spn: str  # lower case
    account: str  # as configured, or the DC's sAMAccountName
    source: Source
    holders: int
    on_account: bool
    holder_names: tuple[str, ...]  # at most EXAMPLES_LIMIT
    domain_controller: str | None = None  # the DC's host name for expected DC SPNs
    written: str = ""  # the SPN as configured (or in its usual spelling for DC SPNs)


@dataclass(frozen=True)
class HostSpnMissing:
    account: str
    dns_host_name: str


@dataclass(frozen=True)
class MalformedSpn:
    account: str
    value: str
    reason: str


@dataclass(frozen=True)
class SpnResult:
    domain: str
    read_from: str
    scope: Literal["domain", "forest"]
    scanned: int  # entries read (accounts with an SPN, and computers)
    accounts: int  # accounts holding at least one SPN
    values: int  # SPN values scanned
    distinct: int
    duplicates: int  # exact count of duplicated SPNs
    duplicate_list: tuple[DuplicateSpn, ...]  # the most-held first, at most duplicate_limit of them
    duplicate_limit: int
    expected: tuple[ExpectedSpnStatus, ...]
    host_missing: int | None  # None when the rule is switched off
    host_missing_list: tuple[HostSpnMissing, ...]
    malformed: int
    malformed_list: tuple[MalformedSpn, ...]


# --- expected SPNs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expectation:
    spn: str  # lower case
    account: str
    source: Source
    dc: DomainController | None = None
    written: str = ""  # as configured, for the fix command


def domain_controller_spns(dc: DomainController, domain: str, forest: str) -> tuple[str, ...]:
    """The SPNs a DC's replication and logons depend on, in their usual spelling."""
    spns = [f"HOST/{dc.host}", f"ldap/{dc.host}", f"{DRS_SPN_CLASS}/{dc.dsa_guid}/{domain}"]
    if dc.global_catalog:
        spns.append(f"GC/{dc.host}/{forest}")
    return tuple(spns)


def _expectations(configured: Iterable[ExpectedSpn], inventory: Inventory, with_dcs: bool,
                  dc_accounts: dict[str, str]) -> list[_Expectation]:
    out = [_Expectation(e.spn.lower(), e.account, "config", written=e.spn) for e in configured]
    if with_dcs:
        for dc in inventory.domain_controllers:
            account = dc_accounts.get(dc.host) or f"{dc.name.upper()}$"
            out += [_Expectation(spn.lower(), account, "domain_controller", dc, written=spn)
                    for spn in domain_controller_spns(dc, inventory.domain, inventory.forest)]
    return out


def account_matches(configured: str, name: str) -> bool:
    """A configured account (``svc_sql``, ``LAB\\svc_sql``, ``FS01$`` or ``FS01``) names this sAMAccountName."""
    wanted = configured.rsplit("\\", 1)[-1].lower()
    have = name.rsplit("\\", 1)[-1].lower()
    return have == wanted or have == wanted + "$"


# --- the scan ----------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one pass over the directory leaves behind (only counters, capped lists and the index)."""

    index: SpnIndex
    dc_account_ids: dict[str, int]  # DC host -> account number, for DCs whose computer object was seen
    dc_account_names: dict[str, str]
    scanned: int = 0
    host_missing: int = 0
    host_missing_list: list[HostSpnMissing] = field(default_factory=list)
    malformed: int = 0
    malformed_list: list[MalformedSpn] = field(default_factory=list)


def scan(entries: Iterable[Entry], mappings: SpnMappings, inventory: Inventory, domain_dn: str,
         check_host_spn: bool, domain: str = "") -> _Scan:
    """Build the index from streamed entries (pure apart from logging)."""
    index = SpnIndex(mappings)
    dc_by_dn = {dc.computer_dn.lower(): dc.host for dc in inventory.domain_controllers if dc.computer_dn}
    state = _Scan(index, {}, {})
    suffix = "," + domain_dn.lower()
    for entry in entries:
        dn = entry.dn
        dn_lower = dn.lower()
        # A child domain's DNs end with the parent's DN too: look for another DC= part before it.
        in_domain = dn_lower.endswith(suffix) and (
            ",dc=" not in dn_lower[: -len(suffix)] or dn_to_dns_name(dn) == inventory.domain
        )
        sam = entry.text("sAMAccountName")
        if sam is None:
            name = dn
        elif in_domain:
            name = sam
        else:
            name = f"{dn_to_dns_name(dn)}\\{sam}"
        spns = entry.raw("servicePrincipalName")
        state.scanned += 1
        host = dc_by_dn.get(dn_lower)
        # Only holders of an SPN (and the DCs, whose SPNs are expected) take room in the index.
        account = index.add_account(name) if spns or host is not None else -1
        if host is not None:
            state.dc_account_ids[host] = account
            state.dc_account_names[host] = name
        for raw in spns:
            value = raw.decode("utf-8", "replace")
            error = index.add(account, value)
            if error is not None:
                state.malformed += 1
                if state.malformed <= _LOGGED_MALFORMED:
                    log.warning("malformed SPN value", extra={"domain": domain, "account": dn, "value": value,
                                                              "reason": error.problem})
                if len(state.malformed_list) < EXAMPLES_LIMIT:
                    state.malformed_list.append(MalformedSpn(name, value, error.problem))
        if check_host_spn and in_domain and _is_computer(entry):
            uac = entry.integer("userAccountControl") or 0
            dns_name = entry.text("dNSHostName")
            if dns_name and not uac & UF_ACCOUNTDISABLE:
                wanted = f"host/{dns_name.rstrip('.')}".lower().encode()
                if not any(v.lower() == wanted for v in spns):
                    state.host_missing += 1
                    if len(state.host_missing_list) < EXAMPLES_LIMIT:
                        state.host_missing_list.append(HostSpnMissing(name, dns_name))
    if state.malformed > _LOGGED_MALFORMED:
        log.warning("more malformed SPN values not logged one by one",
                    extra={"domain": domain, "malformed": state.malformed, "logged": _LOGGED_MALFORMED})
    return state


def _is_computer(entry: Entry) -> bool:
    # objectCategory, not objectClass: group managed service accounts are computers by class
    # but have no HOST/ SPN of their own.
    category = entry.text("objectCategory") or ""
    return category.lower().startswith("cn=computer,")


def evaluate(state: _Scan, inventory: Inventory, configured: Iterable[ExpectedSpn], *, with_dcs: bool,
             check_host_spn: bool, duplicate_limit: int, read_from: str, scope: Literal["domain", "forest"],
             domain: str = "") -> SpnResult:
    index = state.index
    names = index.names
    duplicates = [(key, holders) for key, holders in index.duplicates()]
    duplicates.sort(key=lambda d: (-len(d[1]), d[0]))
    if len(duplicates) > duplicate_limit:
        log.warning(
            "more duplicated SPNs than spn.duplicate_series_limit: ad_spn_duplicate_accounts shows only the most-held",
            extra={"domain": domain, "duplicates": len(duplicates), "limit": duplicate_limit},
        )
    duplicate_list = tuple(
        DuplicateSpn(key, tuple(sorted(names[a] for a in holders))[:EXAMPLES_LIMIT], len(holders))
        for key, holders in duplicates[:duplicate_limit]
    )
    expected: list[ExpectedSpnStatus] = []
    for e in _expectations(configured, inventory, with_dcs, state.dc_account_names):
        holders = index.holders(e.spn)
        if e.dc is not None:
            own_id = state.dc_account_ids.get(e.dc.host)
            on_account = own_id is not None and own_id in holders
        else:
            on_account = any(account_matches(e.account, names[a]) for a in holders)
        expected.append(
            ExpectedSpnStatus(
                spn=e.spn, account=e.account, source=e.source, holders=len(holders), on_account=on_account,
                holder_names=tuple(sorted(names[a] for a in holders))[:EXAMPLES_LIMIT],
                domain_controller=e.dc.host if e.dc else None,
                written=e.written or e.spn,
            )
        )
    return SpnResult(
        domain=inventory.domain,
        read_from=read_from,
        scope=scope,
        scanned=state.scanned,
        accounts=len(names),
        values=index.values,
        distinct=index.distinct,
        duplicates=len(duplicates),
        duplicate_list=duplicate_list,
        duplicate_limit=duplicate_limit,
        expected=tuple(expected),
        host_missing=state.host_missing if check_host_spn else None,
        host_missing_list=tuple(state.host_missing_list),
        malformed=state.malformed,
        malformed_list=tuple(state.malformed_list),
    )

"""Accounts check: computer accounts (enabled, machine password age), watched computers, krbtgt.

A machine password the DC no longer shares with the computer (seed error 1397, "the server's
password is out of date at the domain controller"), a missing or a disabled computer account
all end in mutual-authentication failures. One streamed search of the domain's computers keeps
only counters, the watched computers and a few of the oldest passwords for the report.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ...formats.errors import DecodeError
from ...formats.filetime import FileTime, TimeState, decode_filetime
from ...ldap import Entry, LdapError
from ...topology import Inventory
from ..base import CheckContext, CheckError, DcConnection
from .settings import AccountsSettings

NAME = "accounts"
log = logging.getLogger(__name__)

UF_ACCOUNTDISABLE = 0x2
COMPUTER_FILTER = "(objectCategory=computer)"
COMPUTER_ATTRIBUTES = ("sAMAccountName", "userAccountControl", "pwdLastSet")
DAY = 86400.0
EXAMPLES_LIMIT = 20
_LOGGED_BAD_VALUES = 10

Source = Literal["config", "domain_controller"]
PasswordState = Literal["set", "must_change", "absent", "unreadable"]


def computer_label(sam_account_name: str) -> str:
    """The ``computer`` label: sAMAccountName without the trailing ``$``, upper case."""
    return sam_account_name.strip().rstrip("$").upper()


@dataclass(frozen=True)
class PasswordAge:
    """pwdLastSet read for the staleness rule: a real time, or why it is not one."""

    state: PasswordState
    unix: float | None = None

    def older_than(self, cutoff: float) -> bool:
        """True if set before ``cutoff`` (Unix time) or not a real time at all (0 "must change",
        absent, unreadable): a password the DC cannot date is never counted as fresh."""
        return self.unix is None or self.unix < cutoff


def password_age(raw: bytes | None) -> PasswordAge:
    if raw is None:
        return PasswordAge("absent")
    try:
        value: FileTime = decode_filetime(raw)
    except DecodeError:
        return PasswordAge("unreadable")
    if value.state is TimeState.SET:
        return PasswordAge("set", value.unix_seconds)
    # 0 is "must change at next logon"; "never" is not a time either.
    return PasswordAge("must_change")


@dataclass(frozen=True)
class WatchedComputer:
    computer: str  # label: sAMAccountName without $, upper case
    source: Source
    present: bool
    enabled: bool
    password: PasswordAge | None  # None when the account does not exist
    domain_controller: str | None = None  # host name, for DCs' own accounts


@dataclass(frozen=True)
class StaleComputer:
    computer: str
    password: PasswordAge


@dataclass(frozen=True)
class AccountsResult:
    domain: str
    read_from: str
    checked_at: float  # Unix time the ages are measured against
    enabled: int
    disabled: int
    stale: tuple[tuple[int, int], ...]  # (days, enabled accounts older than that), ascending days
    oldest: tuple[StaleComputer, ...]  # enabled, older than the smallest threshold, oldest first (capped)
    watched: tuple[WatchedComputer, ...]
    krbtgt: PasswordAge | None  # None if the account could not be found
    krbtgt_error: str | None = None


@dataclass(frozen=True)
class _Watch:
    computer: str
    source: Source
    dn: str | None = None
    dc_host: str | None = None


def watch_list(configured: Iterable[str], inventory: Inventory, with_dcs: bool) -> list[_Watch]:
    out: dict[str, _Watch] = {}
    if with_dcs:
        for dc in inventory.domain_controllers:
            label = computer_label(dc.name)
            out[label] = _Watch(label, "domain_controller", dc.computer_dn, dc.host)
    for name in configured:
        label = computer_label(name)
        out.setdefault(label, _Watch(label, "config"))
    return list(out.values())


@dataclass
class _Tally:
    enabled: int = 0
    disabled: int = 0
    bad_values: int = 0


def tally(entries: Iterable[Entry], now: float, thresholds: Iterable[int], watches: list[_Watch],
          domain: str = "") -> tuple[_Tally, list[int], list[StaleComputer], dict[str, WatchedComputer]]:
    """Count computers and stale passwords, and pick out the watched ones (pure apart from logging)."""
    days = sorted(set(thresholds))
    cutoffs = [now - d * DAY for d in days]
    counts = [0] * len(days)
    t = _Tally()
    by_label = {w.computer: w for w in watches}
    by_dn = {w.dn.lower(): w for w in watches if w.dn}
    seen: dict[str, WatchedComputer] = {}
    oldest: list[tuple[float, int, StaleComputer]] = []  # max-heap on age via negated time
    order = 0
    for entry in entries:
        sam = entry.text("sAMAccountName") or ""
        uac = entry.integer("userAccountControl")
        enabled = uac is not None and not uac & UF_ACCOUNTDISABLE
        label = computer_label(sam) if sam else ""
        watch = by_dn.get(entry.dn.lower()) or by_label.get(label)
        if enabled:
            t.enabled += 1
        else:
            t.disabled += 1
        if watch is None and not enabled:
            continue
        age = password_age(entry.first_raw("pwdLastSet"))
        if age.state == "unreadable":
            t.bad_values += 1
            if t.bad_values <= _LOGGED_BAD_VALUES:
                log.warning("unreadable pwdLastSet; counted as stale",
                            extra={"domain": domain, "account": entry.dn, "value": entry.text("pwdLastSet")})
        if watch is not None:
            seen[watch.computer] = WatchedComputer(watch.computer, watch.source, True, enabled, age, watch.dc_host)
        if not enabled:
            continue
        for i, cutoff in enumerate(cutoffs):
            if age.older_than(cutoff):
                counts[i] += 1
        if cutoffs and age.older_than(cutoffs[0]):
            # Keep the EXAMPLES_LIMIT oldest: undated passwords first, then by time.
            key = -(age.unix if age.unix is not None else float("-inf"))
            order += 1
            item = (key, order, StaleComputer(label or entry.dn, age))
            if len(oldest) < EXAMPLES_LIMIT:
                heapq.heappush(oldest, item)
            elif key > oldest[0][0]:
                heapq.heapreplace(oldest, item)
    stale = [c for _, _, c in sorted(oldest, key=lambda x: (-x[0], x[1]))]
    return t, counts, stale, seen


def _read_krbtgt(conn: DcConnection, domain_dn: str) -> PasswordAge | None:
    entry = conn.read(f"CN=krbtgt,CN=Users,{domain_dn}", ("pwdLastSet",))
    if entry is None:
        # Moved out of CN=Users: find it by name.
        found = conn.search(domain_dn, "(&(objectCategory=person)(sAMAccountName=krbtgt))", ("pwdLastSet",))
        entry = next(iter(found), None)
    if entry is None:
        return None
    return password_age(entry.first_raw("pwdLastSet"))


def run(ctx: CheckContext[AccountsSettings]) -> AccountsResult:
    inventory = ctx.require_inventory()
    cfg = ctx.domain
    watches = watch_list(ctx.settings.watched_computers, inventory, ctx.settings.watch_domain_controllers)
    errors: list[str] = []
    for host in inventory.read_order():
        try:
            with ctx.directory.connect(host) as conn:
                now = ctx.clock()
                counts, stale_counts, oldest, seen = tally(
                    conn.search(inventory.domain_dn, COMPUTER_FILTER, COMPUTER_ATTRIBUTES),
                    now, ctx.settings.password_age_days, watches, cfg.name,
                )
                krbtgt = _read_krbtgt(conn, inventory.domain_dn)
        except LdapError as exc:
            errors.append(str(exc))
            log.warning("cannot read computer accounts on this DC, trying the next",
                        extra={"domain": cfg.name, "domain_controller": host, "reason": str(exc)})
            continue
        if counts.bad_values > _LOGGED_BAD_VALUES:
            log.warning("more unreadable pwdLastSet values not logged one by one",
                        extra={"domain": cfg.name, "unreadable": counts.bad_values})
        if krbtgt is None:
            log.warning("krbtgt account not found", extra={"domain": cfg.name, "domain_controller": host})
        watched = tuple(
            seen.get(w.computer) or WatchedComputer(w.computer, w.source, False, False, None, w.dc_host)
            for w in watches
        )
        return AccountsResult(
            domain=inventory.domain,
            read_from=host,
            checked_at=now,
            enabled=counts.enabled,
            disabled=counts.disabled,
            stale=tuple(zip(sorted(set(ctx.settings.password_age_days)), stale_counts, strict=True)),
            oldest=tuple(oldest),
            watched=watched,
            krbtgt=krbtgt,
            krbtgt_error=None if krbtgt is not None else f"no krbtgt account found in {inventory.domain_dn}",
        )
    raise CheckError("cannot read computer accounts on any DC: " + ("; ".join(errors) or "no DC is known"))

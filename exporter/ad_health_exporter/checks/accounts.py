"""Accounts check: computer accounts (enabled, machine password age), watched computers, krbtgt.

A machine password the DC no longer shares with the computer (seed error 1397, "the server's
password is out of date at the domain controller"), a missing or a disabled computer account
all end in mutual-authentication failures. One streamed search of the domain's computers keeps
only counters, the watched computers and a few of the oldest passwords for the report.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from typing import Iterable, Literal

from ..formats.errors import DecodeError
from ..formats.filetime import FileTime, TimeState, decode_filetime
from ..inventory import Inventory
from ..ldap import Connection, Entry, LdapError
from .base import CheckContext, CheckError, Finding

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


def _read_krbtgt(conn: Connection, domain_dn: str) -> PasswordAge | None:
    entry = conn.read(f"CN=krbtgt,CN=Users,{domain_dn}", ("pwdLastSet",))
    if entry is None:
        # Moved out of CN=Users: find it by name.
        entry = next(iter(conn.search(domain_dn, "(&(objectCategory=person)(sAMAccountName=krbtgt))", ("pwdLastSet",))), None)
    if entry is None:
        return None
    return password_age(entry.first_raw("pwdLastSet"))


def run(ctx: CheckContext) -> AccountsResult:
    inventory = ctx.require_inventory()
    cfg = ctx.domain
    watches = watch_list(cfg.accounts.watched_computers, inventory, cfg.accounts.watch_domain_controllers)
    errors: list[str] = []
    for host in inventory.read_order():
        try:
            with ctx.directory.connect(host) as conn:
                now = ctx.clock()
                counts, stale_counts, oldest, seen = tally(
                    conn.search(inventory.domain_dn, COMPUTER_FILTER, COMPUTER_ATTRIBUTES),
                    now, cfg.accounts.password_age_days, watches, cfg.name,
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
            stale=tuple(zip(sorted(set(cfg.accounts.password_age_days)), stale_counts)),
            oldest=tuple(oldest),
            watched=watched,
            krbtgt=krbtgt,
            krbtgt_error=None if krbtgt is not None else f"no krbtgt account found in {inventory.domain_dn}",
        )
    raise CheckError("cannot read computer accounts on any DC: " + ("; ".join(errors) or "no DC is known"))


# --- report ----------------------------------------------------------------------------------


def _age_text(age: PasswordAge, now: float) -> str:
    if age.unix is None:
        return {"must_change": "pwdLastSet 0 (must change)", "absent": "no pwdLastSet",
                "unreadable": "unreadable pwdLastSet"}.get(age.state, age.state)
    return f"machine password set {(now - age.unix) / DAY:.0f} days ago"


def _reset_fix(computer: str, server: str) -> str:
    return (f"on {computer}: Reset-ComputerMachinePassword -Server {server} -Credential (Get-Credential) "
            f"(or Test-ComputerSecureChannel -Repair); if {computer} is retired: Disable-ADAccount -Identity '{computer}$'")


def findings(result: AccountsResult) -> list[Finding]:
    out: list[Finding] = []
    smallest = result.stale[0][0] if result.stale else None
    cutoff = result.checked_at - smallest * DAY if smallest is not None else None
    server = result.read_from
    watched_names = set()
    for w in result.watched:
        watched_names.add(w.computer)
        what = f"DC {w.domain_controller}'s computer account" if w.domain_controller else "watched computer account"
        if not w.present:
            fix = (f"restore the DC's computer object from the AD Recycle Bin, or demote and re-promote {w.domain_controller}"
                   if w.domain_controller else
                   f"on {w.computer}: Add-Computer -DomainName {result.domain} -Credential (Get-Credential) -Force -Restart "
                   "(re-join, which creates the account)")
            out.append(Finding(NAME, "error", w.computer, f"{what} {w.computer}$ does not exist", fix=fix))
            continue
        if not w.enabled:
            out.append(Finding(NAME, "error", w.computer, f"{what} {w.computer}$ is disabled",
                               fix=f"Enable-ADAccount -Identity '{w.computer}$'; then on {w.computer}: "
                                   f"Reset-ComputerMachinePassword -Server {server} -Credential (Get-Credential)"))
        elif cutoff is not None and w.password is not None and w.password.older_than(cutoff):
            out.append(Finding(NAME, "warning", w.computer,
                               f"{what} {w.computer}$: {_age_text(w.password, result.checked_at)} "
                               f"(older than {smallest} days; members change it every 30 days)",
                               fix=_reset_fix(w.computer, server)))
    listed = 0
    for stale in result.oldest:
        if stale.computer in watched_names:
            continue
        listed += 1
        out.append(Finding(NAME, "warning", stale.computer,
                           f"enabled computer account: {_age_text(stale.password, result.checked_at)} "
                           f"(older than {smallest} days)",
                           fix=_reset_fix(stale.computer, server)))
    if result.stale:
        total = result.stale[0][1]
        shown = listed + sum(1 for w in result.watched if w.present and w.enabled and w.password is not None
                             and cutoff is not None and w.password.older_than(cutoff))
        if total > shown:
            out.append(Finding(NAME, "warning", result.domain,
                               f"{total - shown} more enabled computer accounts have a machine password older than "
                               f"{smallest} days",
                               fix="list them: Get-ADComputer -Filter 'Enabled -eq $true' -Properties PasswordLastSet | "
                                   f"Where-Object PasswordLastSet -lt (Get-Date).AddDays(-{smallest})"))
    if result.krbtgt is None:
        out.append(Finding(NAME, "warning", result.domain, result.krbtgt_error or "krbtgt account not found"))
    return out


def summary(result: AccountsResult) -> list[str]:
    lines = [f"read from {result.read_from}: {result.enabled} enabled and {result.disabled} disabled computer accounts"]
    lines += [f"enabled with a machine password older than {d} days: {n}" for d, n in result.stale]
    if result.krbtgt is not None:
        lines.append(f"krbtgt: {_age_text(result.krbtgt, result.checked_at).replace('machine password', 'password')}")
    for w in result.watched:
        if not w.present:
            state = "MISSING"
        else:
            state = ("enabled" if w.enabled else "DISABLED") + (
                f", {_age_text(w.password, result.checked_at)}" if w.password is not None else "")
        lines.append(f"{w.computer + '$':<24} {state}")
    return lines

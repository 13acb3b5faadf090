"""Keys check: the same accounts' key versions on every DC, and the domain's computers whose
password differs between DCs.

One run: the accounts are found once (one search on the first DC that answers); then every DC is
asked, concurrently, for each of them with a base read by objectGUID (``msDS-KeyVersionNumber`` is
constructed on Windows and returned for base reads only, MS-ADTS 3.1.1.4.5.16), and for the
computers whose ``pwdLastSet`` is newer than ``keys.look_back``. A DC that cannot be read costs its
own part; the comparisons name the DCs that took part.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ...formats.errors import DecodeError
from ...formats.filetime import decode_filetime, unix_to_filetime
from ...ldap import Entry, LdapError
from ...topology import Inventory
from ..base import CheckContext, CheckError, CheckFailed, DcConnection, for_each_dc
from . import targets as tg
from .model import (
    DcKeys,
    DomainWide,
    KeyReading,
    KeysResult,
    RecentPassword,
    Target,
    compare_recent,
    judge,
    unresolved_names,
)
from .settings import KeysSettings

log = logging.getLogger(__name__)

KEY_ATTRIBUTES = ("msDS-KeyVersionNumber", "pwdLastSet")
RECENT_ATTRIBUTES = ("objectGUID", "sAMAccountName", "pwdLastSet", "userAccountControl")
UF_ACCOUNTDISABLE = 0x2


def recent_filter(cutoff_filetime: int) -> str:
    # pwdLastSet is not indexed: the DC walks its computer objects (objectCategory is indexed) and
    # sends only the ones changed since the cutoff (docs/performance.md).
    return f"(&(objectCategory=computer)(pwdLastSet>={cutoff_filetime}))"


def key_reading(entry: Entry) -> KeyReading:
    raw = entry.text("pwdLastSet")
    pwd: int | None = None
    if raw is not None:
        try:
            decoded = decode_filetime(raw)
            pwd = decoded.raw if decoded.is_set else None
        except DecodeError:
            pwd = None
    return KeyReading(key_version=entry.integer("msDS-KeyVersionNumber"), password_last_set=pwd)


def recent_passwords(entries: Iterable[Entry]) -> dict[bytes, RecentPassword]:
    """objectGUID -> password of each computer a DC returned for the look-back search (pure)."""
    out: dict[bytes, RecentPassword] = {}
    for entry in entries:
        guid = entry.first_raw("objectGUID")
        pwd = entry.integer("pwdLastSet")
        if guid is None or pwd is None:
            continue
        uac = entry.integer("userAccountControl")
        out[guid] = RecentPassword(
            account=entry.text("sAMAccountName") or entry.dn,
            password_last_set=pwd,
            enabled=uac is not None and not uac & UF_ACCOUNTDISABLE,
        )
    return out


# --- reading ---------------------------------------------------------------------------------


def _find_targets(ctx: CheckContext[KeysSettings], inventory: Inventory) -> tuple[list[Target], tuple[str, ...]]:
    want = tg.wanted(ctx.domain, inventory, ctx.settings)
    errors: list[str] = []
    for host in inventory.read_order():
        try:
            with ctx.directory.connect(host) as conn:
                entries = list(conn.search(inventory.domain_dn, want.filter(), tg.RESOLVE_ATTRIBUTES))
        except LdapError as exc:
            errors.append(str(exc))
            continue
        found = tg.targets(want, entries)
        return found, unresolved_names(want.configured, (t.account for t in found))
    raise CheckError("cannot find the accounts to compare on any DC: " + ("; ".join(errors) or "no DC is known"))


@dataclass(frozen=True)
class _DcRead:
    readings: dict[str, KeyReading | None]
    recent: dict[bytes, RecentPassword] | None


def _read_dc(conn: DcConnection, found: list[Target], domain_dn: str, cutoff: float | None) -> _DcRead:
    readings: dict[str, KeyReading | None] = {}
    for target in found:
        entry = conn.read(target.ref, KEY_ATTRIBUTES)
        readings[target.account] = None if entry is None else key_reading(entry)
    recent = None
    if cutoff is not None:
        recent = recent_passwords(conn.search(domain_dn, recent_filter(unix_to_filetime(cutoff)), RECENT_ATTRIBUTES))
    return _DcRead(readings, recent)


def run(ctx: CheckContext[KeysSettings]) -> KeysResult:
    inventory = ctx.require_inventory()
    found, unresolved = _find_targets(ctx, inventory)
    now = ctx.clock()
    cutoff = now - ctx.settings.look_back if ctx.settings.domain_wide else None

    def work(host: str) -> _DcRead:
        with ctx.directory.connect(host) as conn:
            return _read_dc(conn, found, inventory.domain_dn, cutoff)

    # Finish before the scheduler's hard limit so the DCs that answered are still reported.
    outcome = for_each_dc(inventory.hosts, work, timeout=ctx.timeout * 0.9)
    dcs: list[DcKeys] = []
    recent: dict[str, dict[bytes, RecentPassword]] = {}
    for host, (value, error) in outcome.items():
        if value is None:
            # The directory logs a DC's connection failures itself; the reason is in the result.
            log.debug("cannot read key versions on this DC",
                      extra={"domain": ctx.domain.name, "domain_controller": host, "reason": error})
            dcs.append(DcKeys(host, {}, error or "no answer"))
            continue
        dcs.append(DcKeys(host, value.readings))
        if value.recent is not None:
            recent[host] = value.recent
    readable = [d for d in dcs if d.error is None]
    verdicts = tuple(judge(t, {d.host: d.readings.get(t.account) for d in readable}) for t in found)
    domain_wide = None
    if cutoff is not None and len(recent) >= 2:
        changed, divergent, examples = compare_recent(recent)
        domain_wide = DomainWide(tuple(recent), ctx.settings.look_back, cutoff, changed, divergent, examples)
    result = KeysResult(
        domain=ctx.domain.name, checked_at=now, targets=tuple(found), dcs=tuple(dcs), verdicts=verdicts,
        domain_wide=domain_wide, unresolved=unresolved,
        dsa_guids={dc.host: str(dc.dsa_guid) for dc in inventory.domain_controllers},
    )
    if len(readable) < min(2, len(dcs)):
        # One DC alone has nothing to disagree with: "could not compare" is never "they agree".
        failed = "; ".join(f"{d.host}: {d.error}" for d in dcs if d.error)
        raise CheckFailed(f"fewer than two DCs could be read, so no key could be compared ({failed})", result)
    return result

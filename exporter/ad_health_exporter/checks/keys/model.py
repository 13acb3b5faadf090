"""What the keys check found, and the pure rules that judge it.

Every DC keeps its own copy of an account's password and of the key version (kvno) derived from
it. When a password change does not reach a DC, that DC's KDC keeps issuing tickets with the old
key, which the service can no longer decrypt: error 1397, "the server's password is out of date at
the domain controller". So the same account is read on every DC and the copies compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ...formats.errors import DecodeError
from ...formats.filetime import decode_filetime

NAME = "keys"
EXAMPLES_LIMIT = 20


@dataclass(frozen=True)
class Target:
    """An account compared on every DC."""

    account: str  # sAMAccountName as the directory spells it: the ``account`` label
    ref: str  # what each DC is asked for: <GUID=...> (survives a rename or move), else the DN
    dn: str  # as the DC that found it names it, for the fix commands
    reasons: tuple[str, ...]  # why it matters: "domain controller dc1...", "krbtgt", "holds http/app"...


@dataclass(frozen=True)
class KeyReading:
    """One DC's copy of one account's key."""

    key_version: int | None  # msDS-KeyVersionNumber; None when the DC did not return it
    password_last_set: int | None  # pwdLastSet as the raw FILETIME; None when absent or unreadable

    @property
    def password_last_set_unix(self) -> float | None:
        if self.password_last_set is None:
            return None
        try:
            return decode_filetime(self.password_last_set).unix_seconds
        except DecodeError:
            return None


@dataclass(frozen=True)
class DcKeys:
    host: str
    # account -> that DC's copy, or None when the DC does not have the account
    readings: Mapping[str, KeyReading | None]
    error: str | None = None  # the DC could not be read: it takes no part in any comparison


@dataclass(frozen=True)
class Verdict:
    """Whether the DCs that could be read agree about one account's key."""

    account: str
    reasons: tuple[str, ...]
    compared: tuple[str, ...]  # DCs whose copies were compared
    newest: tuple[str, ...]  # DCs holding the newest key
    outdated: tuple[str, ...]  # DCs holding an older key, or none at all

    @property
    def divergent(self) -> bool:
        return bool(self.outdated)

    @property
    def comparable(self) -> bool:
        return len(self.compared) >= 2


@dataclass(frozen=True)
class ComputerDivergence:
    account: str
    newest: int  # pwdLastSet FILETIME of the newest password
    newest_on: tuple[str, ...]
    # The other DCs' pwdLastSet; None where it is older than the look-back, or the DC lacks the account.
    others: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class DomainWide:
    compared: tuple[str, ...]
    look_back: float  # seconds
    cutoff: float  # Unix time: passwords set since then were read on every compared DC
    changed: int  # distinct enabled computers whose password changed since the cutoff on some DC
    divergent: int
    examples: tuple[ComputerDivergence, ...]  # the newest divergences first, capped


@dataclass(frozen=True)
class KeysResult:
    domain: str
    checked_at: float
    targets: tuple[Target, ...]
    dcs: tuple[DcKeys, ...]
    verdicts: tuple[Verdict, ...]
    domain_wide: DomainWide | None  # None: turned off, or fewer than two DCs answered
    unresolved: tuple[str, ...] = ()  # accounts named in the configuration that no DC has
    dsa_guids: Mapping[str, str] = field(default_factory=dict)  # host -> nTDSDSA objectGUID (repadmin wants it)


# --- pure rules ------------------------------------------------------------------------------


def judge(target: Target, copies: Mapping[str, KeyReading | None]) -> Verdict:
    """Compare one account's copies (host -> copy, None where the DC lacks the account).

    The key version decides when every DC that has the account returned one; otherwise pwdLastSet
    does. A DC without the account, or with an older key, is outdated. An account no DC has is no
    divergence (the accounts and spn checks report it missing).
    """
    compared = tuple(copies)
    present = {h: c for h, c in copies.items() if c is not None}
    if not present:
        return Verdict(target.account, target.reasons, compared, (), ())
    if all(c.key_version is not None for c in present.values()):
        rank = {h: (c.key_version or 0, c.password_last_set or 0) for h, c in present.items()}
    else:
        rank = {h: (0, c.password_last_set or 0) for h, c in present.items()}
    best = max(rank.values())
    newest = tuple(h for h in compared if rank.get(h) == best)
    outdated = tuple(h for h in compared if rank.get(h) != best)
    return Verdict(target.account, target.reasons, compared, newest, outdated)


@dataclass(frozen=True)
class RecentPassword:
    """A computer whose password one DC holds as changed since the look-back's cutoff."""

    account: str
    password_last_set: int  # FILETIME
    enabled: bool


def compare_recent(
    recent: Mapping[str, Mapping[bytes, RecentPassword]], limit: int = EXAMPLES_LIMIT
) -> tuple[int, int, tuple[ComputerDivergence, ...]]:
    """From each DC's computers changed since the cutoff (host -> objectGUID -> password), count the
    enabled ones (changed, divergent) and pick the newest divergences as examples.

    Every DC was asked the same question (pwdLastSet at or after one cutoff), so a computer that one
    DC returns and another does not has a different pwdLastSet on the two: older on the second, or
    absent there. Where both return it, the values are compared.
    """
    hosts = tuple(recent)
    guids: dict[bytes, None] = {}
    for by_guid in recent.values():
        guids.update(dict.fromkeys(by_guid))
    changed = divergent = 0
    found: list[ComputerDivergence] = []
    for guid in guids:
        copies = {h: recent[h].get(guid) for h in hosts}
        newest_value = max(c.password_last_set for c in copies.values() if c is not None)
        newest_on = tuple(h for h, c in copies.items() if c is not None and c.password_last_set == newest_value)
        newest_copy = copies[newest_on[0]]
        if newest_copy is None or not newest_copy.enabled:
            continue
        changed += 1
        if len(newest_on) == len(hosts):
            continue
        divergent += 1
        found.append(ComputerDivergence(
            account=newest_copy.account,
            newest=newest_value,
            newest_on=newest_on,
            others=tuple((h, c.password_last_set if c is not None else None)
                         for h, c in copies.items() if h not in newest_on),
        ))
    found.sort(key=lambda d: (-d.newest, d.account))
    return changed, divergent, tuple(found[:limit])


def unresolved_names(wanted: Iterable[str], found: Iterable[str]) -> tuple[str, ...]:
    have = {f.lower() for f in found}
    return tuple(w for w in wanted if w.lower() not in have and f"{w.lower()}$" not in have)

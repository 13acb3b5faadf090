"""Replication check: each DC's inbound links, per naming context and source, like ``repadmin /showrepl``.

Per DC, for every naming context its rootDSE lists, the NC head is read for
``msDS-NCReplInboundNeighbors`` (Windows; XML) and ``repsFrom`` (Windows and Samba). Both are
non-replicated, so each DC is asked about itself. The neighbour XML is preferred when present;
otherwise ``repsFrom`` is decoded.

An NC that other DCs also hold must have at least one inbound link. An empty answer there is
"cannot read" (the constructed attribute comes back empty without the "Monitor Active Directory
Replication" right, and ``repsFrom`` may be unreadable too): it fails the check instead of
passing as "no links, so no failures".
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from ..formats.errors import DecodeError
from ..formats.filetime import parse_generalized_time
from ..formats.neighbors import parse_neighbor_xml
from ..formats.repsfrom import ReplicationNeighbor, decode_reps_from
from ..formats.winerror import describe as describe_result
from ..inventory import Inventory, same_dn
from ..ldap import Connection
from .base import CheckContext, CheckFailed, Finding, for_each_dc

NAME = "replication"
log = logging.getLogger(__name__)

NEIGHBORS_ATTRIBUTE = "msDS-NCReplInboundNeighbors"
REPS_FROM_ATTRIBUTE = "repsFrom"


@dataclass(frozen=True)
class Link:
    """One inbound link: the DC pulls ``naming_context`` from ``source``."""

    naming_context: str
    source: str  # the partner's host name, or its DSA GUID when no current DC has that GUID
    source_dsa_guid: uuid.UUID
    source_is_dc: bool
    consecutive_failures: int
    last_success: int | None  # Unix seconds; None = never
    last_attempt: int | None
    last_result: int  # unsigned 32-bit Win32/DRS code
    origin: str  # the attribute the link was read from

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0


@dataclass(frozen=True)
class DcReplication:
    host: str
    links: tuple[Link, ...] = ()
    now: float | None = None  # the DC's own currentTime: "now" for the largest delta, as repadmin does
    error: str | None = None  # the DC could not be read at all
    unreadable: tuple[str, ...] = ()  # naming contexts (with the reason) whose links could not be read

    @property
    def readable(self) -> bool:
        return self.error is None and not self.unreadable


@dataclass(frozen=True)
class ReplicationResult:
    domain: str
    dcs: tuple[DcReplication, ...]


# --- pure decoding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedNc:
    neighbors: tuple[ReplicationNeighbor, ...]
    origin: str | None  # None when the NC head had neither attribute
    errors: tuple[str, ...]


def decode_nc(naming_context: str, neighbor_xml: Iterable[bytes], reps_from: Iterable[bytes]) -> DecodedNc:
    """Decode one NC head's inbound neighbours, the neighbour XML first, else repsFrom.

    Bad values are skipped and named in ``errors`` (never raised): one malformed value must
    not hide the other links.
    """
    xml_values, reps_values = list(neighbor_xml), list(reps_from)
    if xml_values:
        origin, values, decode = NEIGHBORS_ATTRIBUTE, xml_values, parse_neighbor_xml
    elif reps_values:
        origin, values = REPS_FROM_ATTRIBUTE, reps_values
        decode = lambda v: decode_reps_from(v, naming_context=naming_context)  # noqa: E731
    else:
        return DecodedNc((), None, ())
    neighbors: list[ReplicationNeighbor] = []
    errors: list[str] = []
    for index, value in enumerate(values):
        try:
            neighbors.append(decode(value))
        except DecodeError as exc:
            errors.append(f"{origin} value {index + 1} of {naming_context}: {exc}")
    return DecodedNc(tuple(neighbors), origin, tuple(errors))


def partners_holding(inventory: Inventory, host: str, naming_context: str) -> tuple[str, ...]:
    """Other current DCs that hold the NC: if there are any, the DC must have inbound links for it."""
    return tuple(
        dc.host
        for dc in inventory.domain_controllers
        if dc.host != host and any(same_dn(nc, naming_context) for nc in dc.naming_contexts)
    )


def unix_time(current_time: str | None) -> float | None:
    if not current_time:
        return None
    try:
        return parse_generalized_time(current_time).timestamp()
    except DecodeError:
        return None


# --- reading ---------------------------------------------------------------------------------


def _read_dc(inventory: Inventory, conn: Connection) -> DcReplication:
    host = conn.host
    root = conn.root_dse(("currentTime", "namingContexts"))
    # (naming context as the rootDSE names it, neighbour, attribute it came from)
    neighbors: list[tuple[str, ReplicationNeighbor, str]] = []
    unreadable: list[str] = []
    for nc in root.naming_contexts:
        entry = conn.read(nc, (NEIGHBORS_ATTRIBUTE, REPS_FROM_ATTRIBUTE))
        if entry is None:
            unreadable.append(f"{nc}: the NC head cannot be read")
            continue
        decoded = decode_nc(nc, entry.raw(NEIGHBORS_ATTRIBUTE), entry.raw(REPS_FROM_ATTRIBUTE))
        unreadable += decoded.errors
        if decoded.origin is None:
            partners = partners_holding(inventory, host, nc)
            if partners:
                unreadable.append(
                    f"{nc}: no inbound links can be read although {', '.join(partners)} also hold it "
                    f"(does the exporter's account have the 'Monitor Active Directory Replication' right, "
                    f"and can it read {REPS_FROM_ATTRIBUTE}?)"
                )
            continue
        neighbors += [(nc, n, decoded.origin) for n in decoded.neighbors]
    unknown = {n.source_dsa_guid for _, n, _ in neighbors if inventory.by_dsa_guid(n.source_dsa_guid) is None}
    # Partners in other domains of the forest; a GUID no DC has any more (a removed DC) stays unnamed.
    others = {g: inventory.forest_dcs[g] for g in unknown if g in inventory.forest_dcs}
    links = []
    for nc, n, origin in neighbors:
        dc = inventory.by_dsa_guid(n.source_dsa_guid)
        source = dc.host if dc is not None else others.get(n.source_dsa_guid, str(n.source_dsa_guid))
        links.append(
            Link(
                naming_context=nc,
                source=source,
                source_dsa_guid=n.source_dsa_guid,
                source_is_dc=dc is not None or n.source_dsa_guid in others,
                consecutive_failures=n.consecutive_failures,
                last_success=n.last_success,
                last_attempt=n.last_attempt,
                last_result=n.last_result & 0xFFFFFFFF,
                origin=origin,
            )
        )
    return DcReplication(
        host=host, links=tuple(links), now=unix_time(root.current_time), unreadable=tuple(unreadable)
    )


def _budget(ctx: CheckContext) -> float:
    ldap = ctx.domain.ldap
    # Connect (up to two addresses), rootDSE, a handful of NC heads: each answer within receive_timeout.
    estimate = ldap.connect_timeout * 2 + ldap.receive_timeout * 3 + 1
    return min(estimate, ctx.domain.timeout(NAME) * 0.9)


def run(ctx: CheckContext) -> ReplicationResult:
    inventory = ctx.require_inventory()

    def read(host: str) -> DcReplication:
        with ctx.directory.connect(host) as conn:
            return _read_dc(inventory, conn)

    states: list[DcReplication] = []
    for host, (value, error) in for_each_dc(inventory.hosts, read, timeout=_budget(ctx)).items():
        state = value if value is not None else DcReplication(host=host, error=error or "no answer")
        states.append(state)
        _log(ctx, state)
    result = ReplicationResult(domain=ctx.domain.name, dcs=tuple(states))
    cannot_read = [f"{s.host}: {u}" for s in states for u in s.unreadable]
    if cannot_read:
        raise CheckFailed("cannot read replication status: " + "; ".join(cannot_read), result)
    if states and all(s.error is not None for s in states):
        raise CheckFailed(f"no DC's replication status could be read ({len(states)} tried)", result)
    return result


def _log(ctx: CheckContext, state: DcReplication) -> None:
    domain = ctx.domain.name
    if state.error is not None:
        log.debug("cannot read replication status", extra={"domain": domain, "domain_controller": state.host, "reason": state.error})
        return
    now = state.now if state.now is not None else ctx.clock()
    window = ctx.domain.interval(NAME)
    for link in state.links:
        # Once per failed attempt: only attempts made since about the previous run are logged.
        if link.failing and link.last_attempt is not None and now - link.last_attempt <= window:
            code = describe_result(link.last_result)
            log.warning(
                "inbound replication failing",
                extra={
                    "domain": domain,
                    "domain_controller": state.host,
                    "naming_context": link.naming_context,
                    "source": link.source,
                    "consecutive_failures": link.consecutive_failures,
                    "result": link.last_result,
                    "result_name": code.name,
                    "meaning": code.meaning,
                },
            )


# --- report ----------------------------------------------------------------------------------

# What an admin should look at first, by result code.
_HINTS: dict[int, str] = {}
for _codes, _hint in (
    ((1722, 1753, 1727, 1726, 1818), "the source's RPC endpoint does not answer: is the DC up, and are TCP 135 and the RPC ports open?"),
    ((64, 121, 1225, 1231, 1232, 1236, 1256, 1460, 0xC000020C, 0xC0000236, 0xC000023C, 0xC000023D),
     "the source cannot be reached over the network: is it up?"),
    ((1398, 0x80090324, 0xC0000133), "the DCs' clocks differ too much: see the time check (w32tm /resync)"),
    ((1326, 0xC000006D, 0x8009030C), "logon failed: often a clock skew, or the source's machine password differs between the DCs"),
    ((1396, 0x80090322, 0x80090303), "the source's SPN is missing or held by another account: see the spn check (setspn -X)"),
    ((1397, 0xC00002C3), "mutual authentication failed: the source's machine password is out of date on this DC"),
    ((8524,), "the source's <DSA GUID>._msdcs CNAME does not resolve: see the dns check (nltest /dsregdns on the source)"),
    ((5, 8453), "access denied: check the DCs' computer accounts and the replication permissions on the NC"),
    ((8614,), "the destination has not replicated for longer than the tombstone lifetime: it must be rebuilt or cleaned"),
    ((8606,), "lingering objects: repadmin /removelingeringobjects"),
    ((8456, 8457), "replication is disabled on a DC: repadmin /options <dc> -DISABLE_INBOUND_REPL -DISABLE_OUTBOUND_REPL"),
):
    for _code in _codes:
        _HINTS[_code] = _hint


def _when(unix: int | None) -> str:
    if unix is None:
        return "never"
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def findings(result: ReplicationResult) -> list[Finding]:
    out: list[Finding] = []
    for state in result.dcs:
        if state.error is not None:
            out.append(
                Finding(
                    NAME,
                    "error",
                    state.host,
                    f"replication status could not be read: {state.error}",
                    fix=f"repadmin /showrepl {state.host}",
                )
            )
        for problem in state.unreadable:
            out.append(
                Finding(
                    NAME,
                    "error",
                    state.host,
                    f"cannot read: {problem}",
                    fix='dsacls "<naming context>" /G "<exporter account>:CA;Monitor Active Directory Replication" '
                    "on every naming context",
                )
            )
        for link in state.links:
            if not link.source_is_dc:
                out.append(
                    Finding(
                        NAME,
                        "error" if link.failing else "warning",
                        f"{state.host} <- {link.source}",
                        f"pulls {link.naming_context} from DSA {link.source_dsa_guid}, which is no current DC "
                        "(removed without metadata cleanup?)",
                        fix='clean up the removed DC\'s metadata (ntdsutil "metadata cleanup"), '
                        f"then repadmin /kcc {state.host}",
                    )
                )
                continue
            if not link.failing:
                continue
            code = describe_result(link.last_result)
            hint = _HINTS.get(link.last_result)
            out.append(
                Finding(
                    NAME,
                    "error",
                    f"{state.host} <- {link.source}",
                    f"{link.naming_context}: {link.consecutive_failures} consecutive failure(s), last result {code}; "
                    f"last success {_when(link.last_success)}" + (f". {hint}" if hint else ""),
                    fix=f'repadmin /replicate {state.host} {link.source} "{link.naming_context}"',
                )
            )
    return out


# --- the repadmin /replsummary table ---------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    dc: str
    largest_delta: float | None  # seconds; None = some link never succeeded
    never: bool
    fails: int
    total: int
    error: str | None  # the most recent failing result, named

    def line(self) -> str:
        delta = "never" if self.never else fmt_delta(self.largest_delta)
        pct = f"{100 * self.fails // self.total}" if self.total else "-"
        tail = f"  {self.error}" if self.error else ""
        return f" {self.dc:<40} {delta:>14} {self.fails:>5} / {self.total:<5} {pct:>3}{tail}"


def fmt_delta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds > 60 * 86400:
        return ">60 days"
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d.{hours:02d}h:{minutes:02d}m:{s:02d}s"
    return f"{hours:02d}h:{minutes:02d}m:{s:02d}s"


def _rows(pairs: list[tuple[str, Link, float | None]]) -> list[SummaryRow]:
    grouped: dict[str, list[tuple[Link, float | None]]] = {}
    for key, link, now in pairs:
        grouped.setdefault(key, []).append((link, now))
    rows = []
    for key in sorted(grouped):
        items = grouped[key]
        deltas = [now - link.last_success for link, now in items if link.last_success is not None and now is not None]
        failing = [link for link, _ in items if link.failing]
        latest = max(failing, key=lambda l: l.last_attempt or 0, default=None)
        error = None
        if latest is not None:
            error = f"({latest.last_result}) {describe_result(latest.last_result).name}"
        rows.append(
            SummaryRow(
                dc=key,
                largest_delta=max(deltas) if deltas else None,
                never=any(link.last_success is None for link, _ in items),
                fails=len(failing),
                total=len(items),
                error=error,
            )
        )
    return rows


def summary(result: ReplicationResult) -> list[str]:
    """Both halves of ``repadmin /replsummary``: by source DC and by destination DC."""
    header = f" {'':<40} {'largest delta':>14} {'fails/total':^13} {'%':>3}  error"
    pairs_by_source = [(link.source, link, s.now) for s in result.dcs for link in s.links]
    pairs_by_dest = [(s.host, link, s.now) for s in result.dcs for link in s.links]
    lines = ["Source DC" + header[9:]]
    lines += [r.line() for r in _rows(pairs_by_source)]
    lines.append("")
    lines.append("Destination DC" + header[14:])
    lines += [r.line() for r in _rows(pairs_by_dest)]
    for state in result.dcs:
        if state.error is not None:
            lines.append(f" {state.host:<40} {'cannot read':>14}  {state.error}")
    return lines

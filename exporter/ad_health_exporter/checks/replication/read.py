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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ...formats.errors import DecodeError
from ...formats.filetime import parse_generalized_time
from ...formats.neighbors import parse_neighbor_xml
from ...formats.repsfrom import ReplicationNeighbor, decode_reps_from
from ...formats.winerror import describe as describe_result
from ...ldap.dn import same_dn
from ...topology import Inventory
from ..base import CheckContext, CheckFailed, DcConnection, for_each_dc

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

    def decode_reps(value: bytes) -> ReplicationNeighbor:
        return decode_reps_from(value, naming_context=naming_context)

    decode: Callable[[bytes], ReplicationNeighbor]
    if xml_values:
        origin, values, decode = NEIGHBORS_ATTRIBUTE, xml_values, parse_neighbor_xml
    elif reps_values:
        origin, values, decode = REPS_FROM_ATTRIBUTE, reps_values, decode_reps
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


def _read_dc(inventory: Inventory, conn: DcConnection) -> DcReplication:
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
    return min(estimate, ctx.timeout * 0.9)


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
        log.debug("cannot read replication status",
                  extra={"domain": domain, "domain_controller": state.host, "reason": state.error})
        return
    now = state.now if state.now is not None else ctx.clock()
    window = ctx.interval
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

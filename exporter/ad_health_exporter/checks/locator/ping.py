"""Locator check: the LDAP ping to every DC of the domain, as a Windows client's DC locator sends it.

Per DC: whether it answers on UDP 389 and how fast, what it advertises (the DS_FLAG bits a client
chooses a DC by: PDC, GC, KDC, time service, writable, RODC ...), the site it says it is in, and
the site it assigns to this exporter's address. A DC that answers LDAP over TCP but no longer
advertises its KDC is found here and nowhere else: clients skip it for Kerberos, or fail on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...formats.errors import DecodeError
from ...formats.netlogon import NETLOGON_NT_VERSION_5, NETLOGON_NT_VERSION_5EX, DsFlag, decode_sam_logon_response_ex
from ...ldap import cldap
from ...ldap.resolver import ResolveError
from ...topology import Inventory
from ..base import CheckContext, CheckFailed, for_each_dc
from .settings import LocatorSettings

NAME = "locator"
log = logging.getLogger(__name__)

# What the facts were measured with: the answer is a NETLOGON_SAM_LOGON_RESPONSE_EX, nothing optional.
NT_VERSION = NETLOGON_NT_VERSION_5 | NETLOGON_NT_VERSION_5EX

# The role label of ad_domain_controller_advertised, and its DS_FLAG bit, in the summary's order.
ROLES: tuple[tuple[str, DsFlag], ...] = (
    ("pdc", DsFlag.PDC),
    ("gc", DsFlag.GC),
    ("kdc", DsFlag.KDC),
    ("timeserv", DsFlag.TIMESERV),
    ("good_timeserv", DsFlag.GOOD_TIMESERV),
    ("writable", DsFlag.WRITABLE),
    ("rodc", DsFlag.SELECT_SECRET_DOMAIN_6),
    ("ldap", DsFlag.LDAP),
    ("ds", DsFlag.DS),
)


@dataclass(frozen=True)
class PingFailure:
    reason: str


@dataclass(frozen=True)
class Advertisement:
    """What one DC said in its answer."""

    address: str  # the DC address that answered
    local_address: str  # this exporter's address as the DC saw it
    rtt: float
    flags: int  # DS_FLAG
    host: str  # DnsHostName, lower case
    site: str  # DcSiteName
    client_site: str  # ClientSiteName: "" when the DC places local_address in no site

    def advertises(self, flag: DsFlag) -> bool:
        return bool(self.flags & flag)

    @property
    def roles(self) -> dict[str, bool]:
        return {role: self.advertises(flag) for role, flag in ROLES}


@dataclass(frozen=True)
class DcPing:
    host: str
    # What the directory (the inventory) says of the DC, to hold its advertisement against.
    directory_site: str
    directory_pdc: bool
    directory_gc: bool
    answer: Advertisement | PingFailure

    @property
    def advertisement(self) -> Advertisement | None:
        return self.answer if isinstance(self.answer, Advertisement) else None


@dataclass(frozen=True)
class LocatorResult:
    domain: str
    dcs: tuple[DcPing, ...]

    @property
    def answering(self) -> tuple[tuple[DcPing, Advertisement], ...]:
        return tuple((dc, dc.answer) for dc in self.dcs if isinstance(dc.answer, Advertisement))


def _addresses(ctx: CheckContext[LocatorSettings], inventory: Inventory, host: str) -> tuple[str, ...]:
    """The address LDAP answered on in the inventory run first, then every address DNS gives."""
    known: list[str] = []
    reach = inventory.reachability.get(host)
    if reach is not None and reach.address:
        known.append(reach.address)
    try:
        known += ctx.directory.resolver.addresses(host)
    except ResolveError:
        if not known:
            raise
    return tuple(dict.fromkeys(known))


def ping_dc(ctx: CheckContext[LocatorSettings], inventory: Inventory, host: str) -> Advertisement | PingFailure:
    """Ping the DC's addresses in turn until one answers as that DC."""
    try:
        addresses = _addresses(ctx, inventory, host)
    except ResolveError as exc:
        return PingFailure(f"cannot resolve {host}: {exc}")
    if not addresses:
        return PingFailure(f"{host} has no A or AAAA record")
    problems: list[str] = []
    for address in addresses:
        try:
            answer = cldap.ldap_ping(
                address, ctx.domain.name, nt_version=NT_VERSION, timeout=ctx.settings.timeout,
                retries=ctx.settings.retries,
            )
            said = decode_sam_logon_response_ex(answer.netlogon, NT_VERSION)
        except cldap.PingError as exc:
            problems.append(f"{address}: {exc.reason}")
            continue
        except DecodeError as exc:
            problems.append(f"{address}: the Netlogon value does not decode: {exc}")
            continue
        said_host = said.dns_host_name.lower().rstrip(".")
        if said_host != host:
            problems.append(f"{address}: answers as {said_host or 'a DC without a DNS host name'}")
            continue
        return Advertisement(
            address=answer.address,
            local_address=answer.local_address,
            rtt=answer.rtt,
            flags=int(said.flags),
            host=said_host,
            site=said.dc_site_name,
            client_site=said.client_site_name,
        )
    return PingFailure("; ".join(problems))


def _budget(ctx: CheckContext[LocatorSettings], addresses: int) -> float:
    per_address = ctx.settings.timeout * (ctx.settings.retries + 1)
    # Finish before the scheduler's hard limit so the answering DCs are still reported.
    return min(per_address * addresses + 1, ctx.timeout * 0.9)


def run(ctx: CheckContext[LocatorSettings]) -> LocatorResult:
    inventory = ctx.require_inventory()
    dcs = {dc.host: dc for dc in inventory.domain_controllers}
    outcome = for_each_dc(dcs, lambda host: ping_dc(ctx, inventory, host), timeout=_budget(ctx, 2))
    pings: list[DcPing] = []
    for host, (value, error) in outcome.items():
        answer = value if value is not None else PingFailure(error or "no answer")
        dc = dcs[host]
        pings.append(DcPing(host, dc.site, dc.pdc, dc.global_catalog, answer))
        if isinstance(answer, PingFailure):
            log.debug("LDAP ping failed", extra={"domain": ctx.domain.name, "domain_controller": host,
                                                  "reason": answer.reason})
    result = LocatorResult(domain=ctx.domain.name, dcs=tuple(pings))
    if pings and not result.answering:
        raise CheckFailed(f"no DC answered the LDAP ping on UDP 389 ({len(pings)} tried)", result)
    return result

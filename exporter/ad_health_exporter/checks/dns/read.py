"""DNS check: do the DNS servers send clients to the DCs that exist, at addresses where they answer?

Asked of each configured DNS server (default: each DC's own DNS service, up to
``dns.max_servers``):

- every DC's host name: each A/AAAA address is probed over LDAP and counts as stale when
  nothing answers there, or when the server that answers is not that DC;
- the DC locator SRV records: targets that are no current DC, and current DCs not listed;
- each DC's ``<DSA GUID>._msdcs.<forest>`` CNAME, which replication resolves partners by.

Where the AD-integrated zones can be read over LDAP, the DCs' own A/AAAA records are read too,
for the aging timestamp of dynamic records.

Address probes never bind: an address that DNS got wrong may belong to anyone, so it gets no
password. They use the configured TLS, so the certificate check proves who answers (a different
DC fails the name check); with ``tls.mode: none`` the rootDSE's dnsHostName and dsServiceName
decide.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ldap3.utils.conv import escape_filter_chars

from ...ldap import LdapError
from ...ldap.resolver import ResolveError, Resolver
from ...topology import Inventory
from ..base import CheckContext, CheckFailed, for_each_dc
from .model import (
    _DNS_NODE_FILTER,
    AddressProbe,
    DcLookup,
    DnsResult,
    LocatorRecord,
    ServerView,
    SrvLookup,
    ZoneRecord,
    _node_names,
    dsa_alias,
    judge_probe,
    locator_records,
    log,
    zone_records,
)
from .settings import DnsSettings

T = TypeVar("T")


@dataclass
class _ServerBudget:
    """Stops asking a server after its first timed-out query: a dead server costs one timeout, not twenty."""

    timeout: float
    dead: str | None = None


def _ask(budget: _ServerBudget, call: Callable[[str], T], name: str) -> T:
    if budget.dead is not None:
        raise ResolveError(budget.dead)
    started = time.monotonic()
    try:
        return call(name)
    except ResolveError as exc:
        if time.monotonic() - started >= budget.timeout * 0.9:
            budget.dead = str(exc)
        raise


def _look_up(
    server: str, via_dc: str | None, inventory: Inventory, records: tuple[LocatorRecord, ...], timeout: float
) -> ServerView:
    resolver = Resolver((server,), timeout=timeout)
    budget = _ServerBudget(timeout)
    dcs: list[DcLookup] = []
    for dc in inventory.domain_controllers:
        addresses: tuple[str, ...] | None = None
        alias: str | None = None
        error = alias_error = None
        try:
            addresses = _ask(budget, resolver.addresses, dc.host)
        except ResolveError as exc:
            error = str(exc)
        try:
            alias = _ask(budget, resolver.cname, dsa_alias(dc, inventory.forest))
        except ResolveError as exc:
            alias_error = str(exc)
        dcs.append(DcLookup(dc.host, addresses, alias, error, alias_error))
    if budget.dead is not None and all(d.addresses is None for d in dcs):
        return ServerView(server, via_dc, error=f"does not answer: {budget.dead}")
    srv: list[SrvLookup] = []
    for record in records:
        try:
            srv.append(SrvLookup(record, _ask(budget, resolver.srv, record.name) or ()))
        except ResolveError as exc:
            srv.append(SrvLookup(record, None, str(exc)))
    if all(d.addresses is None and d.alias_error for d in dcs) and all(x.targets is None for x in srv):
        # Refusing every question (REFUSED, SERVFAIL) is as good as no answer: one error, not one per name.
        first = next((d.error for d in dcs if d.error), None) or next((x.error for x in srv if x.error), "no answer")
        return ServerView(server, via_dc, error=f"answers no question: {first}")
    return ServerView(server, via_dc, dcs=tuple(dcs), srv=tuple(srv))


def _servers(ctx: CheckContext[DnsSettings], inventory: Inventory) -> list[tuple[str, str | None, str | None]]:
    """(address, DC or None, error) of each DNS server to ask."""
    cfg = ctx.settings
    addresses_of = {
        r.address: host for host, r in inventory.reachability.items() if r.address is not None
    }
    if cfg.servers:
        return [(ip, addresses_of.get(ip), None) for ip in cfg.servers]
    out: list[tuple[str, str | None, str | None]] = []
    for dc in inventory.domain_controllers[: cfg.max_servers]:
        reach = inventory.reachability.get(dc.host)
        if reach is not None and reach.address:
            out.append((reach.address, dc.host, None))
            continue
        try:
            found = ctx.directory.resolver.addresses(dc.host)
        except ResolveError as exc:
            out.append((dc.host, dc.host, f"cannot find its address: {exc}"))
            continue
        if found:
            out.append((sorted(found, key=_address_key)[0], dc.host, None))
        else:
            out.append((dc.host, dc.host, "cannot find its address: its name has no A or AAAA record"))
    return out


def _address_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return ip.version, int(ip)


def _probe_addresses(
    ctx: CheckContext[DnsSettings], inventory: Inventory, pairs: list[tuple[str, str]]
) -> list[AddressProbe]:
    timeout = ctx.settings.probe_timeout

    def probe(key: str) -> AddressProbe:
        host, address = pairs[int(key)]
        dc = inventory.dc(host)
        assert dc is not None
        try:
            with ctx.directory.connect(host, bind=False, address=address, timeout=timeout) as conn:
                root = conn.root_dse(("dnsHostName", "dsServiceName"))
        except LdapError as exc:
            return AddressProbe(host, address, True, exc.reason)
        return judge_probe(dc, address, root)

    # Connect, TLS handshake and the rootDSE read are each bounded by probe_timeout.
    budget = min(3 * timeout + 1, ctx.timeout * 0.3)
    out: list[AddressProbe] = []
    for key, (value, error) in for_each_dc([str(i) for i in range(len(pairs))], probe, timeout=budget).items():
        host, address = pairs[int(key)]
        out.append(value if value is not None else AddressProbe(host, address, True, error or "no answer"))
    return out


@dataclass(frozen=True)
class _ZoneView:
    records: tuple[ZoneRecord, ...] = ()
    error: str | None = None
    read: bool = False


def _read_zones(ctx: CheckContext[DnsSettings], inventory: Inventory) -> _ZoneView:
    """The DCs' records in the AD-integrated zones, from the first DC that answers."""
    up = inventory.up_hosts()
    candidates = [h for h in inventory.read_order() if h in up]
    if not candidates:
        return _ZoneView(error="no DC answers LDAP")
    filt = _DNS_NODE_FILTER.format(
        names="".join(f"(name={escape_filter_chars(n)})" for n in _node_names(inventory.hosts))
    )
    failures: list[str] = []
    for host in candidates:
        records: list[ZoneRecord] = []
        problems: list[str] = []
        try:
            with ctx.directory.connect(host) as conn:
                for base in (
                    f"CN=MicrosoftDNS,DC=DomainDnsZones,{inventory.domain_dn}",
                    f"CN=MicrosoftDNS,DC=ForestDnsZones,{inventory.forest_dn}",
                    f"CN=MicrosoftDNS,CN=System,{inventory.domain_dn}",
                ):
                    try:
                        entries = list(conn.search(base, filt, ("dnsRecord",)))
                    except LdapError as exc:
                        if "noSuchObject" in exc.reason:  # that partition holds no zones here
                            continue
                        raise
                    found_records, errors = zone_records(entries, inventory.hosts)
                    records += found_records
                    problems += errors
        except LdapError as exc:
            failures.append(f"{host}: {exc.reason}")
            continue
        return _ZoneView(tuple(records), "; ".join(problems) or None, read=True)
    return _ZoneView(error="; ".join(failures))


def run(ctx: CheckContext[DnsSettings]) -> DnsResult:
    inventory = ctx.require_inventory()
    cfg = ctx.settings
    records = locator_records(inventory)
    servers = _servers(ctx, inventory)
    queries = len(inventory.domain_controllers) * 3 + len(records)
    phase_budget = min(cfg.timeout * queries + 1, ctx.timeout * 0.4)

    usable = {ip: via for ip, via, error in servers if error is None}

    def ask(ip: str) -> ServerView:
        return _look_up(ip, usable[ip], inventory, records, cfg.timeout)

    views: list[ServerView] = [ServerView(ip, via, error=error) for ip, via, error in servers if error is not None]
    for ip, (value, error) in for_each_dc(list(usable), ask, timeout=phase_budget).items():
        views.append(value if value is not None else ServerView(ip, usable[ip], error=f"does not answer: {error}"))

    pairs = sorted({(d.host, a) for v in views for d in v.dcs for a in d.addresses or ()})
    probes = _probe_addresses(ctx, inventory, pairs)
    zones = _read_zones(ctx, inventory) if cfg.read_zones else _ZoneView()
    if zones.error:
        log.debug("cannot read the AD-integrated DNS zones", extra={"domain": ctx.domain.name, "reason": zones.error})

    result = DnsResult(
        domain=ctx.domain.name,
        forest=inventory.forest,
        checked_at=ctx.clock(),
        dcs=inventory.domain_controllers,
        down=tuple(h for h in inventory.hosts if h not in inventory.up_hosts()),
        servers=tuple(sorted(views, key=lambda v: v.server)),
        probes=tuple(probes),
        forest_dc_hosts=inventory.forest_hosts or None,
        zone_records=zones.records,
        zones_error=zones.error,
        zones_read=zones.read,
    )
    for p in probes:
        if p.stale:
            log.debug("stale DC address", extra={
                "domain": ctx.domain.name, "domain_controller": p.host, "address": p.address, "reason": p.reason,
            })
    if views and all(v.error is not None for v in views):
        raise CheckFailed("no DNS server answered: " + "; ".join(f"{v.server}: {v.error}" for v in views), result)
    return result

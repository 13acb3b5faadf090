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
import logging
import time
from dataclasses import dataclass
from typing import Iterable

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from ..formats.dnsrecord import TYPE_A, TYPE_AAAA, AddressData, decode_dns_record
from ..formats.errors import DecodeError
from ..inventory import DomainController, Inventory, same_dn
from ..ldap import Entry, LdapError, RootDSE
from ..resolver import ResolveError, Resolver, SrvTarget
from .base import CheckContext, CheckFailed, Finding, for_each_dc

NAME = "dns"
log = logging.getLogger(__name__)

# A dynamic record's timestamp moves only once per no-refresh interval (7 days by default), so a
# healthy one is up to about 8 days old; older means nobody refreshes it (same as the alert policy).
RECORD_MAX_AGE_SECONDS = 10 * 86400
_DNS_NODE_FILTER = "(&(objectClass=dnsNode)(!(dNSTombstoned=TRUE))(|{names}))"


# --- what is asked ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LocatorRecord:
    """A DC locator SRV record and the DCs that should be listed in it."""

    record: str  # the name without the domain (or forest) suffix: the metric's `record` label
    name: str  # the full owner name
    forest_wide: bool  # under the forest root's name (GC records)
    expected: tuple[str, ...]  # DC host names that register it


def locator_records(inventory: Inventory) -> tuple[LocatorRecord, ...]:
    """The SRV records DCs register (MS-ADTS 6.3.2.3), with who should be in each.

    Writable DCs register the generic records; an RODC only its own site's. Global catalogs
    add the forest-wide GC records. Site records are listed for every site that has a DC.
    """
    dcs = inventory.domain_controllers
    domain, forest = inventory.domain, inventory.forest
    writable = tuple(dc.host for dc in dcs if not dc.read_only)
    gcs = tuple(dc.host for dc in dcs if dc.global_catalog and not dc.read_only)
    pdc = inventory.pdc

    def rec(record: str, expected: Iterable[str], forest_wide: bool = False) -> LocatorRecord:
        suffix = forest if forest_wide else domain
        return LocatorRecord(record, f"{record}.{suffix}", forest_wide, tuple(sorted(expected)))

    out = [
        rec("_ldap._tcp", writable),
        rec("_ldap._tcp.dc._msdcs", writable),
        rec("_kerberos._tcp", writable),
        rec("_kerberos._udp", writable),
        rec("_kerberos._tcp.dc._msdcs", writable),
        rec("_kpasswd._tcp", writable),
        rec("_kpasswd._udp", writable),
        rec("_ldap._tcp.pdc._msdcs", (pdc.host,) if pdc is not None else ()),
        rec("_gc._tcp", gcs, forest_wide=True),
        rec("_ldap._tcp.gc._msdcs", gcs, forest_wide=True),
    ]
    for site in sorted({dc.site for dc in dcs if dc.site}):
        in_site = tuple(dc.host for dc in dcs if dc.site == site)
        gc_in_site = tuple(dc.host for dc in dcs if dc.site == site and dc.global_catalog)
        out += [
            rec(f"_ldap._tcp.{site}._sites", in_site),
            rec(f"_ldap._tcp.{site}._sites.dc._msdcs", in_site),
            rec(f"_kerberos._tcp.{site}._sites", in_site),
            rec(f"_kerberos._tcp.{site}._sites.dc._msdcs", in_site),
        ]
        if gc_in_site:
            out += [
                rec(f"_gc._tcp.{site}._sites", gc_in_site, forest_wide=True),
                rec(f"_ldap._tcp.{site}._sites.gc._msdcs", gc_in_site, forest_wide=True),
            ]
    return tuple(out)


def dsa_alias(dc: DomainController, forest: str) -> str:
    return f"{dc.dsa_guid}._msdcs.{forest}"


# --- what was seen ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DcLookup:
    """One DC's names as one DNS server answers them."""

    host: str
    addresses: tuple[str, ...] | None  # None: the lookup failed (error says why)
    alias_target: str | None  # CNAME target of the DSA alias; None = no such CNAME (or alias_error)
    error: str | None = None
    alias_error: str | None = None


@dataclass(frozen=True)
class SrvLookup:
    record: LocatorRecord
    targets: tuple[SrvTarget, ...] | None  # None: the lookup failed (NXDOMAIN gives ())
    error: str | None = None


@dataclass(frozen=True)
class ServerView:
    server: str  # the DNS server's IP address: the `dns_server` label
    via_dc: str | None  # the DC whose DNS service this is, when DCs are asked
    error: str | None = None  # the server did not answer at all
    dcs: tuple[DcLookup, ...] = ()
    srv: tuple[SrvLookup, ...] = ()


@dataclass(frozen=True)
class AddressProbe:
    host: str
    address: str
    stale: bool
    reason: str | None = None  # why it is stale


@dataclass(frozen=True)
class ZoneRecord:
    """An A/AAAA record of a DC's host name, read from an AD-integrated zone."""

    host: str
    address: str
    zone: str
    timestamp: int | None  # Unix seconds of the last refresh; None = static record


@dataclass(frozen=True)
class DnsResult:
    domain: str
    forest: str
    checked_at: float
    dcs: tuple[DomainController, ...]
    down: tuple[str, ...]  # DCs the inventory found not answering
    servers: tuple[ServerView, ...]
    probes: tuple[AddressProbe, ...]
    forest_dc_hosts: tuple[str, ...] | None  # every DC of the forest; None: unknown
    zone_records: tuple[ZoneRecord, ...] = ()
    zones_error: str | None = None
    zones_read: bool = False

    def probe(self, host: str, address: str) -> AddressProbe | None:
        return next((p for p in self.probes if p.host == host and p.address == address), None)

    def stale(self, lookup: DcLookup) -> tuple[AddressProbe, ...]:
        found = (self.probe(lookup.host, a) for a in lookup.addresses or ())
        return tuple(p for p in found if p is not None and p.stale)

    def srv_unknown(self, lookup: SrvLookup) -> tuple[SrvTarget, ...] | None:
        """Targets that are no current DC; None when that cannot be told."""
        if lookup.targets is None:
            return None
        known = self.forest_dc_hosts if lookup.record.forest_wide else tuple(dc.host for dc in self.dcs)
        if known is None:
            return None
        return tuple(t for t in lookup.targets if t.target not in known)

    @staticmethod
    def srv_missing(lookup: SrvLookup) -> tuple[str, ...] | None:
        if lookup.targets is None:
            return None
        listed = {t.target for t in lookup.targets}
        return tuple(h for h in lookup.record.expected if h not in listed)

    def dc_readable(self, host: str) -> bool:
        """Its names were answered by at least one server, and its own DNS service (if asked) answered."""
        own_ok = all(v.error is None for v in self.servers if v.via_dc == host)
        answered = any(
            v.error is None and d.host == host and d.addresses is not None for v in self.servers for d in v.dcs
        )
        return own_ok and answered


# --- pure helpers ----------------------------------------------------------------------------


def judge_probe(dc: DomainController, address: str, root: RootDSE) -> AddressProbe:
    """Is the LDAP server that answered at ``address`` the DC itself?"""
    if root.dns_host_name and root.dns_host_name != dc.host:
        return AddressProbe(dc.host, address, True, f"{root.dns_host_name} answers there")
    if root.ds_service_name and not same_dn(root.ds_service_name, dc.dsa_dn):
        return AddressProbe(dc.host, address, True, f"the DSA {root.ds_service_name} answers there")
    if not root.dns_host_name and not root.ds_service_name:
        return AddressProbe(dc.host, address, True, "an LDAP server that is no DC answers there")
    return AddressProbe(dc.host, address, False)


def record_location(name: str, domain: str, forest: str) -> tuple[str, str]:
    """(zone, node) of a DC's record, as dnscmd wants them.

    Names under ``_msdcs.<forest>`` live in that zone (its own zone since Windows 2003);
    the rest in the domain's zone, else the forest root's, else the name's parent.
    """
    name = name.rstrip(".").lower()
    for zone in (f"_msdcs.{forest}", domain, forest):
        if name.endswith("." + zone):
            return zone, name[: -len(zone) - 1]
        if name == zone:
            return zone, "@"
    node, _, zone = name.partition(".")
    return zone, node


def zone_records(entries: Iterable[Entry], hosts: Iterable[str]) -> tuple[list[ZoneRecord], list[str]]:
    """The DCs' A/AAAA records from dnsNode entries; undecodable values are named in the errors."""
    wanted = set(hosts)
    records: list[ZoneRecord] = []
    errors: list[str] = []
    for entry in entries:
        try:
            rdns = parse_dn(entry.dn)
        except Exception:  # noqa: BLE001 - a DN ldap3 cannot parse names no DC
            continue
        if len(rdns) < 2:
            continue
        node, zone = rdns[0][1].lower(), rdns[1][1].lower()
        fqdn = zone if node == "@" else f"{node}.{zone}"
        if fqdn not in wanted:
            continue
        for index, value in enumerate(entry.raw("dnsRecord")):
            try:
                record = decode_dns_record(value)
            except DecodeError as exc:
                errors.append(f"{entry.dn} dnsRecord value {index + 1}: {exc}")
                continue
            if record.record_type in (TYPE_A, TYPE_AAAA) and isinstance(record.data, AddressData):
                records.append(ZoneRecord(fqdn, str(record.data.address), zone, record.timestamp_unix))
    return records, errors


def _node_names(hosts: Iterable[str]) -> list[str]:
    """Every way a host's node can be named in a zone above it: dc1, dc1.lab, ..."""
    names: list[str] = []
    for host in hosts:
        labels = host.split(".")
        names += [".".join(labels[:i]) for i in range(1, len(labels))]
    return sorted(set(names))


# --- I/O -------------------------------------------------------------------------------------


@dataclass
class _ServerBudget:
    """Stops asking a server after its first timed-out query: a dead server costs one timeout, not twenty."""

    timeout: float
    dead: str | None = None


def _ask(budget: _ServerBudget, call, *args):
    if budget.dead is not None:
        raise ResolveError(budget.dead)
    started = time.monotonic()
    try:
        return call(*args)
    except ResolveError as exc:
        if time.monotonic() - started >= budget.timeout * 0.9:
            budget.dead = str(exc)
        raise


def _look_up(server: str, via_dc: str | None, inventory: Inventory, records: tuple[LocatorRecord, ...], timeout: float) -> ServerView:
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


def _servers(ctx: CheckContext, inventory: Inventory) -> list[tuple[str, str | None, str | None]]:
    """(address, DC or None, error) of each DNS server to ask."""
    cfg = ctx.domain.dns
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


def _probe_addresses(ctx: CheckContext, inventory: Inventory, pairs: list[tuple[str, str]]) -> list[AddressProbe]:
    timeout = ctx.domain.dns.probe_timeout

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
    budget = min(3 * timeout + 1, ctx.domain.timeout(NAME) * 0.3)
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


def _read_zones(ctx: CheckContext, inventory: Inventory) -> _ZoneView:
    """The DCs' records in the AD-integrated zones, from the first DC that answers."""
    up = inventory.up_hosts()
    candidates = [h for h in inventory.read_order() if h in up]
    if not candidates:
        return _ZoneView(error="no DC answers LDAP")
    filt = _DNS_NODE_FILTER.format(names="".join(f"(name={escape_filter_chars(n)})" for n in _node_names(inventory.hosts)))
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


def run(ctx: CheckContext) -> DnsResult:
    inventory = ctx.require_inventory()
    cfg = ctx.domain.dns
    records = locator_records(inventory)
    servers = _servers(ctx, inventory)
    queries = len(inventory.domain_controllers) * 3 + len(records)
    phase_budget = min(cfg.timeout * queries + 1, ctx.domain.timeout(NAME) * 0.4)

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
            log.debug("stale DC address", extra={"domain": ctx.domain.name, "domain_controller": p.host, "address": p.address, "reason": p.reason})
    if views and all(v.error is not None for v in views):
        raise CheckFailed("no DNS server answered: " + "; ".join(f"{v.server}: {v.error}" for v in views), result)
    return result


# --- report ----------------------------------------------------------------------------------


def _servers_text(servers: list[str]) -> str:
    return f"DNS server{'s' if len(servers) > 1 else ''} {', '.join(servers)}"


def findings(result: DnsResult) -> list[Finding]:
    out: list[Finding] = []
    for view in result.servers:
        if view.error is not None:
            who = f" ({view.via_dc})" if view.via_dc else ""
            out.append(
                Finding(
                    NAME,
                    "error",
                    f"DNS server {view.server}{who}",
                    view.error,
                    fix=f"check the DNS Server service (Get-Service DNS on {view.via_dc or view.server}; "
                    f"Resolve-DnsName {result.domain} -Server {view.server})",
                )
            )
    answering = [v for v in result.servers if v.error is None]

    for view in answering:
        for lookup in view.dcs:
            if lookup.addresses is None:
                out.append(Finding(NAME, "warning", lookup.host, f"lookup on DNS server {view.server} failed: {lookup.error}"))
            elif not lookup.addresses:
                zone, node = record_location(lookup.host, result.domain, result.forest)
                out.append(
                    Finding(
                        NAME,
                        "error",
                        lookup.host,
                        f"has no A or AAAA record on DNS server {view.server}: clients cannot reach it by name",
                        fix=f"on {lookup.host}: ipconfig /registerdns (or dnscmd {view.server} /recordadd {zone} {node} A <its address>)",
                    )
                )
        for srv_lookup in view.srv:
            if srv_lookup.targets is None:
                out.append(
                    Finding(NAME, "warning", srv_lookup.record.name, f"lookup on DNS server {view.server} failed: {srv_lookup.error}")
                )

    # Stale addresses: one finding per (DC, address), naming the servers that return it.
    stale: dict[tuple[str, str], tuple[AddressProbe, list[str]]] = {}
    for view in answering:
        for lookup in view.dcs:
            for p in result.stale(lookup):
                stale.setdefault((p.host, p.address), (p, []))[1].append(view.server)
    for (host, address), (p, servers) in sorted(stale.items()):
        others = [a for v in answering for d in v.dcs if d.host == host for a in d.addresses or () if a != address]
        healthy_elsewhere = any(not pr.stale for a in others if (pr := result.probe(host, a)) is not None)
        if host in result.down and not healthy_elsewhere:
            continue  # the DC itself is down: the inventory reports that, and no address can be judged
        zone, node = record_location(host, result.domain, result.forest)
        rrtype = "AAAA" if ":" in address else "A"
        out.append(
            Finding(
                NAME,
                "error",
                host,
                f"resolves to {address} on {_servers_text(servers)}, where {host} does not answer ({p.reason}): "
                "clients sent there fail or reach the wrong server",
                fix=f"dnscmd {servers[0]} /recorddelete {zone} {node} {rrtype} {address} /f",
            )
        )

    unknown: dict[tuple[str, str, int], tuple[SrvLookup, SrvTarget, list[str]]] = {}
    missing: dict[tuple[str, str], tuple[SrvLookup, list[str]]] = {}
    for view in answering:
        for lookup in view.srv:
            for t in result.srv_unknown(lookup) or ():
                unknown.setdefault((lookup.record.name, t.target, t.port), (lookup, t, []))[2].append(view.server)
            for host in result.srv_missing(lookup) or ():
                missing.setdefault((lookup.record.name, host), (lookup, []))[1].append(view.server)
    for (name, target, port), (lookup, t, servers) in sorted(unknown.items()):
        zone, node = record_location(name, result.domain, result.forest)
        out.append(
            Finding(
                NAME,
                "error",
                name,
                f"lists {target}:{port}, which is no current DC ({_servers_text(servers)}): clients that pick it fail",
                fix=f"dnscmd {servers[0]} /recorddelete {zone} {node} SRV {t.priority} {t.weight} {t.port} {target} /f",
            )
        )
    for (name, host), (lookup, servers) in sorted(missing.items()):
        out.append(
            Finding(
                NAME,
                "warning",
                name,
                f"does not list the DC {host} ({_servers_text(servers)})",
                fix=f"nltest /server:{host} /dsregdns (Samba: samba_dnsupdate --verbose on {host})",
            )
        )

    alias_bad: dict[str, tuple[str | None, list[str]]] = {}
    for view in answering:
        for lookup in view.dcs:
            if lookup.alias_error is None and lookup.alias_target != lookup.host:
                alias_bad.setdefault(lookup.host, (lookup.alias_target, []))[1].append(view.server)
    for dc in result.dcs:
        if dc.host not in alias_bad:
            continue
        target, servers = alias_bad[dc.host]
        name = dsa_alias(dc, result.forest)
        seen = f"points to {target}" if target else "does not exist"
        zone, node = record_location(name, result.domain, result.forest)
        out.append(
            Finding(
                NAME,
                "error",
                dc.host,
                f"its replication alias {name} {seen} on {_servers_text(servers)}: partners fail to replicate "
                "from it (error 8524)",
                fix=f"dnscmd {servers[0]} /recordadd {zone} {node} CNAME {dc.host}"
                + (f" (after /recorddelete {zone} {node} CNAME)" if target else ""),
            )
        )

    for rec in result.zone_records:
        if rec.timestamp is not None and result.checked_at - rec.timestamp > RECORD_MAX_AGE_SECONDS:
            days = (result.checked_at - rec.timestamp) / 86400
            out.append(
                Finding(
                    NAME,
                    "warning",
                    rec.host,
                    f"its dynamic record {rec.address} in zone {rec.zone} was last refreshed {days:.0f} days ago: "
                    "nothing re-registers it, and scavenging may delete it",
                    fix=f"on {rec.host}: ipconfig /registerdns; nltest /dsregdns",
                )
            )
    if result.zones_error:
        out.append(Finding(NAME, "info", result.domain, f"AD-integrated zones not (fully) read: {result.zones_error}"))
    return out


def summary(result: DnsResult) -> list[str]:
    lines: list[str] = []
    for view in result.servers:
        who = f" ({view.via_dc})" if view.via_dc else ""
        if view.error is not None:
            lines.append(f"DNS server {view.server}{who}: {view.error}")
            continue
        lines.append(f"DNS server {view.server}{who}")
        for lookup in view.dcs:
            if lookup.addresses is None:
                lines.append(f"  {lookup.host:<38} lookup failed: {lookup.error}")
                continue
            stale = {p.address for p in result.stale(lookup)}
            # A DC that is down answers nowhere: its addresses cannot be judged, so say why.
            mark = " (DC down)" if lookup.host in result.down else " STALE"
            marks = ", ".join(f"{a}{mark if a in stale else ''}" for a in lookup.addresses)
            alias = "alias ok" if lookup.alias_target == lookup.host else "alias MISSING"
            lines.append(f"  {lookup.host:<38} {marks or 'no address'}; {alias}")
        bad = []
        for lookup in view.srv:
            unknown, missing = result.srv_unknown(lookup), result.srv_missing(lookup)
            if lookup.targets is None:
                bad.append(f"  {lookup.record.record:<38} lookup failed: {lookup.error}")
            elif unknown or missing:
                parts = [f"{len(unknown)} unknown ({', '.join(t.target for t in unknown)})"] if unknown else []
                parts += [f"{len(missing)} missing ({', '.join(missing)})"] if missing else []
                bad.append(f"  {lookup.record.record:<38} {'; '.join(parts)}")
        lines.append(f"  {len(view.srv)} locator records, {len(bad)} with problems")
        lines += bad
    dynamic = [r for r in result.zone_records if r.timestamp is not None]
    if result.zones_read:
        lines.append(
            f"AD-integrated zones: {len(result.zone_records)} DC address record(s), {len(dynamic)} dynamic"
        )
    return lines

"""What the dns check asks and what it saw, and the pure judgements of it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ldap3.utils.dn import parse_dn

from ...formats.dnsrecord import TYPE_A, TYPE_AAAA, AddressData, decode_dns_record
from ...formats.errors import DecodeError
from ...ldap import Entry, RootDSE
from ...ldap.dn import same_dn
from ...ldap.resolver import SrvTarget
from ...topology import DomainController, Inventory

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

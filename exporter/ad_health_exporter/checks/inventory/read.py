"""Inventory check: which DCs the domain has, their roles, and whether each answers LDAP."""

from __future__ import annotations

import dataclasses
import logging
import uuid

from ...ldap import Entry, LdapError
from ...ldap.dn import dn_to_dns_name, dns_name_to_dn, parent_dn, same_dn, site_of_dsa
from ...ldap.resolver import ResolveError
from ...topology import DomainController, Inventory, Reachability
from ..base import CheckContext, CheckError, CheckFailed, DcConnection, for_each_dc

NAME = "inventory"
log = logging.getLogger(__name__)

_NTDSDSA_OPT_IS_GC = 0x1
_NTDSDSA_OPT_DISABLE_INBOUND_REPL = 0x2
_NTDSDSA_OPT_DISABLE_OUTBOUND_REPL = 0x4
_DSA_ATTRS = (
    "objectGUID",
    "options",
    "msDS-isRODC",
    "msDS-HasDomainNCs",
    "msDS-hasMasterNCs",
    "hasMasterNCs",
    "hasPartialReplicaNCs",
)


def run(ctx: CheckContext) -> Inventory:
    domain_dn = dns_name_to_dn(ctx.domain.name)
    errors: list[str] = []
    topology: Inventory | None = None
    for seed in _seeds(ctx, errors):
        try:
            with ctx.directory.connect(seed) as conn:
                topology = _read_topology(ctx, conn, domain_dn)
            break
        except (LdapError, CheckError) as exc:
            errors.append(str(exc))
    if topology is None:
        message = "cannot read the domain's topology from any DC: " + ("; ".join(errors) or "no DC known")
        previous = ctx.inventory
        if previous is None:
            raise CheckError(message)
        # Keep the DCs we knew and still say which of them answer: "all DCs down" must
        # show as up=0, not vanish or freeze at the last good values.
        partial = dataclasses.replace(
            previous, reachability=_probe_all(ctx, previous.hosts), read_from=None, topology_error=message
        )
        raise CheckFailed(message, partial)
    reachability = _probe_all(ctx, topology.hosts)
    return dataclasses.replace(topology, reachability=reachability,
                               domain_controllers=_own_options(ctx, topology.domain_controllers, reachability))


def _seeds(ctx: CheckContext, errors: list[str]) -> list[str]:
    """Configured DCs first, then the last known ones, then the DC locator's SRV record."""
    seeds: list[str] = list(ctx.domain.domain_controllers)
    if ctx.inventory is not None:
        up = set(ctx.inventory.up_hosts())
        seeds += sorted(ctx.inventory.hosts, key=lambda h: h not in up)
    if not seeds:
        record = f"_ldap._tcp.dc._msdcs.{ctx.domain.name}"
        try:
            targets = ctx.directory.resolver.srv(record) or ()
        except ResolveError as exc:
            errors.append(f"DC locator: {exc}")
            targets = ()
        if not targets and not errors:
            errors.append(f"DC locator: {record} has no SRV records; set domain_controllers in the configuration")
        seeds += [t.target for t in sorted(targets, key=lambda t: (t.priority, -t.weight))]
    return list(dict.fromkeys(seeds))


def _read_topology(ctx: CheckContext, conn: DcConnection, domain_dn: str) -> Inventory:
    root = conn.root_dse()
    config_dn = root.configuration_naming_context
    if not config_dn or not root.default_naming_context:
        raise CheckError(f"{conn.host}: the rootDSE names no configuration or default naming context")
    if not same_dn(root.default_naming_context, domain_dn):
        raise CheckError(
            f"{conn.host}: serves {root.default_naming_context}, not {ctx.domain.name} ({domain_dn}); "
            "check domains[].domain_controllers"
        )
    forest_dn = root.root_domain_naming_context or root.default_naming_context
    sites_dn = f"CN=Sites,{config_dn}"

    servers = {
        e.dn.lower(): e
        for e in conn.search(sites_dn, "(objectClass=server)", ("dNSHostName", "serverReference"))
    }
    pdc_owner = None
    head = conn.read(root.default_naming_context, ("fSMORoleOwner",))
    if head is not None:
        pdc_owner = head.text("fSMORoleOwner")

    dcs: list[DomainController] = []
    forest_dcs: dict[uuid.UUID, str] = {}
    for dsa in conn.search(sites_dn, "(objectClass=nTDSDSA)", _DSA_ATTRS):
        server_dn = parent_dn(dsa.dn)
        server = servers.get(server_dn.lower())
        host = server.text("dNSHostName") if server is not None else None
        if not host:
            log.warning(
                "skipping a DC without a dNSHostName on its server object",
                extra={"domain": ctx.domain.name, "dsa": dsa.dn},
            )
            continue
        host = host.lower().rstrip(".")
        guid_raw = dsa.first_raw("objectGUID")
        guid = uuid.UUID(bytes_le=guid_raw) if guid_raw is not None and len(guid_raw) == 16 else None
        if guid is not None:
            forest_dcs[guid] = host
        if not _hosts_domain(dsa, domain_dn):
            continue
        if guid is None:
            log.warning("skipping a DC whose nTDSDSA has no objectGUID",
                        extra={"domain": ctx.domain.name, "dsa": dsa.dn})
            continue
        ncs = dsa.texts("msDS-hasMasterNCs") or dsa.texts("hasMasterNCs")
        options = dsa.integer("options") or 0
        dcs.append(
            DomainController(
                host=host,
                name=server_dn.split(",", 1)[0].split("=", 1)[1],
                site=site_of_dsa(dsa.dn),
                dsa_guid=guid,
                dsa_dn=dsa.dn,
                server_dn=server_dn,
                computer_dn=server.text("serverReference") if server is not None else None,
                global_catalog=bool(options & _NTDSDSA_OPT_IS_GC),
                read_only=bool(dsa.boolean("msDS-isRODC")),
                pdc=same_dn(pdc_owner, dsa.dn),
                naming_contexts=tuple(ncs) + tuple(dsa.texts("hasPartialReplicaNCs")),
                inbound_replication_disabled=bool(options & _NTDSDSA_OPT_DISABLE_INBOUND_REPL),
                outbound_replication_disabled=bool(options & _NTDSDSA_OPT_DISABLE_OUTBOUND_REPL),
            )
        )
    if not dcs:
        raise CheckError(f"{conn.host}: found no nTDSDSA object for {ctx.domain.name} under {sites_dn}")
    dcs.sort(key=lambda d: d.host)
    return Inventory(
        domain=ctx.domain.name,
        forest=dn_to_dns_name(forest_dn),
        domain_dn=root.default_naming_context,
        forest_dn=forest_dn,
        configuration_dn=config_dn,
        schema_dn=root.schema_naming_context or f"CN=Schema,{config_dn}",
        domain_controllers=tuple(dcs),
        read_from=conn.host,
        forest_dcs=forest_dcs,
    )


def _hosts_domain(dsa: Entry, domain_dn: str) -> bool:
    """True if the DC holds the configured domain's NC (forests list every domain's DCs)."""
    has_domain = dsa.texts("msDS-HasDomainNCs")
    if has_domain:
        return any(same_dn(nc, domain_dn) for nc in has_domain)
    masters = dsa.texts("msDS-hasMasterNCs") or dsa.texts("hasMasterNCs")
    if masters:
        return any(same_dn(nc, domain_dn) for nc in masters) or any(
            same_dn(nc, domain_dn) for nc in dsa.texts("hasPartialReplicaNCs")
        )
    return True


def _probe_all(ctx: CheckContext, hosts: tuple[str, ...]) -> dict[str, Reachability]:
    ldap = ctx.domain.ldap
    budget = ldap.connect_timeout * 2 + ldap.receive_timeout + 1

    def probe(host: str) -> Reachability:
        with ctx.directory.connect(host, bind=False) as conn:
            root = conn.root_dse()
            address = conn.address
        if root.dns_host_name and root.dns_host_name != host:
            return Reachability(up=False, error=f"answered as {root.dns_host_name}", address=address, root_dse=root)
        return Reachability(up=True, address=address, root_dse=root)

    out: dict[str, Reachability] = {}
    for host, (value, error) in for_each_dc(hosts, probe, timeout=budget).items():
        out[host] = value if value is not None else Reachability(up=False, error=error)
        if error:
            log.warning("domain controller does not answer LDAP",
                        extra={"domain": ctx.domain.name, "domain_controller": host, "reason": error})
    return out


def _own_options(
    ctx: CheckContext, dcs: tuple[DomainController, ...], reachability: dict[str, Reachability]
) -> tuple[DomainController, ...]:
    """Each answering DC's replication switches as it holds them on its own nTDSDSA object.

    The topology DC's copy may be stale: a DC with outbound replication off never sends its partners
    the change that switched it off. A DC that cannot be read keeps the topology DC's view.
    """
    ldap = ctx.domain.ldap
    budget = ldap.connect_timeout * 2 + ldap.receive_timeout + 1
    by_host = {dc.host: dc for dc in dcs}

    def read_options(host: str) -> int | None:
        with ctx.directory.connect(host) as conn:
            entry = conn.read(by_host[host].dsa_dn, ("options",))
        return None if entry is None else entry.integer("options") or 0

    up = [dc.host for dc in dcs if reachability.get(dc.host, Reachability(False)).up]
    out: list[DomainController] = []
    outcome = for_each_dc(up, read_options, timeout=budget)
    for dc in dcs:
        options, error = outcome.get(dc.host, (None, None))
        if options is None:
            if error:
                log.debug("cannot read the DC's own nTDSDSA options; keeping the topology DC's view",
                          extra={"domain": ctx.domain.name, "domain_controller": dc.host, "reason": error})
            out.append(dc)
            continue
        out.append(dataclasses.replace(
            dc,
            inbound_replication_disabled=bool(options & _NTDSDSA_OPT_DISABLE_INBOUND_REPL),
            outbound_replication_disabled=bool(options & _NTDSDSA_OPT_DISABLE_OUTBOUND_REPL),
        ))
    return tuple(out)

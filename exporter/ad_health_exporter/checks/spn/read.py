"""SPN check: duplicated, missing and malformed service principal names.

One streamed, paged search reads every ``servicePrincipalName`` in scope: the domain NC when
the forest has one domain, else the global catalog (port 3268/3269), which holds every
domain's accounts. Only the SPN index is kept in memory (one entry per distinct SPN value),
never the entries, so memory grows with the number of SPNs and not with what is fetched.

Duplicates are counted the way the KDC sees them: case-insensitively, and with the aliases of
``sPNMappings`` expanded (``cifs/x`` on one account and ``HOST/x`` on another collide,
because the KDC serves ``cifs/x`` from the holder of ``HOST/x``).
"""

from __future__ import annotations

from typing import Literal

from ...formats.errors import DecodeError
from ...formats.spn import SpnMappings, parse_spn_mappings
from ...ldap import LdapError
from ...topology import Inventory
from ..base import CheckContext, CheckError, DcConnection
from .index import _FLAG_CR_NTDS_DOMAIN, SCAN_ATTRIBUTES, SCAN_FILTER, SpnResult, evaluate, log, scan
from .settings import SpnSettings


def run(ctx: CheckContext[SpnSettings]) -> SpnResult:
    inventory = ctx.require_inventory()
    cfg = ctx.domain
    errors: list[str] = []
    forest_wide: bool | None = None
    for host in inventory.read_order():
        try:
            if forest_wide is None or not forest_wide:
                with ctx.directory.connect(host) as conn:
                    if forest_wide is None:
                        forest_wide = _forest_has_several_domains(conn, inventory)
                    if not forest_wide:
                        return _scan_and_evaluate(ctx, inventory, conn, inventory.domain_dn, "domain")
            dc = inventory.dc(host)
            if dc is None or not dc.global_catalog:
                continue
            with ctx.directory.connect(host, port=3269 if cfg.tls.mode == "ldaps" else 3268) as conn:
                # Base "" on the global catalog port covers every domain of the forest.
                return _scan_and_evaluate(ctx, inventory, conn, "", "forest")
        except LdapError as exc:
            errors.append(str(exc))
            log.warning("cannot scan SPNs on this DC, trying the next",
                        extra={"domain": cfg.name, "domain_controller": host, "reason": str(exc)})
    if forest_wide and not errors:
        raise CheckError("the forest has several domains, but no DC of this domain is a global catalog")
    raise CheckError("cannot scan SPNs on any DC: " + ("; ".join(errors) or "no DC is known"))


def _scan_and_evaluate(ctx: CheckContext[SpnSettings], inventory: Inventory, conn: DcConnection, base: str,
                       scope: Literal["domain", "forest"]) -> SpnResult:
    cfg = ctx.domain
    mappings = _read_mappings(conn, inventory, cfg.name)
    state = scan(conn.search(base, SCAN_FILTER, SCAN_ATTRIBUTES), mappings, inventory, inventory.domain_dn,
                 ctx.settings.expect_host_spn_on_computers, cfg.name)
    return evaluate(
        state, inventory, ctx.settings.expected,
        with_dcs=ctx.settings.expect_domain_controller_spns,
        check_host_spn=ctx.settings.expect_host_spn_on_computers,
        duplicate_limit=ctx.settings.duplicate_series_limit,
        read_from=conn.host, scope=scope, domain=cfg.name,
    )


def _forest_has_several_domains(conn: DcConnection, inventory: Inventory) -> bool:
    partitions = f"CN=Partitions,{inventory.configuration_dn}"
    domains = [
        e for e in conn.search(
            partitions,
            f"(&(objectClass=crossRef)(systemFlags:1.2.840.113556.1.4.803:={_FLAG_CR_NTDS_DOMAIN}))",
            ("nCName",),
            scope="level",
        )
    ]
    return len(domains) > 1


def _read_mappings(conn: DcConnection, inventory: Inventory, domain: str) -> SpnMappings:
    dn = f"CN=Directory Service,CN=Windows NT,CN=Services,{inventory.configuration_dn}"
    entry = conn.read(dn, ("sPNMappings",))
    values = entry.texts("sPNMappings") if entry is not None else []
    if not values:
        log.warning("no sPNMappings found: HOST aliases (cifs, http, ...) are not expanded",
                    extra={"domain": domain, "dn": dn})
        return SpnMappings()
    good: list[str] = []
    for value in values:
        try:
            parse_spn_mappings([value])
            good.append(value)
        except DecodeError as exc:
            log.warning("skipping an unreadable sPNMappings value", extra={"domain": domain, "reason": str(exc)})
    try:
        return parse_spn_mappings(good)
    except DecodeError as exc:
        log.warning("sPNMappings values contradict each other; aliases not expanded",
                    extra={"domain": domain, "reason": str(exc)})
        return SpnMappings()

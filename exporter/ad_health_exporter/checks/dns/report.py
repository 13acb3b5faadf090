"""The dns check's findings and summary, with the dnscmd commands that fix records."""

from __future__ import annotations

from ...ldap.resolver import SrvTarget
from ..base import Finding
from .model import NAME, RECORD_MAX_AGE_SECONDS, AddressProbe, DnsResult, dsa_alias, record_location


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
                out.append(
                    Finding(NAME, "warning", lookup.host, f"lookup on DNS server {view.server} failed: {lookup.error}")
                )
            elif not lookup.addresses:
                zone, node = record_location(lookup.host, result.domain, result.forest)
                out.append(
                    Finding(
                        NAME,
                        "error",
                        lookup.host,
                        f"has no A or AAAA record on DNS server {view.server}: clients cannot reach it by name",
                        fix=f"on {lookup.host}: ipconfig /registerdns "
                        f"(or dnscmd {view.server} /recordadd {zone} {node} A <its address>)",
                    )
                )
        for srv_lookup in view.srv:
            if srv_lookup.targets is None:
                out.append(
                    Finding(
                        NAME,
                        "warning",
                        srv_lookup.record.name,
                        f"lookup on DNS server {view.server} failed: {srv_lookup.error}",
                    )
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

    unknown: dict[tuple[str, str, int], tuple[SrvTarget, list[str]]] = {}
    missing: dict[tuple[str, str], list[str]] = {}
    for view in answering:
        for srv in view.srv:
            for t in result.srv_unknown(srv) or ():
                unknown.setdefault((srv.record.name, t.target, t.port), (t, []))[1].append(view.server)
            for host in result.srv_missing(srv) or ():
                missing.setdefault((srv.record.name, host), []).append(view.server)
    for (name, target, port), (t, servers) in sorted(unknown.items()):
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
    for (name, host), servers in sorted(missing.items()):
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
        alias_target, servers = alias_bad[dc.host]
        name = dsa_alias(dc, result.forest)
        seen = f"points to {alias_target}" if alias_target else "does not exist"
        zone, node = record_location(name, result.domain, result.forest)
        out.append(
            Finding(
                NAME,
                "error",
                dc.host,
                f"its replication alias {name} {seen} on {_servers_text(servers)}: partners fail to replicate "
                "from it (error 8524)",
                fix=f"dnscmd {servers[0]} /recordadd {zone} {node} CNAME {dc.host}"
                + (f" (after /recorddelete {zone} {node} CNAME)" if alias_target else ""),
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
        for srv in view.srv:
            unknown, missing = result.srv_unknown(srv), result.srv_missing(srv)
            if srv.targets is None:
                bad.append(f"  {srv.record.record:<38} lookup failed: {srv.error}")
            elif unknown or missing:
                parts = [f"{len(unknown)} unknown ({', '.join(t.target for t in unknown)})"] if unknown else []
                parts += [f"{len(missing)} missing ({', '.join(missing)})"] if missing else []
                bad.append(f"  {srv.record.record:<38} {'; '.join(parts)}")
        lines.append(f"  {len(view.srv)} locator records, {len(bad)} with problems")
        lines += bad
    dynamic = [r for r in result.zone_records if r.timestamp is not None]
    if result.zones_read:
        lines.append(
            f"AD-integrated zones: {len(result.zone_records)} DC address record(s), {len(dynamic)} dynamic"
        )
    return lines

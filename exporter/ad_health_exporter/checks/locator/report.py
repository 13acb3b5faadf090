"""The locator check's findings and its DC roles table, with the commands an AD admin runs to fix them."""

from __future__ import annotations

from ...formats.netlogon import DsFlag
from ..base import Finding
from .ping import NAME, ROLES, Advertisement, DcPing, LocatorResult, PingFailure


def _advertising(result: LocatorResult, host: str) -> str:
    return f"dcdiag /test:advertising /s:{host}; nltest /dsgetdc:{result.domain} /server:{host}"


def _dc_findings(result: LocatorResult, dc: DcPing, said: Advertisement) -> list[Finding]:
    host = dc.host
    out: list[Finding] = []
    if not said.advertises(DsFlag.KDC):
        out.append(Finding(
            NAME, "error", host,
            "answers the LDAP ping but does not advertise a KDC: clients that pick it get no Kerberos tickets "
            "from it, while its LDAP may still answer",
            fix=f"Get-Service kdc -ComputerName {host}; start it (Invoke-Command -ComputerName {host} "
            f"{{ Start-Service kdc }}), then {_advertising(result, host)} "
            "(Samba: take -kdc out of 'server services' in smb.conf and restart samba)",
        ))
    if not said.advertises(DsFlag.TIMESERV):
        out.append(Finding(
            NAME, "warning", host,
            "does not advertise the time service: domain members and other DCs will not take their time from it",
            fix=f"Get-Service w32time -ComputerName {host}; w32tm /query /computer:{host} /configuration; "
            f"then dcdiag /test:advertising /s:{host}",
        ))
    missing = [name for name, flag in (("LDAP", DsFlag.LDAP), ("DS", DsFlag.DS)) if not said.advertises(flag)]
    if missing:
        out.append(Finding(
            NAME, "error", host,
            f"does not advertise {' and '.join(missing)}: the DC locator will not offer it as a domain controller",
            fix=_advertising(result, host) + f"; repadmin /showrepl {host} (a DC advertises once its first "
            "replication is done)",
        ))
    if dc.directory_pdc != said.advertises(DsFlag.PDC):
        holds = "holds" if dc.directory_pdc else "does not hold"
        says = "does not advertise" if dc.directory_pdc else "advertises"
        out.append(Finding(
            NAME, "warning", host,
            f"{holds} the PDC emulator role in the directory (fSMORoleOwner) but {says} PDC in its LDAP ping: "
            "password changes, account lockout and the domain's time root go to the DC that advertises it",
            fix=f"netdom query fsmo; repadmin /syncall {host} /AdeP; then restart Netlogon on {host} "
            f"(Restart-Service netlogon) and {_advertising(result, host)}",
        ))
    if dc.directory_gc != said.advertises(DsFlag.GC):
        what = ("is a global catalog in its NTDS Settings (options IS_GC) but does not advertise GC: it has not "
                "finished replicating the partial replicas, or Netlogon has not caught up"
                if dc.directory_gc else
                "advertises GC although its NTDS Settings do not make it a global catalog")
        out.append(Finding(NAME, "warning", host, what,
                           fix=f"repadmin /options {host}; repadmin /showrepl {host}; {_advertising(result, host)}"))
    if said.site.lower() != dc.directory_site.lower():
        out.append(Finding(
            NAME, "warning", host,
            f"says it is in site {said.site or '(none)'}, but its server object is in site {dc.directory_site}: "
            "clients are sent to it as if it were elsewhere",
            fix=f"nltest /server:{host} /dsgetsite; remove a SiteName value under "
            f"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Netlogon\\Parameters on {host}, then restart Netlogon",
        ))
    return out


def _domain_findings(result: LocatorResult) -> list[Finding]:
    answering = result.answering
    if not answering:
        return []  # every DC's own finding says it does not answer
    out: list[Finding] = []
    silent = [dc.host for dc in result.dcs if dc.advertisement is None]
    of = f"{len(answering)} of {len(result.dcs)} DCs answered"
    if not any(said.advertises(DsFlag.PDC) for _, said in answering):
        directory_pdc = next((dc.host for dc in result.dcs if dc.directory_pdc), None)
        why = ""
        if directory_pdc in silent:
            why = f"; {directory_pdc}, the PDC emulator in the directory, does not answer"
        out.append(Finding(
            NAME, "error", result.domain,
            f"no DC advertises the PDC emulator ({of}{why}): password changes, lockouts and the domain's "
            "time root have nowhere to go",
            fix="netdom query fsmo; bring that DC back, or if it is gone for good seize the role on a healthy DC: "
            "Move-ADDirectoryServerOperationMasterRole -Identity <DC> -OperationMasterRole PDCEmulator -Force",
        ))
    if not any(said.advertises(DsFlag.GC) for _, said in answering):
        out.append(Finding(
            NAME, "error", result.domain,
            f"no DC advertises a global catalog ({of}): logons that need universal group membership fail",
            fix="make a DC a global catalog: repadmin /options <DC> +IS_GC (or Sites and Services > NTDS Settings "
            "> Global Catalog), then repadmin /showrepl <DC> until it advertises GC",
        ))
    siteless = [(dc.host, said.local_address) for dc, said in answering if not said.client_site]
    if siteless:
        addresses = ", ".join(sorted({address for _, address in siteless}))
        out.append(Finding(
            NAME, "warning", result.domain,
            f"{', '.join(host for host, _ in siteless)} place this exporter's address {addresses} in no site "
            "(no subnet object covers it): clients of that subnet are sent to any DC, not a near one",
            fix=f"New-ADReplicationSubnet -Name '<the subnet of {addresses}, e.g. 10.1.2.0/24>' -Site '<its site>'",
        ))
    return out


def findings(result: LocatorResult) -> list[Finding]:
    out: list[Finding] = []
    for dc in result.dcs:
        if isinstance(dc.answer, PingFailure):
            out.append(Finding(
                NAME, "error", dc.host,
                f"does not answer the LDAP ping (UDP 389): {dc.answer.reason}; the DC locator of Windows "
                "clients cannot find or judge it",
                fix=f"nltest /dsgetdc:{result.domain} /server:{dc.host}; check that Netlogon runs on {dc.host} "
                f"and that UDP 389 from this host reaches it (PortQry -n {dc.host} -p udp -e 389)",
            ))
        else:
            out.extend(_dc_findings(result, dc, dc.answer))
    return out + _domain_findings(result)


def summary(result: LocatorResult) -> list[str]:
    roles = "  ".join(role for role, _ in ROLES)
    lines = [f"{'domain controller':<32} {'address':<16} {'rtt':>9}  {'site':<24} {roles}"]
    for dc in result.dcs:
        said = dc.answer
        if isinstance(said, PingFailure):
            lines.append(f"{dc.host:<32} no answer: {said.reason}")
            continue
        marks = "  ".join(f"{'x' if said.advertises(flag) else '-':<{len(role)}}" for role, flag in ROLES)
        rtt = f"{said.rtt * 1000:.1f} ms"
        lines.append(f"{dc.host:<32} {said.address:<16} {rtt:>9}  {said.site:<24} {marks}".rstrip())
    sites: dict[tuple[str, str], list[str]] = {}
    for dc, said in result.answering:
        sites.setdefault((said.local_address, said.client_site), []).append(dc.host)
    for (address, site), hosts in sorted(sites.items()):
        lines.append(f"this exporter's address {address} is in site {site or '(none)'}, as {', '.join(hosts)} say")
    return lines

"""The inventory check's findings and its DC table."""

from __future__ import annotations

from ...topology import DomainController, Inventory
from ..base import Finding
from .read import NAME


def findings(result: Inventory) -> list[Finding]:
    out: list[Finding] = []
    if result.topology_error:
        out.append(Finding(NAME, "error", result.domain, result.topology_error))
    for dc in result.domain_controllers:
        reach = result.reachability.get(dc.host)
        if reach is not None and not reach.up:
            out.append(
                Finding(
                    NAME,
                    "error",
                    dc.host,
                    f"does not answer LDAP: {reach.error}",
                    fix=f"check that Active Directory Domain Services runs on {dc.host} and that this host reaches "
                    "its LDAP port (Get-Service NTDS; Test-NetConnection -Port 636)",
                )
            )
        out += _replication_switched_off(dc)
    if result.domain_controllers and result.pdc is None:
        out.append(
            Finding(
                NAME,
                "warning",
                result.domain,
                "no current DC holds the PDC emulator role (fSMORoleOwner names a missing or deleted DC)",
                fix="netdom query fsmo; seize the role with Move-ADDirectoryServerOperationMasterRole -Force",
            )
        )
    return out


def _replication_switched_off(dc: DomainController) -> list[Finding]:
    out = []
    # /syncall without /P pulls into the DC from its partners; with /P it pushes from it to them.
    for direction, disabled, effect, sync in (
        ("inbound", dc.inbound_replication_disabled, "it takes no changes from any partner (passwords, SPNs, "
         "accounts made elsewhere), so its copy of every account ages", "/Aed"),
        ("outbound", dc.outbound_replication_disabled, "no partner gets the changes made on it, including "
         "passwords that computers change against it", "/AedP"),
    ):
        if disabled:
            option = f"DISABLE_{direction.upper()}_REPL"
            out.append(Finding(
                NAME, "error", dc.host,
                f"{direction} replication is switched off (nTDSDSA options {option}): {effect}; its links "
                "need not report any failure, they just stop moving",
                fix=f"repadmin /options {dc.host} -{option}; then repadmin /syncall {dc.host} {sync}",
            ))
    return out


def summary(result: Inventory) -> list[str]:
    """Lines describing what was found, for the report's header."""
    lines = []
    for dc in result.domain_controllers:
        roles = [r for r, on in (("PDC", dc.pdc), ("GC", dc.global_catalog), ("RODC", dc.read_only),
                                 ("NO-INBOUND-REPL", dc.inbound_replication_disabled),
                                 ("NO-OUTBOUND-REPL", dc.outbound_replication_disabled)) if on]
        reach = result.reachability.get(dc.host)
        state = "up" if reach is not None and reach.up else "DOWN"
        lines.append(f"{dc.host:<40} site {dc.site:<28} {','.join(roles) or '-':<20} {state}")
    return lines

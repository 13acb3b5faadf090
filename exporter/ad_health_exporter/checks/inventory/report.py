"""The inventory check's findings and its DC table."""

from __future__ import annotations

from ...topology import (
    Inventory,
)
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


def summary(result: Inventory) -> list[str]:
    """Lines describing what was found, for the report's header."""
    lines = []
    for dc in result.domain_controllers:
        roles = [r for r, on in (("PDC", dc.pdc), ("GC", dc.global_catalog), ("RODC", dc.read_only)) if on]
        reach = result.reachability.get(dc.host)
        state = "up" if reach is not None and reach.up else "DOWN"
        lines.append(f"{dc.host:<40} site {dc.site:<28} {','.join(roles) or '-':<12} {state}")
    return lines

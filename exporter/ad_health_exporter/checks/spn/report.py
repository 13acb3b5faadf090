"""The spn check's findings and summary, with the setspn commands that fix them."""

from __future__ import annotations

from ..base import Finding
from .index import NAME, SpnResult, account_matches


def _setspn_account(name: str) -> str:
    return name.rsplit("\\", 1)[-1] if "\\" in name else name


def findings(result: SpnResult) -> list[Finding]:
    out: list[Finding] = []
    for dup in result.duplicate_list:
        more = dup.holders - len(dup.accounts)
        shown = ", ".join(dup.accounts) + (f" and {more} more" if more > 0 else "")
        removes = "; ".join(f"setspn -D {dup.spn} {_setspn_account(a)}" for a in dup.accounts[1:])
        out.append(Finding(
            NAME, "error", dup.spn,
            f"held by {dup.holders} accounts: {shown} "
            "(the KDC cannot choose a key; clients get mutual-authentication failures)",
            fix=f"keep it on the account the service runs as and remove it from the others, e.g. {removes} "
                f"(find all with: setspn -X -F; setspn -Q {dup.spn})",
        ))
    if result.duplicates > len(result.duplicate_list):
        out.append(Finding(NAME, "error", result.domain,
                           f"{result.duplicates - len(result.duplicate_list)} more duplicated SPNs not listed "
                           f"(spn.duplicate_series_limit is {result.duplicate_limit})",
                           fix="setspn -X -F"))
    for e in result.expected:
        who = f"DC {e.domain_controller}" if e.domain_controller else "configured"
        if e.holders == 0:
            out.append(Finding(NAME, "error", e.spn, f"expected on {e.account} ({who}) but no account holds it",
                               fix=f"setspn -S {e.written or e.spn} {e.account}"))
        elif not e.on_account:
            out.append(Finding(NAME, "error", e.spn,
                               f"expected on {e.account} ({who}) but held by {', '.join(e.holder_names)}",
                               fix="; ".join(f"setspn -D {e.spn} {_setspn_account(h)}" for h in e.holder_names)
                               + f"; setspn -S {e.written or e.spn} {e.account}"))
        elif e.holders > 1:
            others = [h for h in e.holder_names if not account_matches(e.account, h)]
            out.append(Finding(NAME, "error", e.spn,
                               f"on {e.account} as expected, but also held by {', '.join(others)}",
                               fix="; ".join(f"setspn -D {e.spn} {_setspn_account(h)}" for h in others)))
    for miss in result.host_missing_list:
        out.append(Finding(NAME, "warning", miss.account,
                           f"enabled computer with dNSHostName {miss.dns_host_name} lacks HOST/{miss.dns_host_name}",
                           fix=f"setspn -S HOST/{miss.dns_host_name} {miss.account.rstrip('$')}"))
    if result.host_missing is not None and result.host_missing > len(result.host_missing_list):
        out.append(Finding(NAME, "warning", result.domain,
                           f"{result.host_missing - len(result.host_missing_list)} more computers lack their HOST/ SPN",
                           fix="list them with: Get-ADComputer -Filter * -Properties servicePrincipalName,dNSHostName"))
    for bad in result.malformed_list:
        out.append(Finding(NAME, "warning", bad.account, f"malformed SPN {bad.value!r}: {bad.reason}",
                           fix=f"setspn -D \"{bad.value}\" {_setspn_account(bad.account)}"))
    if result.malformed > len(result.malformed_list):
        out.append(Finding(NAME, "warning", result.domain,
                           f"{result.malformed - len(result.malformed_list)} more malformed SPN values not listed"))
    return out


def summary(result: SpnResult) -> list[str]:
    where = "global catalog" if result.scope == "forest" else "domain partition"
    lines = [
        f"read from {result.read_from} ({where}): {result.values} SPN values on {result.accounts} accounts, "
        f"{result.duplicates} duplicated, {result.malformed} malformed",
    ]
    if result.host_missing is not None:
        lines.append(f"enabled computers without HOST/<dNSHostName>: {result.host_missing}")
    missing = sum(1 for e in result.expected if not e.on_account)
    lines.append(f"expected SPNs: {len(result.expected)} checked, {missing} not on their account")
    return lines

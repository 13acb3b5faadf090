"""The accounts check's findings and summary, with the commands that reset a machine password or enable an account."""

from __future__ import annotations

from ..base import Finding
from .scan import DAY, NAME, AccountsResult, PasswordAge


def _age_text(age: PasswordAge, now: float) -> str:
    if age.unix is None:
        return {"must_change": "pwdLastSet 0 (must change)", "absent": "no pwdLastSet",
                "unreadable": "unreadable pwdLastSet"}.get(age.state, age.state)
    return f"machine password set {(now - age.unix) / DAY:.0f} days ago"


def _reset_fix(computer: str, server: str) -> str:
    return (f"on {computer}: Reset-ComputerMachinePassword -Server {server} -Credential (Get-Credential) "
            f"(or Test-ComputerSecureChannel -Repair); "
            f"if {computer} is retired: Disable-ADAccount -Identity '{computer}$'")


def findings(result: AccountsResult) -> list[Finding]:
    out: list[Finding] = []
    smallest = result.stale[0][0] if result.stale else None
    cutoff = result.checked_at - smallest * DAY if smallest is not None else None
    server = result.read_from
    watched_names = set()
    for w in result.watched:
        watched_names.add(w.computer)
        what = f"DC {w.domain_controller}'s computer account" if w.domain_controller else "watched computer account"
        if not w.present:
            fix = (f"restore the DC's computer object from the AD Recycle Bin, "
                   f"or demote and re-promote {w.domain_controller}"
                   if w.domain_controller else
                   f"on {w.computer}: Add-Computer -DomainName {result.domain} -Credential (Get-Credential) "
                   "-Force -Restart (re-join, which creates the account)")
            out.append(Finding(NAME, "error", w.computer, f"{what} {w.computer}$ does not exist", fix=fix))
            continue
        if not w.enabled:
            out.append(Finding(NAME, "error", w.computer, f"{what} {w.computer}$ is disabled",
                               fix=f"Enable-ADAccount -Identity '{w.computer}$'; then on {w.computer}: "
                                   f"Reset-ComputerMachinePassword -Server {server} -Credential (Get-Credential)"))
        elif cutoff is not None and w.password is not None and w.password.older_than(cutoff):
            out.append(Finding(NAME, "warning", w.computer,
                               f"{what} {w.computer}$: {_age_text(w.password, result.checked_at)} "
                               f"(older than {smallest} days; members change it every 30 days)",
                               fix=_reset_fix(w.computer, server)))
    listed = 0
    for stale in result.oldest:
        if stale.computer in watched_names:
            continue
        listed += 1
        out.append(Finding(NAME, "warning", stale.computer,
                           f"enabled computer account: {_age_text(stale.password, result.checked_at)} "
                           f"(older than {smallest} days)",
                           fix=_reset_fix(stale.computer, server)))
    if result.stale:
        total = result.stale[0][1]
        shown = listed + sum(1 for w in result.watched if w.present and w.enabled and w.password is not None
                             and cutoff is not None and w.password.older_than(cutoff))
        if total > shown:
            out.append(Finding(NAME, "warning", result.domain,
                               f"{total - shown} more enabled computer accounts have a machine password older than "
                               f"{smallest} days",
                               fix="list them: Get-ADComputer -Filter 'Enabled -eq $true' "
                                   "-Properties PasswordLastSet | "
                                   f"Where-Object PasswordLastSet -lt (Get-Date).AddDays(-{smallest})"))
    if result.krbtgt is None:
        out.append(Finding(NAME, "warning", result.domain, result.krbtgt_error or "krbtgt account not found"))
    return out


def summary(result: AccountsResult) -> list[str]:
    lines = [f"read from {result.read_from}: {result.enabled} enabled and {result.disabled} disabled computer accounts"]
    lines += [f"enabled with a machine password older than {d} days: {n}" for d, n in result.stale]
    if result.krbtgt is not None:
        lines.append(f"krbtgt: {_age_text(result.krbtgt, result.checked_at).replace('machine password', 'password')}")
    for w in result.watched:
        if not w.present:
            state = "MISSING"
        else:
            state = ("enabled" if w.enabled else "DISABLED") + (
                f", {_age_text(w.password, result.checked_at)}" if w.password is not None else "")
        lines.append(f"{w.computer + '$':<24} {state}")
    return lines

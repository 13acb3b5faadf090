"""The Kerberos check's findings and summary, with the commands that fix what a KDC hands out."""

from __future__ import annotations

from collections import defaultdict

from ..base import Finding
from .model import (
    ACCOUNT_REFUSALS,
    KDC_ERR_ETYPE_NOSUPP,
    KDC_ERR_S_PRINCIPAL_UNKNOWN,
    KRB_AP_ERR_SKEW,
    NAME,
    KdcProbe,
    KerberosResult,
    Target,
    describe_error,
    error_name,
)


def _kdc_findings(result: KerberosResult, dc: KdcProbe) -> list[Finding]:
    host = dc.host
    if dc.answered is None:
        return [Finding(NAME, "error", host, f"the Kerberos probe could not ask this DC's KDC: {dc.reason}")]
    if not dc.answered:
        return [Finding(
            NAME, "error", host,
            f"the KDC does not answer ({dc.reason}): clients that pick this DC get no Kerberos ticket, "
            "even where its LDAP answers",
            fix=f"sc.exe \\\\{host} query kdc; sc.exe \\\\{host} start kdc (Samba: 'server services' must "
            f"include kdc); Test-NetConnection {host} -Port 88",
        )]
    if dc.as_error is None:
        return []
    if dc.as_error == KRB_AP_ERR_SKEW:
        fix = f"w32tm /resync /computer:{host} /rediscover (see the time check)"
    elif dc.as_error in ACCOUNT_REFUSALS:
        fix = (f"Get-ADUser <monitoring account> -Server {host} -Properties Enabled,LockedOut,PasswordExpired; "
               "fix its password file or export its keytab again")
    else:
        fix = None
    return [Finding(NAME, "error", host, f"the KDC refuses a TGT to {result.principal}: "
                    f"{describe_error(dc.as_error)}", fix=fix)]


def _refusal(target: Target, code: int, refused: list[str], issued: list[str]) -> Finding:
    spn = target.spn
    if issued:
        message = (f"the KDC of {', '.join(refused)} refuses a ticket, while {', '.join(issued)} issues one: "
                   f"{describe_error(code)}")
    else:
        message = f"every KDC that answered refuses a ticket ({', '.join(refused)}): {describe_error(code)}"
    if code == KDC_ERR_S_PRINCIPAL_UNKNOWN and issued:
        # One DC knows the SPN, another does not: the change has not replicated there.
        fix = (f"repadmin /replsingleobj {refused[0]} {issued[0]} <DN of the account holding {spn}> "
               f"(setspn -Q {spn} names it); repadmin /showrepl {refused[0]}")
    elif code == KDC_ERR_S_PRINCIPAL_UNKNOWN:
        account = {"expected": target.subject, "watched_computer": f"{target.subject}$"}.get(target.source)
        add = f"setspn -S {spn} {account}" if account else f"setspn -S {spn} <the service's account>"
        fix = f"setspn -Q {spn} (no holder: {add}); setspn -X (two holders: remove one with setspn -D)"
    elif code == KDC_ERR_ETYPE_NOSUPP:
        fix = (f"setspn -Q {spn}; enable AES on that account (msDS-SupportedEncryptionTypes 0x18) "
               "and reset its password so it gets AES keys")
    else:
        fix = f"setspn -Q {spn}"
    return Finding(NAME, "error", spn, message, fix=fix)


def _divergence(spn: str, by_kvno: dict[int, list[str]]) -> Finding:
    newest = max(by_kvno)
    new_dc = by_kvno[newest][0]
    old = sorted(h for kvno, hosts in by_kvno.items() if kvno != newest for h in hosts)
    seen = "; ".join(f"kvno {k} from {', '.join(sorted(h))}" for k, h in sorted(by_kvno.items()))
    return Finding(
        NAME, "error", spn,
        f"the DCs hand out tickets under different key versions ({seen}): clients of {', '.join(old)} get "
        "tickets the service cannot decrypt (error 1397, KRB_AP_ERR_MODIFIED)",
        fix=f"repadmin /replsingleobj {old[0]} {new_dc} <DN of the account holding {spn}> "
        f"(setspn -Q {spn} names it); find why {old[0]} does not replicate (repadmin /showrepl {old[0]}); "
        "then klist purge on the clients that failed",
    )


def findings(result: KerberosResult) -> list[Finding]:
    if not result.enabled:
        return []
    out: list[Finding] = [Finding(NAME, "warning", result.domain, note) for note in result.notes]
    for dc in result.dcs:
        out += _kdc_findings(result, dc)
    refused: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    issued: dict[str, list[str]] = defaultdict(list)
    unasked: dict[str, list[str]] = defaultdict(list)
    for dc in result.dcs:
        for ticket in dc.tickets:
            key = ticket.spn.lower()
            if ticket.issued:
                issued[key].append(dc.host)
            elif ticket.kdc_error is not None:
                refused[key][ticket.kdc_error].append(dc.host)
            else:
                unasked[dc.host].append(f"{ticket.spn}: {ticket.reason}")
    for target in result.targets:
        for code, hosts in sorted(refused.get(target.label, {}).items()):
            out.append(_refusal(target, code, hosts, issued.get(target.label, [])))
    for spn, by_kvno in sorted(result.divergent().items()):
        out.append(_divergence(spn, by_kvno))
    for host, problems in unasked.items():
        out.append(Finding(NAME, "warning", host, f"{len(problems)} service ticket(s) got no KDC answer: "
                           + "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")))
    return out


# The ticket's enctype is the service account's choice: RC4 tickets are the ones worth cracking offline.
_ENCTYPES = {17: "aes128", 18: "aes256", 23: "rc4"}


def _cell(dc: KdcProbe, spn: str) -> str:
    ticket = next((t for t in dc.tickets if t.spn == spn), None)
    if ticket is None:
        return "-"
    if ticket.issued:
        kind = _ENCTYPES.get(ticket.etype, f"etype {ticket.etype}") if ticket.etype is not None else ""
        return f"kvno {ticket.kvno} {kind}".strip() if ticket.kvno is not None else f"issued {kind}".strip()
    if ticket.kdc_error is not None:
        return error_name(ticket.kdc_error)
    return "no answer"


def summary(result: KerberosResult) -> list[str]:
    if not result.enabled:
        return ["off (kerberos.enabled: false)"]
    lines = [f"as {result.principal} in {result.realm}",
             f"{'domain controller':<40} {'kdc':>10} {'AS exchange':>12} {'TGT':>26}"]
    for dc in result.dcs:
        state = {True: "answers", False: "no answer", None: "not asked"}[dc.answered]
        took = f"{dc.as_seconds * 1000:.0f} ms" if dc.as_seconds is not None else "-"
        tgt = "issued" if dc.tgt else error_name(dc.as_error) if dc.as_error is not None else "-"
        lines.append(f"{dc.host:<40} {state:>10} {took:>12} {tgt:>26}")
    if result.targets:
        width = max(len(t.spn) for t in result.targets)
        lines.append(f"{'spn':<{width}}  " + "  ".join(f"{dc.host:>28}" for dc in result.dcs))
        for target in result.targets:
            lines.append(f"{target.spn:<{width}}  " + "  ".join(f"{_cell(dc, target.spn):>28}" for dc in result.dcs))
    return lines

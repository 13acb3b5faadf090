"""The keys check's findings, with the repadmin commands that bring the new key to the DCs that lack
it, and its DC-by-account key version table."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from ...formats.errors import DecodeError
from ...formats.filetime import decode_filetime
from ..base import Finding
from .model import NAME, DomainWide, KeyReading, KeysResult, Verdict


def _when(filetime: int | None) -> str:
    if filetime is None:
        return "never set"
    try:
        unix = decode_filetime(filetime).unix_seconds
    except DecodeError:
        unix = None
    if unix is None:
        return "never set"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _copy(reading: KeyReading | None) -> str:
    if reading is None:
        return "does not have the account"
    kvno = f"key version {reading.key_version}" if reading.key_version is not None else "no key version"
    return f"{kvno}, password set {_when(reading.password_last_set)}"


def _fix(result: KeysResult, verdict: Verdict, dn: str) -> str:
    new = verdict.newest[0]
    source = result.dsa_guids.get(new, f"<objectGUID of {new}'s NTDS Settings>")
    steps = [f'repadmin /replsingleobj {old} {source} "{dn}"' for old in verdict.outdated]
    steps += [f"repadmin /syncall {old} /Aed" for old in verdict.outdated]
    olds = ", ".join(verdict.outdated)
    return ("; ".join(steps) + f"; then find why {olds} stopped taking changes from {new} "
            f"(repadmin /showrepl {verdict.outdated[0]}; repadmin /options {verdict.outdated[0]}); "
            "then klist purge on the clients that got tickets from it")


def findings(result: KeysResult) -> list[Finding]:
    out: list[Finding] = []
    for dc in result.dcs:
        if dc.error is not None:
            out.append(Finding(
                NAME, "warning", dc.host, f"key versions could not be read: {dc.error}; no comparison includes it",
                fix=f"check that {dc.host} runs and that this host reaches its LDAP port (Test-NetConnection "
                f"{dc.host} -Port 636)",
            ))
    copies = {dc.host: dc.readings for dc in result.dcs if dc.error is None}
    dns = {t.account: t.dn for t in result.targets}
    for verdict in result.verdicts:
        if not (verdict.comparable and verdict.divergent):
            continue
        held = "; ".join(f"{h} {_copy(copies[h].get(verdict.account))}" for h in verdict.newest + verdict.outdated)
        out.append(Finding(
            NAME, "error", verdict.account,
            f"the DCs disagree about its key ({', '.join(verdict.reasons)}): {held}. Clients that ask "
            f"{', '.join(verdict.outdated)} get tickets with the old key, which the service cannot decrypt "
            "(error 1397, \"the server's password is out of date at the domain controller\")",
            fix=_fix(result, verdict, dns.get(verdict.account, verdict.account)),
        ))
    if result.domain_wide is not None and result.domain_wide.divergent:
        out.append(_domain_wide_finding(result.domain, result.domain_wide))
    if result.unresolved:
        out.append(Finding(
            NAME, "info", result.domain,
            f"configured accounts that no DC has, so not compared: {', '.join(result.unresolved)} (the accounts "
            "and spn checks report them missing)",
        ))
    return out


def _domain_wide_finding(domain: str, wide: DomainWide) -> Finding:
    behind = Counter(h for d in wide.examples for h, _ in d.others)
    lagging = ", ".join(h for h, _ in behind.most_common(3))
    shown = "; ".join(
        f"{d.account} set {_when(d.newest)} on {', '.join(d.newest_on)}, older on "
        + ", ".join(f"{h}" + (f" ({_when(v)})" if v is not None else "") for h, v in d.others)
        for d in wide.examples[:5]
    )
    return Finding(
        NAME, "warning", domain,
        f"{wide.divergent} enabled computer accounts have a password that differs between DCs, of {wide.changed} "
        f"changed in the last {_span(wide.look_back)} on {', '.join(wide.compared)} (e.g. {shown}). Changes "
        "still replicating count too: a count that outlasts a replication interval is the 1397 condition",
        fix=f"repadmin /showrepl {lagging}; repadmin /options {lagging}; repadmin /syncall {lagging} /Aed",
    )


def summary(result: KeysResult) -> list[str]:
    hosts = [dc.host for dc in result.dcs]
    width = max([len("account")] + [len(t.account) for t in result.targets]) + 2
    lines = [f"{'account':<{width}}" + "".join(f"{h:>{max(len(h), 8) + 2}}" for h in hosts) + "  agree"]
    by_host = {dc.host: dc for dc in result.dcs}
    verdicts = {v.account: v for v in result.verdicts}
    for target in result.targets:
        cells = []
        for h in hosts:
            dc = by_host[h]
            reading = dc.readings.get(target.account)
            text = "?" if dc.error else "-" if reading is None else str(reading.key_version)
            cells.append(f"{text:>{max(len(h), 8) + 2}}")
        verdict = verdicts.get(target.account)
        agree = "n/a" if verdict is None or not verdict.comparable else "NO" if verdict.divergent else "yes"
        lines.append(f"{target.account:<{width}}" + "".join(cells) + f"  {agree}")
    wide = result.domain_wide
    if wide is not None:
        lines.append(f"domain-wide: {wide.divergent} of {wide.changed} enabled computers whose password changed in "
                     f"the last {_span(wide.look_back)} differ between {', '.join(wide.compared)}")
    return lines

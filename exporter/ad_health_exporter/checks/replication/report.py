"""The replication check's findings and the repadmin /replsummary table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ...formats.winerror import describe as describe_result
from ..base import Finding
from .read import NAME, Link, ReplicationResult

# What an admin should look at first, by result code.
_HINTS: dict[int, str] = {}
for _codes, _hint in (
    ((1722, 1753, 1727, 1726, 1818),
     "the source's RPC endpoint does not answer: is the DC up, and are TCP 135 and the RPC ports open?"),
    ((64, 121, 1225, 1231, 1232, 1236, 1256, 1460, 0xC000020C, 0xC0000236, 0xC000023C, 0xC000023D),
     "the source cannot be reached over the network: is it up?"),
    ((1398, 0x80090324, 0xC0000133), "the DCs' clocks differ too much: see the time check (w32tm /resync)"),
    ((1326, 0xC000006D, 0x8009030C),
     "logon failed: often a clock skew, or the source's machine password differs between the DCs"),
    ((1396, 0x80090322, 0x80090303),
     "the source's SPN is missing or held by another account: see the spn check (setspn -X)"),
    ((1397, 0xC00002C3), "mutual authentication failed: the source's machine password is out of date on this DC"),
    ((8524,),
     "the source's <DSA GUID>._msdcs CNAME does not resolve: see the dns check (nltest /dsregdns on the source)"),
    ((5, 8453), "access denied: check the DCs' computer accounts and the replication permissions on the NC"),
    ((8614,),
     "the destination has not replicated for longer than the tombstone lifetime: it must be rebuilt or cleaned"),
    ((8606,), "lingering objects: repadmin /removelingeringobjects"),
    ((8456, 8457),
     "replication is disabled on a DC: repadmin /options <dc> -DISABLE_INBOUND_REPL -DISABLE_OUTBOUND_REPL"),
):
    for _code in _codes:
        _HINTS[_code] = _hint


def _when(unix: int | None) -> str:
    if unix is None:
        return "never"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def findings(result: ReplicationResult) -> list[Finding]:
    out: list[Finding] = []
    for state in result.dcs:
        if state.error is not None:
            out.append(
                Finding(
                    NAME,
                    "error",
                    state.host,
                    f"replication status could not be read: {state.error}",
                    fix=f"repadmin /showrepl {state.host}",
                )
            )
        for problem in state.unreadable:
            out.append(
                Finding(
                    NAME,
                    "error",
                    state.host,
                    f"cannot read: {problem}",
                    fix='dsacls "<naming context>" /G "<exporter account>:CA;Monitor Active Directory Replication" '
                    "on every naming context",
                )
            )
        for link in state.links:
            if not link.source_is_dc:
                out.append(
                    Finding(
                        NAME,
                        "error" if link.failing else "warning",
                        f"{state.host} <- {link.source}",
                        f"pulls {link.naming_context} from DSA {link.source_dsa_guid}, which is no current DC "
                        "(removed without metadata cleanup?)",
                        fix='clean up the removed DC\'s metadata (ntdsutil "metadata cleanup"), '
                        f"then repadmin /kcc {state.host}",
                    )
                )
                continue
            if not link.failing:
                continue
            code = describe_result(link.last_result)
            hint = _HINTS.get(link.last_result)
            out.append(
                Finding(
                    NAME,
                    "error",
                    f"{state.host} <- {link.source}",
                    f"{link.naming_context}: {link.consecutive_failures} consecutive failure(s), last result {code}; "
                    f"last success {_when(link.last_success)}" + (f". {hint}" if hint else ""),
                    fix=f'repadmin /replicate {state.host} {link.source} "{link.naming_context}"',
                )
            )
    return out


# --- the repadmin /replsummary table ---------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    dc: str
    largest_delta: float | None  # seconds; None = some link never succeeded
    never: bool
    fails: int
    total: int
    error: str | None  # the most recent failing result, named

    def line(self) -> str:
        delta = "never" if self.never else fmt_delta(self.largest_delta)
        pct = f"{100 * self.fails // self.total}" if self.total else "-"
        tail = f"  {self.error}" if self.error else ""
        return f" {self.dc:<40} {delta:>14} {self.fails:>5} / {self.total:<5} {pct:>3}{tail}"


def fmt_delta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds > 60 * 86400:
        return ">60 days"
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d.{hours:02d}h:{minutes:02d}m:{s:02d}s"
    return f"{hours:02d}h:{minutes:02d}m:{s:02d}s"


def _rows(pairs: list[tuple[str, Link, float | None]]) -> list[SummaryRow]:
    grouped: dict[str, list[tuple[Link, float | None]]] = {}
    for key, link, now in pairs:
        grouped.setdefault(key, []).append((link, now))
    rows = []
    for key in sorted(grouped):
        items = grouped[key]
        deltas = [now - link.last_success for link, now in items if link.last_success is not None and now is not None]
        failing = [link for link, _ in items if link.failing]
        latest = max(failing, key=lambda failed: failed.last_attempt or 0, default=None)
        error = None
        if latest is not None:
            error = f"({latest.last_result}) {describe_result(latest.last_result).name}"
        rows.append(
            SummaryRow(
                dc=key,
                largest_delta=max(deltas) if deltas else None,
                never=any(link.last_success is None for link, _ in items),
                fails=len(failing),
                total=len(items),
                error=error,
            )
        )
    return rows


def summary(result: ReplicationResult) -> list[str]:
    """Both halves of ``repadmin /replsummary``: by source DC and by destination DC."""
    header = f" {'':<40} {'largest delta':>14} {'fails/total':^13} {'%':>3}  error"
    pairs_by_source = [(link.source, link, s.now) for s in result.dcs for link in s.links]
    pairs_by_dest = [(s.host, link, s.now) for s in result.dcs for link in s.links]
    lines = ["Source DC" + header[9:]]
    lines += [r.line() for r in _rows(pairs_by_source)]
    lines.append("")
    lines.append("Destination DC" + header[14:])
    lines += [r.line() for r in _rows(pairs_by_dest)]
    for state in result.dcs:
        if state.error is not None:
            lines.append(f" {state.host:<40} {'cannot read':>14}  {state.error}")
    return lines

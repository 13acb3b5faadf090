"""The time check's findings and summary, with the ``w32tm`` commands that fix a clock."""

from __future__ import annotations

from ..base import Finding
from .probe import (
    NAME,
    SOURCES_AGREE_WITHIN,
    DcClock,
    LdapProbe,
    LdapTimeReading,
    NtpProbe,
    NtpReading,
    ProbeFailure,
    TimeResult,
)


def _resync(dc: DcClock) -> str:
    resync = f"w32tm /resync /computer:{dc.host} /rediscover"
    if dc.pdc:
        # The PDC emulator is the domain's time root: it must follow a reliable outside source.
        return (
            f'w32tm /config /computer:{dc.host} /manualpeerlist:"<your NTP servers>" /syncfromflags:manual '
            f"/reliable:yes /update; then {resync}"
        )
    return f"w32tm /config /computer:{dc.host} /syncfromflags:domhier /update; then {resync}"


def findings(result: TimeResult) -> list[Finding]:
    out: list[Finding] = []
    for dc in result.dcs:
        failures = [p for p in (dc.ntp, dc.ldap) if isinstance(p, ProbeFailure)]
        if not dc.readable:
            out.append(
                Finding(
                    NAME,
                    "error",
                    dc.host,
                    "the clock could not be read: " + "; ".join(f.reason for f in failures),
                    fix=f"check that {dc.host} runs and that this host reaches its LDAP port and UDP 123 "
                    f"(w32tm /query /computer:{dc.host} /status)",
                )
            )
            continue
        for failure in failures:
            out.append(
                Finding(
                    NAME,
                    "warning",
                    dc.host,
                    f"one time source does not answer: {failure.reason}",
                    fix=f"w32tm /query /computer:{dc.host} /status; allow UDP 123 from this host to {dc.host}"
                    if failure is dc.ntp
                    else f"check LDAP to {dc.host} (Test-NetConnection {dc.host} -Port 636)",
                )
            )
        if isinstance(dc.ntp, NtpReading) and not dc.ntp.synchronised:
            out.append(
                Finding(
                    NAME,
                    "warning",
                    dc.host,
                    f"answers NTP as unsynchronised (leap {dc.ntp.leap}, stratum {dc.ntp.stratum}): its time "
                    "service has no usable source, so its NTP offset is not trusted",
                    fix=_resync(dc),
                )
            )
        offset = dc.offset
        if offset is not None and abs(offset) >= result.warning_offset:
            beyond = abs(offset) >= result.error_offset
            out.append(
                Finding(
                    NAME,
                    "error" if beyond else "warning",
                    dc.host,
                    f"clock is {offset:+.1f} s off the exporter's"
                    + (" (Kerberos refuses tickets beyond its 5-minute tolerance: KRB_AP_ERR_SKEW)" if beyond else ""),
                    fix=_resync(dc),
                )
            )
        if isinstance(dc.ntp, NtpReading) and isinstance(dc.ldap, LdapTimeReading):
            gap = dc.ntp.offset - dc.ldap.offset
            if abs(gap) > SOURCES_AGREE_WITHIN + dc.ldap.rtt:
                out.append(
                    Finding(
                        NAME,
                        "warning",
                        dc.host,
                        f"NTP says {dc.ntp.offset:+.1f} s but LDAP currentTime says {dc.ldap.offset:+.1f} s: "
                        f"the NTP answer from {dc.ntp.address} does not come from the DC's own clock",
                        fix=f"w32tm /query /computer:{dc.host} /configuration (is another host answering on UDP 123?)",
                    )
                )
    return out


def _fmt_offset(probe: NtpProbe | LdapProbe | None) -> str:
    if probe is None:
        return "off"
    if isinstance(probe, ProbeFailure):
        return "no answer"
    return f"{probe.offset:+.3f} s"


def summary(result: TimeResult) -> list[str]:
    lines = [f"{'domain controller':<40} {'ntp offset':>14} {'stratum':>7} {'leap':>4} {'ldap offset':>14}"]
    for dc in result.dcs:
        stratum = leap = "-"
        if isinstance(dc.ntp, NtpReading):
            stratum, leap = str(dc.ntp.stratum), str(dc.ntp.leap)
        lines.append(f"{dc.host:<40} {_fmt_offset(dc.ntp):>14} {stratum:>7} {leap:>4} {_fmt_offset(dc.ldap):>14}")
    return lines

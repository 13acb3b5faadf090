"""Series of the time check."""

from __future__ import annotations

from collections.abc import Iterator

from ... import metrics as m
from ...metrics import Series
from .probe import NAME, LdapTimeReading, NtpReading, TimeResult


def series(domain: str, result: TimeResult) -> Iterator[Series]:
    for dc in result.dcs:
        yield Series(m.DC_CHECK_SUCCESS, (domain, dc.host, NAME), 1.0 if dc.readable else 0.0)
        for source, probe in (("ntp", dc.ntp), ("ldap", dc.ldap)):
            if probe is None:  # turned off in the configuration: no series at all
                continue
            if not isinstance(probe, (NtpReading, LdapTimeReading)):
                # Only an answer has an offset: a failed probe must never read as "0 s off".
                yield Series(m.TIME_PROBE_SUCCESS, (domain, dc.host, source), 0.0)
                continue
            yield Series(m.TIME_PROBE_SUCCESS, (domain, dc.host, source), 1.0)
            yield Series(m.TIME_OFFSET, (domain, dc.host, source), probe.offset)
            yield Series(m.TIME_PROBE_RTT, (domain, dc.host, source), probe.rtt)
        if isinstance(dc.ntp, NtpReading):
            yield Series(m.NTP_STRATUM, (domain, dc.host), float(dc.ntp.stratum))
            yield Series(m.NTP_LEAP, (domain, dc.host), float(dc.ntp.leap))

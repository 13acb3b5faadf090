"""Time check: each DC's clock against the exporter's, read two independent ways.

- NTP (UDP 123): one plain 48-byte mode-3 request, as ``w32tm /stripchart`` or any SNTP
  client sends; Windows DCs answer it (MS-SNTP). Precise to a few milliseconds, and says
  whether the DC itself is synchronised (leap indicator, stratum).
- LDAP: the rootDSE ``currentTime`` (whole seconds), corrected by the round trip. It works
  where UDP 123 is filtered, and it is the clock the KDC on that DC actually uses.

Both are reported side by side; a probe that fails is a failure, never a 0 offset.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import ntplib

from ...formats.errors import DecodeError
from ...formats.filetime import parse_generalized_time
from ...ldap import LdapError
from ...ldap.resolver import ResolveError
from ...topology import Inventory
from ..base import CheckContext, CheckFailed, for_each_dc
from .settings import TimeSettings

NAME = "time"
log = logging.getLogger(__name__)

NTP_PORT = 123
_NTP_VERSION = 3
_NTP_MODE_SERVER = 4
_LEAP_UNSYNCHRONISED = 3
_STRATUM_UNSYNCHRONISED = 16
# Beyond this the two sources cannot both be reading the DC's clock: LDAP's own error is
# at most RTT/2 + 1 s (currentTime has whole seconds).
SOURCES_AGREE_WITHIN = 2.0
_WHOLE_SECONDS = re.compile(r"^[0-9]{14}(?:[.,]0*)?Z$")


@dataclass(frozen=True)
class ProbeFailure:
    reason: str


@dataclass(frozen=True)
class NtpReading:
    offset: float  # DC clock minus exporter clock, seconds
    rtt: float
    stratum: int
    leap: int
    address: str

    @property
    def synchronised(self) -> bool:
        # Stratum 0 is "unspecified" (or a kiss-o'-death), 16 and above "unsynchronised".
        return self.leap != _LEAP_UNSYNCHRONISED and 0 < self.stratum < _STRATUM_UNSYNCHRONISED


@dataclass(frozen=True)
class LdapTimeReading:
    offset: float
    rtt: float
    current_time: str  # as the DC sent it
    address: str


NtpProbe = NtpReading | ProbeFailure
LdapProbe = LdapTimeReading | ProbeFailure


@dataclass(frozen=True)
class DcClock:
    host: str
    pdc: bool
    ntp: NtpProbe | None  # None: the source is turned off in the configuration
    ldap: LdapProbe | None

    @property
    def readable(self) -> bool:
        return isinstance(self.ntp, NtpReading) or isinstance(self.ldap, LdapTimeReading)

    @property
    def offset(self) -> float | None:
        """The best estimate of the DC's offset, or None if no usable source answered.

        A synchronised NTP answer is the precise one. An unsynchronised NTP answer (leap 3,
        stratum 0 or 16+) is shown but never used here: its time may be anything.
        """
        if isinstance(self.ntp, NtpReading) and self.ntp.synchronised:
            return self.ntp.offset
        if isinstance(self.ldap, LdapTimeReading):
            return self.ldap.offset
        return None


@dataclass(frozen=True)
class TimeResult:
    domain: str
    dcs: tuple[DcClock, ...]
    warning_offset: float
    error_offset: float


# --- pure helpers ----------------------------------------------------------------------------


def ldap_offset(current_time: str, sent: float, received: float) -> float:
    """DC time minus local time, taking the local time as the midpoint of the request.

    ``currentTime`` is truncated to whole seconds: the DC's real time lies anywhere in
    [t, t+1), so half a second is added to centre the estimate. Raises DecodeError.
    """
    dc_seconds = parse_generalized_time(current_time).timestamp()
    if _WHOLE_SECONDS.match(current_time):
        dc_seconds += 0.5
    return dc_seconds - (sent + received) / 2


def ntp_reading(stats: ntplib.NTPStats, address: str) -> NtpProbe:
    """Check an NTP answer and turn it into a reading (or a failure saying what is wrong)."""
    if stats.mode != _NTP_MODE_SERVER:
        return ProbeFailure(f"{address}:{NTP_PORT} answered in NTP mode {stats.mode}, not as a server (4)")
    if stats.tx_timestamp == 0:
        # A kiss-o'-death or a server without any time: no clock reading to compare.
        return ProbeFailure(f"{address}:{NTP_PORT} answered without a transmit time (stratum {stats.stratum})")
    return NtpReading(offset=stats.offset, rtt=stats.delay, stratum=stats.stratum, leap=stats.leap, address=address)


def _budget(ctx: CheckContext[TimeSettings], addresses: int) -> float:
    ldap = ctx.domain.ldap
    cfg = ctx.settings
    estimate = (cfg.ntp_timeout if cfg.ntp else 0) * addresses + (
        (ldap.connect_timeout * addresses + ldap.receive_timeout) if cfg.ldap else 0
    ) + 1
    # Finish before the scheduler's hard limit so the answering DCs are still reported.
    return min(estimate, ctx.timeout * 0.9)


# --- probes ----------------------------------------------------------------------------------


def _probe_ldap(ctx: CheckContext[TimeSettings], host: str, clock: Callable[[], float]) -> LdapProbe:
    try:
        # Anonymous: the rootDSE needs no bind, and the timing should not include one.
        with ctx.directory.connect(host, bind=False) as conn:
            sent = clock()
            root = conn.root_dse(("currentTime",))
            received = clock()
            address = conn.address
    except LdapError as exc:
        return ProbeFailure(f"LDAP: {exc.reason}")
    if not root.current_time:
        return ProbeFailure("LDAP: the rootDSE has no currentTime")
    try:
        offset = ldap_offset(root.current_time, sent, received)
    except DecodeError as exc:
        return ProbeFailure(f"LDAP: currentTime {root.current_time[:40]!r}: {exc.problem}")
    return LdapTimeReading(offset=offset, rtt=received - sent, current_time=root.current_time, address=address)


def _probe_ntp(addresses: tuple[str, ...], timeout: float) -> NtpProbe:
    client = ntplib.NTPClient()
    errors: list[str] = []
    for address in addresses:
        try:
            stats = client.request(address, version=_NTP_VERSION, port=NTP_PORT, timeout=timeout)
        except ntplib.NTPException:
            errors.append(f"{address}:{NTP_PORT}: no valid answer within {timeout:g}s")
            continue
        except OSError as exc:
            errors.append(f"{address}:{NTP_PORT}: {(exc.strerror or str(exc)).lower()}")
            continue
        return ntp_reading(stats, address)
    return ProbeFailure("NTP: " + ("; ".join(errors) or "no address to ask"))


def _ntp_addresses(
    ctx: CheckContext[TimeSettings], inventory: Inventory, host: str, ldap: LdapProbe | None
) -> tuple[str, ...]:
    """The address LDAP just answered on first, then the inventory's, then every DNS address."""
    known: list[str] = []
    if isinstance(ldap, LdapTimeReading):
        known.append(ldap.address)
    reach = inventory.reachability.get(host)
    if reach is not None and reach.address:
        known.append(reach.address)
    try:
        known += ctx.directory.resolver.addresses(host)
    except ResolveError as exc:
        if not known:
            raise _NoAddress(str(exc)) from None
    return tuple(dict.fromkeys(known))


class _NoAddress(Exception):
    pass


def run(ctx: CheckContext[TimeSettings]) -> TimeResult:
    inventory = ctx.require_inventory()
    cfg = ctx.settings
    clock = ctx.clock
    dcs = {dc.host: dc for dc in inventory.domain_controllers}

    def measure(host: str) -> DcClock:
        ldap = _probe_ldap(ctx, host, clock) if cfg.ldap else None
        ntp: NtpProbe | None = None
        if cfg.ntp:
            try:
                ntp = _probe_ntp(_ntp_addresses(ctx, inventory, host, ldap), cfg.ntp_timeout)
            except _NoAddress as exc:
                ntp = ProbeFailure(f"NTP: cannot resolve {host}: {exc}")
        return DcClock(host=host, pdc=dcs[host].pdc, ntp=ntp, ldap=ldap)

    outcome = for_each_dc(dcs, measure, timeout=_budget(ctx, 2))
    readings: list[DcClock] = []
    for host, (value, error) in outcome.items():
        if value is None:
            failure = ProbeFailure(error or "no answer")
            value = DcClock(
                host=host,
                pdc=dcs[host].pdc,
                ntp=failure if cfg.ntp else None,
                ldap=failure if cfg.ldap else None,
            )
        readings.append(value)
        _log(ctx.domain.name, value)
    result = TimeResult(
        domain=ctx.domain.name,
        dcs=tuple(readings),
        warning_offset=cfg.warning_offset,
        error_offset=cfg.error_offset,
    )
    if readings and not any(r.readable for r in readings):
        raise CheckFailed(f"no DC's clock could be read ({len(readings)} tried)", result)
    return result


def _log(domain: str, dc: DcClock) -> None:
    for source, probe in (("ntp", dc.ntp), ("ldap", dc.ldap)):
        if isinstance(probe, ProbeFailure):
            log.debug("time probe failed",
                      extra={"domain": domain, "domain_controller": dc.host, "source": source, "reason": probe.reason})
    if isinstance(dc.ntp, NtpReading) and not dc.ntp.synchronised:
        log.debug(
            "domain controller answers NTP as unsynchronised",
            extra={"domain": domain, "domain_controller": dc.host, "stratum": dc.ntp.stratum, "leap": dc.ntp.leap},
        )

"""Time check: both sources against a local NTP responder and a fake rootDSE, metrics, report, config."""

from __future__ import annotations

import socket
import struct
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ntplib
import pytest

from ad_health_exporter import config
from ad_health_exporter import metrics as m
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.checks.base import CheckContext, CheckFailed
from ad_health_exporter.checks.time import probe as clock
from ad_health_exporter.checks.time import report as clock_report
from ad_health_exporter.checks.time import series as clock_samples
from ad_health_exporter.checks.time.settings import TimeSettings
from ad_health_exporter.config import ConfigError
from ad_health_exporter.formats.filetime import format_generalized_time
from ad_health_exporter.ldap import LdapError, RootDSE
from support.builders import context, dc, inventory
from support.directory import FakeDc, FakeDirectory, Fault, root_dse
from support.resolver import DnsAnswers, StaticResolver

NTP_EPOCH_DELTA = 2_208_988_800


# --- pure parts ---------------------------------------------------------------------------------


def test_ldap_offset_uses_the_midpoint_and_centres_whole_seconds() -> None:
    # currentTime 100 s after the epoch, truncated: the DC's time was somewhere in [100, 101).
    assert clock.ldap_offset("19700101000140.0Z", 100.2, 100.4) == pytest.approx(0.2)
    assert clock.ldap_offset("19700101000140Z", 100.2, 100.4) == pytest.approx(0.2)
    # A real fraction is taken as it is.
    assert clock.ldap_offset("19700101000140.25Z", 100.2, 100.4) == pytest.approx(-0.05)
    # Skewed DC: +420 s.
    assert clock.ldap_offset("19700101000840.0Z", 100.0, 100.0) == pytest.approx(420.5)


def test_ldap_offset_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        clock.ldap_offset("yesterday", 0, 0)


def stats(*, mode: int = 4, stratum: int = 3, leap: int = 0, offset: float = 0.0) -> ntplib.NTPStats:
    s = ntplib.NTPStats()
    s.mode, s.stratum, s.leap = mode, stratum, leap
    s.orig_timestamp = 1000.0
    s.dest_timestamp = 1000.2
    s.recv_timestamp = 1000.1 + offset
    s.tx_timestamp = 1000.1 + offset if offset or stratum else 0
    return s


def test_ntp_reading_checks_mode_and_transmit_time() -> None:
    good = clock.ntp_reading(stats(offset=420.0), "10.0.0.12")
    assert isinstance(good, clock.NtpReading)
    assert good.offset == pytest.approx(420.0) and good.rtt == pytest.approx(0.2) and good.synchronised
    wrong_mode = clock.ntp_reading(stats(mode=3), "10.0.0.12")
    assert isinstance(wrong_mode, clock.ProbeFailure) and "mode 3" in wrong_mode.reason
    kiss = clock.ntp_reading(stats(stratum=0), "10.0.0.12")
    assert isinstance(kiss, clock.ProbeFailure) and "transmit time" in kiss.reason


@pytest.mark.parametrize(
    "stratum, leap, synced", [(8, 0, True), (1, 1, True), (8, 3, False), (16, 0, False), (0, 0, False)]
)
def test_synchronised(stratum: int, leap: int, synced: bool) -> None:
    assert clock.NtpReading(0.0, 0.0, stratum, leap, "a").synchronised is synced


def test_unsynchronised_ntp_is_reported_but_not_used_for_the_offset() -> None:
    ntp = clock.NtpReading(offset=-3600.0, rtt=0.001, stratum=16, leap=3, address="a")
    ldap = clock.LdapTimeReading(offset=0.4, rtt=0.01, current_time="x", address="a")
    dc = clock.DcClock("dc1.lab.example", pdc=False, ntp=ntp, ldap=ldap)
    assert dc.offset == 0.4
    synced = clock.DcClock("dc1.lab.example", pdc=False, ntp=clock.NtpReading(0.01, 0.001, 4, 0, "a"), ldap=ldap)
    assert synced.offset == 0.01
    alone = clock.DcClock("dc1.lab.example", pdc=False, ntp=ntp, ldap=clock.ProbeFailure("LDAP: refused"))
    assert alone.offset is None and alone.readable
    result = clock.TimeResult("lab.example", (dc,), 30.0, 240.0)
    messages = [f.message for f in clock_report.findings(result)]
    assert any("unsynchronised (leap 3, stratum 16)" in msg for msg in messages)
    assert not any("off the exporter's" in msg for msg in messages)  # 0.4 s is fine; -3600 s is not trusted
    # The series still show what the DC answered.
    values = {
        (s.metric.name, s.labels[2] if len(s.labels) > 2 else ""): s.value
        for s in clock_samples.series("lab.example", result)
    }
    assert values[("ad_domain_controller_ntp_leap", "")] == 3 and values[("ad_domain_controller_ntp_stratum", "")] == 16


# --- the whole check against a real UDP responder -----------------------------------------------


class NtpResponder:
    """Answers 48-byte mode-3 requests on 127.0.0.1 the way a (possibly skewed) server does."""

    def __init__(self, skew: float = 0.0, stratum: int = 8, leap: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.skew, self.stratum, self.leap = skew, stratum, leap
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _ntp(t: float) -> bytes:
        t += NTP_EPOCH_DELTA
        return struct.pack("!II", int(t), int((t % 1) * 2**32))

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.requests.append(data)
            now = time.time() + self.skew
            first = (self.leap << 6) | (3 << 3) | 4
            reply = struct.pack("!BBbb", first, self.stratum, 6, -20) + bytes(8) + b"LOCL"
            reply += self._ntp(now) + data[40:48] + self._ntp(now) + self._ntp(now)
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def clock_dc(skew: float) -> FakeDc:
    """A DC whose clock is ``skew`` seconds off; its rootDSE tells the time when it is read."""

    def now() -> RootDSE:
        when = datetime.now(UTC) + timedelta(seconds=skew)
        return root_dse(currentTime=format_generalized_time(when.replace(microsecond=0)))  # whole seconds, like AD

    return FakeDc(root=now)


def clocks(dcs: dict[str, FakeDc], faults: dict[str, Fault] | None = None) -> FakeDirectory:
    """Every DC's name resolves to 127.0.0.1, where the test's NTP responder listens."""
    faults = faults or {}
    resolver = StaticResolver(DnsAnswers(addresses={h: ("127.0.0.1",) for h in [*dcs, *faults]}))
    return FakeDirectory(dcs, faults, resolver)


def time_context(directory: FakeDirectory, time_cfg: TimeSettings | None = None,
                 interval: float = 60.0) -> CheckContext[TimeSettings]:
    hosts = list(dict.fromkeys([*directory.dcs, *directory.faults]))  # the first is the PDC
    inv = inventory(*(dc(h, pdc=i == 0) for i, h in enumerate(hosts)), addresses="127.0.0.1")
    return context(time_cfg or TimeSettings(), directory, inventory=inv, interval=interval)


@pytest.fixture
def responders(monkeypatch):
    made: list[NtpResponder] = []

    def make(**kw) -> NtpResponder:
        r = NtpResponder(**kw)
        made.append(r)
        monkeypatch.setattr(clock, "NTP_PORT", r.port)
        return r

    yield make
    for r in made:
        r.close()


def test_both_sources_see_a_skewed_dc(responders) -> None:
    ntp = responders(skew=420.0)
    directory = clocks({"dc2.lab.example": clock_dc(420.0)})
    result = clock.run(time_context(directory))
    (dc2,) = result.dcs
    assert isinstance(dc2.ntp, clock.NtpReading) and dc2.ntp.offset == pytest.approx(420.0, abs=0.05)
    assert isinstance(dc2.ldap, clock.LdapTimeReading) and dc2.ldap.offset == pytest.approx(420.0, abs=0.6)
    assert len(ntp.requests[0]) == 48 and ntp.requests[0][0] & 0x07 == 3  # plain mode-3 client request
    # Anonymous: the rootDSE needs no bind, and a bind would only add to the measured round trip.
    assert directory.connects[0].bind is False
    series = {
        (s.metric.name, s.labels[2]): s.value for s in clock_samples.series("lab.example", result) if len(s.labels) == 3
    }
    assert series[("ad_domain_controller_time_offset_seconds", "ntp")] == pytest.approx(420.0, abs=0.05)
    assert series[("ad_domain_controller_time_probe_success", "ldap")] == 1.0
    assert series[("ad_domain_controller_check_success", "time")] == 1.0
    (finding,) = [f for f in clock_report.findings(result) if "off the exporter's" in f.message]
    assert finding.severity == "error" and "KRB_AP_ERR_SKEW" in finding.message
    assert finding.fix is not None
    assert finding.fix.startswith("w32tm /config /computer:dc2.lab.example /manualpeerlist:")  # the PDC here
    assert "w32tm /resync /computer:dc2.lab.example /rediscover" in finding.fix


def test_a_failed_probe_is_never_a_zero_offset(responders) -> None:
    ntp = responders()
    ntp.close()  # nothing listens: the NTP request times out
    ctx = time_context(
        clocks({}, {"dc1.lab.example": LdapError("dc1.lab.example", "10.0.0.11:636: connection refused")}),
        TimeSettings(ntp_timeout=0.2),
    )
    with pytest.raises(CheckFailed) as info:
        clock.run(ctx)
    result = info.value.partial
    assert isinstance(result, clock.TimeResult)
    series = [s for s in clock_samples.series("lab.example", result)]
    assert not [s for s in series if s.metric is m.TIME_OFFSET or s.metric is m.TIME_PROBE_RTT]
    success = {s.labels[2]: s.value for s in series if s.metric is m.TIME_PROBE_SUCCESS}
    assert success == {"ntp": 0.0, "ldap": 0.0}
    assert [s.value for s in series if s.metric is m.DC_CHECK_SUCCESS] == [0.0]
    (finding,) = clock_report.findings(result)
    assert finding.severity == "error" and "connection refused" in finding.message and "NTP" in finding.message


def test_ldap_alone_still_reads_the_clock_where_udp_123_is_blocked(responders) -> None:
    ntp = responders()
    ntp.close()
    result = clock.run(time_context(clocks({"dc1.lab.example": clock_dc(0.0)}), TimeSettings(ntp_timeout=0.2)))
    (dc1,) = result.dcs
    assert dc1.readable and isinstance(dc1.ntp, clock.ProbeFailure) and dc1.offset is not None and abs(dc1.offset) < 1.0
    assert [f.severity for f in clock_report.findings(result)] == ["warning"]


def test_a_turned_off_source_has_no_series(responders) -> None:
    responders()
    result = clock.run(time_context(clocks({"dc1.lab.example": clock_dc(0.0)}), TimeSettings(ntp=False)))
    names = {
        (s.metric.name, s.labels[2])
        for s in clock_samples.series("lab.example", result)
        if s.metric.labels[-1] == "source"
    }
    assert names == {(n, "ldap") for n in (m.TIME_OFFSET.name, m.TIME_PROBE_SUCCESS.name, m.TIME_PROBE_RTT.name)}


def test_one_hanging_dc_does_not_hold_back_the_others(responders) -> None:
    responders()
    release = threading.Event()

    def hang() -> LdapError:
        release.wait(30)
        return LdapError("dc2.lab.example", "connection timed out")

    ctx = time_context(clocks({"dc1.lab.example": clock_dc(0.0)}, {"dc2.lab.example": hang}), interval=2.0)
    started = time.monotonic()
    try:
        result = clock.run(ctx)
    finally:
        release.set()
    assert time.monotonic() - started < 5  # the run's 2 s limit, not dc2's 30 s
    by_host = {d.host: d for d in result.dcs}
    assert by_host["dc1.lab.example"].readable
    assert not by_host["dc2.lab.example"].readable
    assert by_host["dc2.lab.example"].ldap == clock.ProbeFailure("no answer within 1.8s")


def test_warning_threshold_and_disagreeing_sources() -> None:
    ntp = clock.NtpReading(offset=45.0, rtt=0.001, stratum=4, leap=0, address="10.0.0.9")
    ldap = clock.LdapTimeReading(offset=0.3, rtt=0.01, current_time="x", address="10.0.0.11")
    result = clock.TimeResult("lab.example", (clock.DcClock("dc1.lab.example", False, ntp, ldap),), 30.0, 240.0)
    by_kind = {f.message.split(" ")[0]: f for f in clock_report.findings(result)}
    assert by_kind["clock"].severity == "warning" and "+45.0 s" in by_kind["clock"].message
    assert (by_kind["clock"].fix or "").startswith(
        "w32tm /config /computer:dc1.lab.example /syncfromflags:domhier /update")
    assert "does not come from the DC's own clock" in by_kind["NTP"].message


def test_summary_table() -> None:
    ntp = clock.NtpReading(offset=420.0004, rtt=0.001, stratum=8, leap=0, address="a")
    result = clock.TimeResult(
        "lab.example",
        (clock.DcClock("dc2.lab.example", False, ntp, clock.ProbeFailure("LDAP: refused")),
         clock.DcClock("dc1.lab.example", True, None, clock.LdapTimeReading(0.2, 0.01, "x", "b"))),
        30.0, 240.0,
    )
    lines = clock_report.summary(result)
    assert "ntp offset" in lines[0] and "ldap offset" in lines[0]
    assert "+420.000 s" in lines[1] and "no answer" in lines[1] and " 8 " in lines[1]
    assert "off" in lines[2] and "+0.200 s" in lines[2]


# --- configuration ------------------------------------------------------------------------------


def load(tmp_path: Path, time_section: str):
    (tmp_path / "pw").write_text("pw\n")
    body = textwrap.dedent(
        """
        domains:
          - name: lab.example
            bind: {user: monitor@lab.example, password_file: pw}
            time: %s
        """
    ) % time_section
    path = tmp_path / "cfg.yml"
    path.write_text(body)
    return config.load(path, CHECKS)


def test_time_thresholds_default_and_parse(tmp_path: Path) -> None:
    assert load(tmp_path, "{}").domains[0].settings["time"] == TimeSettings()
    t = load(tmp_path, "{warning_offset: 10s, error_offset: 2m, ntp: false}").domains[0].settings["time"]
    assert (t.warning_offset, t.error_offset, t.ntp, t.ldap) == (10.0, 120.0, False, True)


@pytest.mark.parametrize(
    "section, expected",
    [
        (
            "{warning_offset: 5m, error_offset: 4m}",
            "domains[0].time.warning_offset: warning_offset (300s) must be smaller than error_offset (240s)",
        ),
        ("{ntp: false, ldap: false}", "domains[0].time: ntp and ldap are both false"),
        ("{error_offset: soon}", "domains[0].time.error_offset: must be a duration"),
        ("{max_offset: 1m}", "domains[0].time.max_offset: unknown key"),
    ],
)
def test_time_config_errors_name_the_key(tmp_path: Path, section: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, section)
    assert expected in str(info.value)

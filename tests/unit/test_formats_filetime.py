"""Tests for FILETIME, DSTIME and GeneralizedTime conversions."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.filetime import (
    EPOCH_DELTA_SECONDS,
    FILETIME_NEVER,
    FileTime,
    TimeState,
    datetime_to_filetime,
    decode_filetime,
    dstime_to_unix,
    filetime_to_datetime,
    filetime_to_unix,
    format_generalized_time,
    parse_generalized_time,
    unix_to_dstime,
    unix_to_filetime,
)

FUZZ = settings(max_examples=300, deadline=None)
UTC = UTC
# 2022-04-18T13:27:42Z
SAMPLE_UNIX = 1650288462
SAMPLE_FILETIME = 132947620620000000
MAX_FILETIME_DATETIME = 2650467743999999999  # 9999-12-31T23:59:59.9999999Z


# --- FILETIME ----------------------------------------------------------------------------------


def test_zero_is_not_set() -> None:
    decoded = decode_filetime(0)
    assert decoded == FileTime(0, TimeState.NOT_SET, None)
    assert not decoded.is_set
    assert decoded.unix_seconds is None


@pytest.mark.parametrize("raw", [FILETIME_NEVER, -1, "9223372036854775807", b"-1"])
def test_never_sentinels(raw: int | str | bytes) -> None:
    decoded = decode_filetime(raw)
    assert decoded.state is TimeState.NEVER
    assert decoded.when is None
    assert decoded.unix_seconds is None


def test_known_time() -> None:
    decoded = decode_filetime(SAMPLE_FILETIME)
    assert decoded.state is TimeState.SET
    assert decoded.when == datetime(2022, 4, 18, 13, 27, 42, tzinfo=UTC)
    assert decoded.unix_seconds == SAMPLE_UNIX


def test_unix_epoch_and_pre_1970_times() -> None:
    assert decode_filetime(EPOCH_DELTA_SECONDS * 10**7).unix_seconds == 0.0
    one_tick = decode_filetime(1)
    assert one_tick.when == datetime(1601, 1, 1, tzinfo=UTC)  # truncated to the microsecond
    assert one_tick.unix_seconds == pytest.approx(-EPOCH_DELTA_SECONDS + 1e-7)


def test_sub_second_part_is_kept_in_unix_seconds_and_truncated_in_datetime() -> None:
    decoded = decode_filetime(SAMPLE_FILETIME + 1_234_567)
    assert decoded.unix_seconds == pytest.approx(SAMPLE_UNIX + 0.1234567)
    assert decoded.when == datetime(2022, 4, 18, 13, 27, 42, 123456, tzinfo=UTC)


def test_last_representable_time() -> None:
    assert decode_filetime(MAX_FILETIME_DATETIME).when == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (-2, "negative value -2"),
        (-(2**63), "negative"),
        (MAX_FILETIME_DATETIME + 1, "after the year 9999"),
        (FILETIME_NEVER - 1, "after the year 9999"),
        (2**64 - 1, "signed 64-bit"),
        (2**200, "signed 64-bit"),
    ],
)
def test_rejected_filetimes(raw: int, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        decode_filetime(raw)


def test_ldap_decimal_text_is_accepted() -> None:
    assert decode_filetime(str(SAMPLE_FILETIME)).unix_seconds == SAMPLE_UNIX
    assert decode_filetime(str(SAMPLE_FILETIME).encode()).unix_seconds == SAMPLE_UNIX
    assert decode_filetime("0").state is TimeState.NOT_SET


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", "1e5", "1_000", "0x10", "\u0663", "1" * 25, b"\xff", "--1"])
def test_malformed_text_is_rejected(text: str | bytes) -> None:
    with pytest.raises(DecodeError, match="FILETIME"):
        decode_filetime(text)


@pytest.mark.parametrize("value", [True, 1.5, None, [1]])
def test_non_integers_are_rejected(value: object) -> None:
    with pytest.raises(DecodeError, match="FILETIME"):
        decode_filetime(value)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


def test_convenience_functions_hide_sentinels() -> None:
    assert filetime_to_datetime(0) is None
    assert filetime_to_datetime(FILETIME_NEVER) is None
    assert filetime_to_unix(0) is None
    assert filetime_to_unix(-1) is None
    assert filetime_to_unix(SAMPLE_FILETIME) == SAMPLE_UNIX
    assert filetime_to_datetime(SAMPLE_FILETIME) == datetime(2022, 4, 18, 13, 27, 42, tzinfo=UTC)


def test_unix_to_filetime() -> None:
    assert unix_to_filetime(SAMPLE_UNIX) == SAMPLE_FILETIME
    assert unix_to_filetime(0) == EPOCH_DELTA_SECONDS * 10**7
    assert unix_to_filetime(0.12345678) == EPOCH_DELTA_SECONDS * 10**7 + 1234568  # rounded to the tick
    assert unix_to_filetime(-EPOCH_DELTA_SECONDS) == 0


@pytest.mark.parametrize(
    "seconds", [math.nan, math.inf, -math.inf, -EPOCH_DELTA_SECONDS - 1, 1e16, 253402300800, True, "1"]
)
def test_unix_to_filetime_rejects_out_of_range(seconds: object) -> None:
    with pytest.raises(DecodeError, match="Unix time"):
        unix_to_filetime(seconds)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


def test_datetime_to_filetime() -> None:
    assert datetime_to_filetime(datetime(2022, 4, 18, 15, 27, 42, tzinfo=timezone(timedelta(hours=2)))) == (
        SAMPLE_FILETIME
    )
    assert datetime_to_filetime(datetime(1601, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(DecodeError, match="naive"):
        datetime_to_filetime(datetime(2022, 4, 18))
    with pytest.raises(DecodeError, match="before 1601"):
        datetime_to_filetime(datetime(1600, 12, 31, tzinfo=UTC))


@FUZZ
@given(st.integers(-EPOCH_DELTA_SECONDS + 1, 253402300799))
def test_unix_filetime_round_trip(seconds: int) -> None:
    decoded = decode_filetime(unix_to_filetime(seconds))
    assert decoded.state is TimeState.SET
    assert decoded.unix_seconds == seconds
    assert decoded.when == datetime.fromtimestamp(0, UTC) + timedelta(seconds=seconds)


@FUZZ
@given(st.datetimes(min_value=datetime(1601, 1, 1, 0, 0, 1), timezones=st.just(UTC)))
def test_datetime_filetime_round_trip(when: datetime) -> None:
    assert decode_filetime(datetime_to_filetime(when)).when == when


@FUZZ
@given(st.one_of(st.integers(), st.text(max_size=30), st.binary(max_size=30)))
def test_decode_filetime_raises_only_decode_error(value: int | str | bytes) -> None:
    try:
        decoded = decode_filetime(value)
    except DecodeError:
        return
    assert (decoded.when is None) == (decoded.state is not TimeState.SET)


@FUZZ
@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
def test_unix_to_filetime_raises_only_decode_error(seconds: int | float) -> None:
    try:
        ticks = unix_to_filetime(seconds)
    except DecodeError:
        return
    assert 0 <= ticks <= MAX_FILETIME_DATETIME


# --- DSTIME ------------------------------------------------------------------------------------


def test_dstime() -> None:
    assert dstime_to_unix(13294762062) == SAMPLE_UNIX
    assert dstime_to_unix(0) is None
    assert dstime_to_unix(1) == 1 - EPOCH_DELTA_SECONDS
    assert unix_to_dstime(SAMPLE_UNIX) == 13294762062


@pytest.mark.parametrize(("raw", "fragment"), [(-1, "negative"), (2**63, "64-bit"), ("x", "decimal")])
def test_dstime_rejects(raw: object, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        dstime_to_unix(raw)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


@pytest.mark.parametrize("seconds", [-EPOCH_DELTA_SECONDS - 1, 2**63, 1.0, True])
def test_unix_to_dstime_rejects(seconds: object) -> None:
    with pytest.raises(DecodeError):
        unix_to_dstime(seconds)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


@FUZZ
@given(st.integers(-EPOCH_DELTA_SECONDS + 1, 2**63 - 1 - EPOCH_DELTA_SECONDS))
def test_dstime_round_trip(seconds: int) -> None:
    assert dstime_to_unix(unix_to_dstime(seconds)) == seconds


@FUZZ
@given(st.integers())
def test_dstime_raises_only_decode_error(raw: int) -> None:
    try:
        dstime_to_unix(raw)
    except DecodeError:
        pass


# --- GeneralizedTime ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261123174536.0Z", datetime(2026, 11, 23, 17, 45, 36, tzinfo=UTC)),
        ("20261123174536Z", datetime(2026, 11, 23, 17, 45, 36, tzinfo=UTC)),
        ("20261123174536.5Z", datetime(2026, 11, 23, 17, 45, 36, 500000, tzinfo=UTC)),
        ("20261123174536,25Z", datetime(2026, 11, 23, 17, 45, 36, 250000, tzinfo=UTC)),
        ("20261123174536.123456789Z", datetime(2026, 11, 23, 17, 45, 36, 123456, tzinfo=UTC)),
        ("20261123174536.0+0100", datetime(2026, 11, 23, 16, 45, 36, tzinfo=UTC)),
        ("20261123174536-0530", datetime(2026, 11, 23, 23, 15, 36, tzinfo=UTC)),
        ("20261123174536+01", datetime(2026, 11, 23, 16, 45, 36, tzinfo=UTC)),
        ("202611231745Z", datetime(2026, 11, 23, 17, 45, tzinfo=UTC)),
        ("202611231745.5Z", datetime(2026, 11, 23, 17, 45, 30, tzinfo=UTC)),
        ("2026112317Z", datetime(2026, 11, 23, 17, tzinfo=UTC)),
        ("2026112317.25Z", datetime(2026, 11, 23, 17, 15, tzinfo=UTC)),
        ("20161231235960Z", datetime(2017, 1, 1, tzinfo=UTC)),
        ("20240229000000Z", datetime(2024, 2, 29, tzinfo=UTC)),
        (b"20261123174536.0Z", datetime(2026, 11, 23, 17, 45, 36, tzinfo=UTC)),
    ],
)
def test_parse_generalized_time(text: str | bytes, expected: datetime) -> None:
    parsed = parse_generalized_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("20261123174536.0", "no time zone"),
        ("20261123174536", "no time zone"),
        ("", "is not YYYYMMDD"),
        ("2026-11-23T17:45:36Z", "is not YYYYMMDD"),
        ("20261123174536.Z", "is not YYYYMMDD"),
        ("20261123174536.0z", "is not YYYYMMDD"),
        ("\u0662\u0660\u0662\u0666112317Z", "is not YYYYMMDD"),
        ("20261323174536Z", "not a valid time"),
        ("20230229000000Z", "not a valid time"),
        ("20261123244536Z", "not a valid time"),
        ("00001123174536Z", "not a valid time"),
        ("20261123176036Z", "minute 60"),
        ("20261123174561Z", "second 61"),
        ("20261123174536+2400", "offset"),
        ("20261123174536+0060", "offset"),
        ("99991231235960Z", "not a valid time"),
        (b"\xff", "not ASCII"),
    ],
)
def test_parse_generalized_time_rejects(text: str | bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match=fragment):
        parse_generalized_time(text)


def test_format_generalized_time() -> None:
    assert format_generalized_time(datetime(2026, 11, 23, 17, 45, 36, tzinfo=UTC)) == "20261123174536.0Z"
    assert format_generalized_time(datetime(5, 1, 2, 3, 4, 5, 60, tzinfo=UTC)) == "00050102030405.000060Z"
    assert (
        format_generalized_time(datetime(2026, 11, 23, 18, 45, 36, tzinfo=timezone(timedelta(hours=1))))
        == "20261123174536.0Z"
    )
    with pytest.raises(DecodeError, match="naive"):
        format_generalized_time(datetime(2026, 11, 23))


_zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])


@FUZZ
@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_zones))
def test_generalized_time_round_trip(when: datetime) -> None:
    assert parse_generalized_time(format_generalized_time(when)) == when


@FUZZ
@given(st.one_of(st.text(max_size=40), st.text(alphabet="0123456789.,Z+-", max_size=30), st.binary(max_size=30)))
def test_parse_generalized_time_raises_only_decode_error(text: str | bytes) -> None:
    try:
        parsed = parse_generalized_time(text)
    except DecodeError:
        return
    assert parsed.tzinfo is UTC

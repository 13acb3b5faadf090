"""Active Directory time formats: FILETIME, DSTIME and GeneralizedTime.

- FILETIME (``pwdLastSet``, ``lastLogonTimestamp``, ``accountExpires``, the
  ``;binary`` replication neighbour blob): signed 64-bit count of 100 ns ticks
  since 1601-01-01T00:00:00Z.  Two values are not times: 0 ("not set"; for
  ``pwdLastSet`` it means "must change password at next logon") and
  0x7FFFFFFFFFFFFFFF or -1 ("never").
- DSTIME (``repsFrom``): signed 64-bit count of whole seconds since 1601-01-01Z;
  0 means "never".
- GeneralizedTime (rootDSE ``currentTime``, ``whenChanged``):
  ``YYYYMMDDhhmmss[.f]Z`` or with an explicit ``+hhmm``/``-hhmm`` offset.

Unix time is seconds since 1970-01-01T00:00:00Z, the unit Prometheus expects.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from .errors import DecodeError

#: Seconds from 1601-01-01Z (the Windows epoch) to 1970-01-01Z (the Unix epoch).
EPOCH_DELTA_SECONDS = 11_644_473_600
#: FILETIME ticks (100 ns) per second.
TICKS_PER_SECOND = 10_000_000
#: The FILETIME value AD uses for "never" (largest signed 64-bit integer).
FILETIME_NEVER = 0x7FFF_FFFF_FFFF_FFFF

_INT64_MAX = 0x7FFF_FFFF_FFFF_FFFF
_WINDOWS_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_EPOCH_DELTA_TICKS = EPOCH_DELTA_SECONDS * TICKS_PER_SECOND
# Last tick that still fits in a datetime (9999-12-31T23:59:59.9999999Z).
_MAX_DATETIME_TICKS = (
    (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _WINDOWS_EPOCH)
    // timedelta(seconds=1)
    + 1
) * TICKS_PER_SECOND - 1
_INTEGER_SYNTAX = re.compile(r"-?[0-9]+", re.ASCII)


class TimeState(enum.Enum):
    """What a FILETIME value means."""

    #: A real point in time.
    SET = "set"
    #: 0: no time recorded.  For ``pwdLastSet`` this means "must change at next logon".
    NOT_SET = "not_set"
    #: 0x7FFFFFFFFFFFFFFF or -1: "never" (e.g. ``accountExpires``).
    NEVER = "never"


@dataclass(frozen=True)
class FileTime:
    """A decoded FILETIME.

    ``when`` is set (an aware UTC datetime, truncated to the microsecond) only
    when ``state`` is :attr:`TimeState.SET`; it is ``None`` for the two
    sentinels, so "not set" and "never" cannot be mistaken for a time.
    """

    raw: int
    state: TimeState
    when: datetime | None

    @property
    def is_set(self) -> bool:
        """True when the value is a real time."""
        return self.state is TimeState.SET

    @property
    def unix_seconds(self) -> float | None:
        """Unix time in seconds (sub-second part kept), or ``None`` unless set."""
        if self.state is not TimeState.SET:
            return None
        return (self.raw - _EPOCH_DELTA_TICKS) / TICKS_PER_SECOND


def _as_integer(value: int | str | bytes, structure: str) -> int:
    """Accept an int, or the decimal text LDAP uses for Integer syntax."""
    if isinstance(value, bool):
        raise DecodeError(structure, "expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError(structure, "value is not ASCII decimal text") from None
    if isinstance(value, str):
        # Bounded so int() never sees thousands of digits (which it refuses).
        if len(value) > 24 or not _INTEGER_SYNTAX.fullmatch(value):
            raise DecodeError(structure, f"{value[:40]!r} is not a decimal integer")
        return int(value)
    raise DecodeError(structure, f"expected an integer, got {type(value).__name__}")


def decode_filetime(value: int | str | bytes) -> FileTime:
    """Decode a FILETIME given as an int or as LDAP decimal text.

    Edges:

    - ``0`` gives :attr:`TimeState.NOT_SET` (``pwdLastSet`` 0: must change at
      next logon; ``lastLogonTimestamp`` 0: never logged on).
    - ``0x7FFFFFFFFFFFFFFF`` and ``-1`` give :attr:`TimeState.NEVER`.
    - Any other negative value raises :class:`DecodeError` (FILETIME
      timestamps are never negative; negative *intervals* such as
      ``maxPwdAge`` are not timestamps and must not be passed here).
    - Values after 9999-12-31 (beyond :class:`datetime`) or beyond signed
      64 bits raise :class:`DecodeError`.
    - Times before 1970 are valid and give negative Unix seconds.
    """
    raw = _as_integer(value, "FILETIME")
    if raw == 0:
        return FileTime(raw, TimeState.NOT_SET, None)
    if raw in (FILETIME_NEVER, -1):
        return FileTime(raw, TimeState.NEVER, None)
    if raw < 0:
        raise DecodeError("FILETIME", f"negative value {raw} is not a timestamp")
    if raw > _INT64_MAX:
        raise DecodeError("FILETIME", f"value {raw} does not fit in a signed 64-bit integer")
    if raw > _MAX_DATETIME_TICKS:
        raise DecodeError("FILETIME", f"value {raw} is after the year 9999")
    return FileTime(raw, TimeState.SET, _WINDOWS_EPOCH + timedelta(microseconds=raw // 10))


def filetime_to_datetime(value: int | str | bytes) -> datetime | None:
    """FILETIME to an aware UTC datetime; ``None`` for "not set" and "never".

    Use :func:`decode_filetime` when the two sentinels must be told apart.
    """
    return decode_filetime(value).when


def filetime_to_unix(value: int | str | bytes) -> float | None:
    """FILETIME to Unix seconds; ``None`` for "not set" and "never"."""
    return decode_filetime(value).unix_seconds


def unix_to_filetime(seconds: int | float) -> int:
    """Unix seconds to FILETIME ticks (floats rounded to the nearest tick).

    Raises :class:`DecodeError` for non-finite input or a result outside
    1601-01-01 .. 9999-12-31.  A result of exactly 0 (1601-01-01T00:00:00Z)
    reads back as :attr:`TimeState.NOT_SET`, as it does in AD.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DecodeError("Unix time", f"expected a number, got {type(seconds).__name__}")
    if isinstance(seconds, float):
        if not math.isfinite(seconds):
            raise DecodeError("Unix time", f"{seconds} is not a finite number")
        if abs(seconds) > 1e15:
            raise DecodeError("Unix time", f"{seconds} is outside the FILETIME range")
        ticks = round(seconds * TICKS_PER_SECOND) + _EPOCH_DELTA_TICKS
    else:
        ticks = seconds * TICKS_PER_SECOND + _EPOCH_DELTA_TICKS
    if ticks < 0 or ticks > _MAX_DATETIME_TICKS:
        raise DecodeError("Unix time", f"{seconds} is outside 1601-01-01 .. 9999-12-31")
    return ticks


def datetime_to_filetime(when: datetime) -> int:
    """Aware datetime to FILETIME ticks (microsecond resolution).

    Raises :class:`DecodeError` for a naive datetime (its zone is unknown) or
    one before 1601-01-01Z.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise DecodeError("datetime", "naive datetime has no time zone")
    try:
        ticks = (when - _WINDOWS_EPOCH) // timedelta(microseconds=1) * 10
    except OverflowError:
        raise DecodeError("datetime", f"{when!r} is outside the FILETIME range") from None
    if ticks < 0:
        raise DecodeError("datetime", f"{when.isoformat()} is before 1601-01-01Z")
    return ticks


def dstime_to_unix(value: int) -> int | None:
    """DSTIME (whole seconds since 1601-01-01Z) to Unix seconds.

    ``0`` means "never" and gives ``None``.  Negative values, and values beyond
    signed 64 bits, raise :class:`DecodeError`.  Times before 1970 give
    negative Unix seconds.
    """
    raw = _as_integer(value, "DSTIME")
    if raw == 0:
        return None
    if raw < 0:
        raise DecodeError("DSTIME", f"negative value {raw} is not a timestamp")
    if raw > _INT64_MAX:
        raise DecodeError("DSTIME", f"value {raw} does not fit in a signed 64-bit integer")
    return raw - EPOCH_DELTA_SECONDS


def unix_to_dstime(seconds: int) -> int:
    """Unix seconds to DSTIME.  Raises :class:`DecodeError` outside 1601 .. int64."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise DecodeError("Unix time", f"expected an integer, got {type(seconds).__name__}")
    raw = seconds + EPOCH_DELTA_SECONDS
    if raw < 0 or raw > _INT64_MAX:
        raise DecodeError("Unix time", f"{seconds} is outside the DSTIME range")
    return raw


# RFC 4517 GeneralizedTime: minutes and seconds are optional, a fraction
# applies to the last unit present, and a zone (Z or an offset) is required.
_GENERALIZED_TIME = re.compile(
    r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})(?P<hour>[0-9]{2})"
    r"(?:(?P<minute>[0-9]{2})(?P<second>[0-9]{2})?)?"
    r"(?:[.,](?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|[+-][0-9]{2}(?:[0-9]{2})?)",
    re.ASCII,
)
# Digits kept from a fraction: enough for microseconds of an hour (3.6e9 us).
_FRACTION_DIGITS = 12


def parse_generalized_time(text: str | bytes) -> datetime:
    """Parse an LDAP GeneralizedTime into an aware datetime in UTC.

    Accepts ``20261123174536.0Z`` (AD's form), any fraction length (``.`` or
    ``,``; digits past the microsecond are truncated), no fraction, omitted
    seconds or minutes (the fraction then applies to the last unit given), and
    an explicit offset ``+hh``/``+hhmm``/``-hhmm`` instead of ``Z``.  A leap
    second (``60``) is read as the first instant of the next minute.

    Raises :class:`DecodeError` when the zone is missing (a local time is
    ambiguous), for any other syntax error, and for impossible dates.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError("GeneralizedTime", "value is not ASCII text") from None
    if not isinstance(text, str):
        raise DecodeError("GeneralizedTime", f"expected text, got {type(text).__name__}")
    match = _GENERALIZED_TIME.fullmatch(text)
    if match is None:
        if _GENERALIZED_TIME.fullmatch(text + "Z") is not None:
            raise DecodeError("GeneralizedTime", f"{text[:40]!r} has no time zone (Z or +hhmm)")
        raise DecodeError("GeneralizedTime", f"{text[:40]!r} is not YYYYMMDDhh[mm[ss]][.f](Z|+hhmm)")
    parts = match.groupdict()
    minute = int(parts["minute"] or 0)
    second = int(parts["second"] or 0)
    if minute > 59:
        raise DecodeError("GeneralizedTime", f"minute {minute} out of range in {text!r}")
    if second > 60:
        raise DecodeError("GeneralizedTime", f"second {second} out of range in {text!r}")
    zone = parts["zone"]
    if zone == "Z":
        tz = UTC
    else:
        zone_hours = int(zone[1:3])
        zone_minutes = int(zone[3:5] or 0)
        if zone_hours > 23 or zone_minutes > 59:
            raise DecodeError("GeneralizedTime", f"offset {zone} out of range in {text!r}")
        offset = timedelta(hours=zone_hours, minutes=zone_minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    if parts["second"] is not None:
        unit_us = 1_000_000
    elif parts["minute"] is not None:
        unit_us = 60_000_000
    else:
        unit_us = 3_600_000_000
    fraction = timedelta(0)
    if parts["fraction"]:
        digits = parts["fraction"][:_FRACTION_DIGITS]
        # Integer arithmetic so excess precision truncates instead of rounding.
        fraction = timedelta(microseconds=unit_us * int(digits) // 10 ** len(digits))
    try:
        base = datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"]), int(parts["hour"]),
            minute, tzinfo=tz,
        )
        return (base + timedelta(seconds=second) + fraction).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise DecodeError("GeneralizedTime", f"{text!r} is not a valid time: {exc}") from None


def format_generalized_time(when: datetime) -> str:
    """Format an aware datetime as AD does: ``YYYYMMDDhhmmss.0Z`` in UTC.

    Microseconds, when present, are written as a six-digit fraction.
    Raises :class:`DecodeError` for a naive datetime.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise DecodeError("datetime", "naive datetime has no time zone")
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        raise DecodeError("datetime", f"{when!r} cannot be expressed in UTC") from None
    fraction = f"{utc.microsecond:06d}" if utc.microsecond else "0"
    return (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}"
        f"{utc.hour:02d}{utc.minute:02d}{utc.second:02d}.{fraction}Z"
    )

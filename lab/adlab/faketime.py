"""Clock offsets for libfaketime: parsing "+7m"-style offsets and building the preload environment."""

from __future__ import annotations

import glob
import re

from .errors import LabError

_OFFSET_RE = re.compile(r"^([+-])(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def offset_seconds(offset: str) -> int:
    """'+7m' -> 420, '-90d' -> -7776000; the sign is required so that intent is explicit."""
    match = _OFFSET_RE.match(offset.strip()) if isinstance(offset, str) else None
    if not match:
        raise LabError(f"clock offset {offset!r} is invalid: use a signed number with an optional "
                       "unit s/m/h/d, e.g. +7m, -300, +2h, -90d")
    sign, number, unit = match.groups()
    return (-1 if sign == "-" else 1) * int(number) * _UNIT_SECONDS[unit]


def library() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")) or \
        sorted(glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if not found:
        raise LabError("libfaketime.so.1 not found: install the libfaketime package (lab/packages.txt)")
    return found[0]


def env(offset: str | int | None) -> dict[str, str]:
    """Environment that runs a program (and its children) with its wall clock shifted by offset."""
    if offset is None:
        return {}
    seconds = offset if isinstance(offset, int) else offset_seconds(offset)
    return {
        "LD_PRELOAD": library(),
        "FAKETIME": f"{seconds:+d}",
        # Timers, timeouts and tevent scheduling keep running on real monotonic time.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        # Without this, ldb modules loaded with RTLD_DEEPBIND bypass the preload: Samba's rootDSE
        # currentTime and the stamps written by its database modules would stay unfaked.
        "LDB_MODULES_DISABLE_DEEPBIND": "1",
    }

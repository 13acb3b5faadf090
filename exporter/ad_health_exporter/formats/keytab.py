"""Keytab files (MIT format): which principals a keytab holds, never its keys.

The configuration reads a keytab when it is loaded, so a keytab without the configured
principal fails at start-up rather than at the first bind.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class KeytabError(ValueError):
    """The keytab cannot be read as one; str() says why (never any key material)."""


@dataclass(frozen=True)
class KeytabEntry:
    principal: str  # components joined by "/", then "@REALM"
    kvno: int
    enctype: int


def read_keytab(data: bytes) -> list[KeytabEntry]:
    """Decode a keytab file (MIT format, versions 1 and 2); keys are skipped, never returned."""
    if len(data) < 2 or data[0] != 0x05 or data[1] not in (0x01, 0x02):
        raise KeytabError("not a keytab file (it must start with 0x05 0x01 or 0x05 0x02)")
    version = data[1]
    # Version 1 keytabs use the writer's byte order; every MIT and Samba tool writes version 2.
    order = ">" if version == 2 else "="
    entries: list[KeytabEntry] = []
    pos = 2
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from(order + "i", data, pos)
        pos += 4
        if size == 0:
            break
        if size < 0:  # a hole left by a removed entry
            pos += -size
            continue
        end = pos + size
        if end > len(data):
            raise KeytabError(f"truncated entry at offset {pos - 4}")
        entries.append(_entry(data[pos:end], order, version, pos - 4))
        pos = end
    return entries


def _entry(buf: bytes, order: str, version: int, offset: int) -> KeytabEntry:
    try:
        pos = 0
        (count,) = struct.unpack_from(order + "H", buf, pos)
        pos += 2
        if version == 1:
            count -= 1  # version 1 counts the realm as a component
        realm, pos = _counted(buf, pos, order)
        parts = []
        for _ in range(count):
            part, pos = _counted(buf, pos, order)
            parts.append(part)
        if version == 2:
            pos += 4  # name type
        pos += 4  # timestamp
        (kvno8,) = struct.unpack_from("B", buf, pos)
        pos += 1
        (enctype,) = struct.unpack_from(order + "H", buf, pos)
        pos += 2
        (key_length,) = struct.unpack_from(order + "H", buf, pos)
        pos += 2 + key_length  # the key itself: skipped, never decoded
        if pos > len(buf):
            raise struct.error("key past the end")
        kvno = kvno8
        if len(buf) - pos >= 4:  # 32-bit kvno, present since krb5 1.14
            (kvno32,) = struct.unpack_from(order + "I", buf, pos)
            kvno = kvno32 or kvno8
    except (struct.error, UnicodeDecodeError):
        raise KeytabError(f"malformed entry at offset {offset}") from None
    return KeytabEntry("/".join(parts) + "@" + realm, kvno, enctype)


def _counted(buf: bytes, pos: int, order: str) -> tuple[str, int]:
    (length,) = struct.unpack_from(order + "H", buf, pos)
    pos += 2
    if pos + length > len(buf):
        raise struct.error("counted string past the end")
    return buf[pos : pos + length].decode("utf-8"), pos + length


def principals(data: bytes) -> list[str]:
    """The distinct principals of a keytab file's content, in file order."""
    return list(dict.fromkeys(e.principal for e in read_keytab(data)))


def match_principal(wanted: str, available: list[str]) -> str | None:
    """The keytab's spelling of ``wanted``; AD's KDC compares principals case-insensitively."""
    if wanted in available:
        return wanted
    lowered = wanted.lower()
    return next((p for p in available if p.lower() == lowered), None)

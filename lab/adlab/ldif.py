"""Minimal LDIF reading and writing for ldbsearch/ldbmodify (pure functions)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping


def parse(text: str) -> list[dict[str, list[str | bytes]]]:
    """Entries of an LDIF search result; each maps lower-cased attribute names to values.

    `attr:: base64` values decode to str when they are UTF-8 text and to bytes otherwise.
    """
    entries: list[dict[str, list[str | bytes]]] = []
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]  # continuation line
        else:
            lines.append(raw)
    entry: dict[str, list[str | bytes]] = {}
    for line in lines + [""]:
        if not line.strip() or line.startswith("#"):
            if not line.strip() and entry:
                entries.append(entry)
                entry = {}
            continue
        if line.startswith("ref:"):
            continue
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        value: str | bytes
        if rest.startswith(":"):
            data = base64.b64decode(rest[1:].strip())
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                value = data
        else:
            value = rest[1:] if rest.startswith(" ") else rest
        entry.setdefault(name.lower(), []).append(value)
    return entries


def first(entry: Mapping[str, list[str | bytes]], attr: str) -> str | None:
    values = entry.get(attr.lower())
    if not values:
        return None
    value = values[0]
    return value if isinstance(value, str) else None


def modify(dn: str, changes: Iterable[tuple[str, str, Iterable[str]]]) -> str:
    """One changetype: modify record; changes are (add|replace|delete, attribute, values)."""
    out = [f"dn: {dn}", "changetype: modify"]
    for op, attr, values in changes:
        out.append(f"{op}: {attr}")
        out += [_attr_line(attr, v) for v in values]
        out.append("-")
    return "\n".join(out) + "\n\n"


def add(dn: str, attrs: Iterable[tuple[str, Iterable[str]]]) -> str:
    out = [f"dn: {dn}", "changetype: add"]
    for attr, values in attrs:
        out += [_attr_line(attr, v) for v in values]
    return "\n".join(out) + "\n\n"


def _attr_line(attr: str, value: str) -> str:
    # unicodePwd is given already base64-encoded (it is a binary value).
    if attr.lower() == "unicodepwd":
        return f"{attr}:: {value}"
    if value and (value[0] in " :<" or not value.isascii() or "\n" in value):
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}"
    return f"{attr}: {value}"

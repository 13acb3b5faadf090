"""Decode ``msDS-NCReplInboundNeighbors`` values (Windows DCs only).

The constructed attribute comes in two forms, one value per inbound link:

- XML (plain attribute name): a ``DS_REPL_NEIGHBOR`` (or ``DS_REPL_NEIGHBORW``)
  root whose children are named after the DS_REPL_NEIGHBORW fields
  ([MS-ADTS] 3.1.1.3.2.28, [MS-DRSR] 4.1.13.1.7).
- Binary (``msDS-NCReplInboundNeighbors;binary``): DS_REPL_NEIGHBORW_BLOB, a
  128-byte fixed part whose first four u32 fields are offsets (from the start
  of the value) of NUL-terminated UTF-16LE strings, 0 = absent::

      0 naming context   4 source DSA DN   8 source address   12 transport DN
      16 u32 flags       20 reserved
      24/40/56/72 GUIDs: NC, source DSA, source invocation ID, transport
      88 i64 usnLastObjChangeSynced  96 i64 usnAttributeFilter
      104 FILETIME last success      112 FILETIME last attempt
      120 u32 last result            124 u32 consecutive failures

Both decode into :class:`~.repsfrom.ReplicationNeighbor`, the record ``repsFrom``
produces.  An empty attribute (no values) is not decoded here: it means the
reader lacks the "Monitor Active Directory Replication" right, and callers
must report it as "cannot read", never as "no links".

The XML is untrusted input: it is parsed with expat directly, rejecting any
DTD (so no entity can be declared or expanded), nesting below the field
elements, and values over 64 KiB.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import NoReturn
from xml.parsers import expat

from .errors import DecodeError
from .filetime import TimeState, decode_filetime
from .repsfrom import ReplicaFlags, ReplicationNeighbor, _read_utf16z

_XML = "DS_REPL_NEIGHBOR XML"
_BLOB = "DS_REPL_NEIGHBORW_BLOB"
_ROOTS = frozenset({"DS_REPL_NEIGHBOR", "DS_REPL_NEIGHBORW"})
_MAX_XML_CHARS = 64 * 1024
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WHITESPACE_AND_NUL = " \t\r\n\x00"

_BLOB_FIXED = struct.Struct("<IIIIII16s16s16s16sqqqqII")
_STRING_FIELDS = (
    ("oszNamingContext", 0),
    ("oszSourceDsaDN", 4),
    ("oszSourceDsaAddress", 8),
    ("oszAsyncIntersiteTransportDN", 12),
)

_GUID_TEXT = re.compile(
    r"\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?", re.ASCII
)
_DECIMAL = re.compile(r"[+-]?[0-9]{1,20}", re.ASCII)
_ISO_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)


# --- XML ---------------------------------------------------------------------------------------


class _FieldCollector:
    """expat callbacks that gather ``{child tag: text}`` under the root element."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.fields: dict[str, str] = {}
        self._depth = 0
        self._current: str | None = None
        self._text: list[str] = []

    def start(self, name: str, _attributes: dict[str, str]) -> None:
        self._depth += 1
        if self._depth == 1:
            if name not in _ROOTS:
                raise DecodeError(_XML, f"root element is <{name[:60]}>, expected DS_REPL_NEIGHBOR")
            self.root = name
        elif self._depth == 2:
            if name in self.fields:
                raise DecodeError(_XML, "element appears more than once", field=name)
            self._current = name
            self._text = []
        else:
            raise DecodeError(_XML, f"unexpected nested element <{name[:60]}>", field=self._current)

    def end(self, _name: str) -> None:
        if self._depth == 2 and self._current is not None:
            self.fields[self._current] = "".join(self._text).strip(_WHITESPACE_AND_NUL)
            self._current = None
        self._depth -= 1

    def text(self, data: str) -> None:
        if self._depth == 2:
            self._text.append(data)


def _reject(what: str) -> Callable[..., NoReturn]:
    def handler(*_args: object) -> NoReturn:
        raise DecodeError(_XML, f"{what} not allowed in a value read from a DC")

    return handler


def _parse_fields(text: str) -> dict[str, str]:
    collector = _FieldCollector()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _reject("a DTD (<!DOCTYPE>)")
    parser.EntityDeclHandler = _reject("an entity declaration")
    parser.UnparsedEntityDeclHandler = _reject("an entity declaration")
    parser.ExternalEntityRefHandler = _reject("an external entity")
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.text
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise DecodeError(
            _XML, f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}"
        ) from None
    except (ValueError, UnicodeError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(_XML, f"cannot be parsed: {exc}") from None
    return collector.fields


def _required(fields: dict[str, str], name: str) -> str:
    if name not in fields:
        raise DecodeError(_XML, "required element is missing", field=name)
    text = fields[name]
    if not text:
        raise DecodeError(_XML, "required element is empty", field=name)
    return text


def _optional_text(fields: dict[str, str], name: str) -> str | None:
    return fields.get(name) or None


def _integer(text: str, name: str, low: int, high: int) -> int:
    if not _DECIMAL.fullmatch(text):
        raise DecodeError(_XML, f"{text[:40]!r} is not a decimal integer", field=name)
    number = int(text)
    if not low <= number <= high:
        raise DecodeError(_XML, f"{number} is outside {low}..{high}", field=name)
    return number


def _dword(fields: dict[str, str], name: str) -> int:
    """A DWORD; Windows may print it signed, so -2^31.. is accepted and made unsigned."""
    return _integer(_required(fields, name), name, -(2**31), 2**32 - 1) & 0xFFFFFFFF


def _guid(text: str, name: str) -> uuid.UUID:
    if not _GUID_TEXT.fullmatch(text) or text.startswith("{") != text.endswith("}"):
        raise DecodeError(_XML, f"{text[:60]!r} is not a GUID", field=name)
    return uuid.UUID(text)


def _optional_guid(fields: dict[str, str], name: str) -> uuid.UUID | None:
    text = fields.get(name)
    return _guid(text, name) if text else None


def _xml_time(fields: dict[str, str], name: str) -> int | None:
    """ISO-8601 time to Unix seconds; 1601-01-01T00:00:00 means never (``None``).

    A time without a zone is read as UTC, as the DC formats a UTC FILETIME.
    """
    text = _required(fields, name)
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        raise DecodeError(_XML, f"{text[:40]!r} is not an ISO-8601 time", field=name)
    zone = match["zone"]
    if zone in (None, "Z"):
        tz = UTC
    else:
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise DecodeError(_XML, f"offset {zone} out of range", field=name)
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    try:
        when = datetime.fromisoformat(f"{match['date']}T{match['time']}").replace(tzinfo=tz)
    except ValueError as exc:
        raise DecodeError(_XML, f"{text[:40]!r} is not a valid time: {exc}", field=name) from None
    fraction = match["fraction"] or ""
    if when.replace(tzinfo=None) == datetime(1601, 1, 1) and not fraction.strip("0"):
        return None
    try:
        return (when - _UNIX_EPOCH) // timedelta(seconds=1)
    except OverflowError:
        raise DecodeError(_XML, f"{text[:40]!r} is out of range", field=name) from None


def parse_neighbor_xml(value: str | bytes) -> ReplicationNeighbor:
    """Parse one XML value of ``msDS-NCReplInboundNeighbors``.

    The root may be ``DS_REPL_NEIGHBOR`` or ``DS_REPL_NEIGHBORW``; children are
    read by tag, so order and unknown extra elements do not matter.  Leading
    and trailing whitespace and NULs are stripped from the value and from each
    element's text.  Bytes are decoded as UTF-8.

    Required elements: ``pszNamingContext``, ``uuidSourceDsaObjGuid``,
    ``dwReplicaFlags``, ``ftimeLastSyncSuccess``, ``ftimeLastSyncAttempt``,
    ``dwLastSyncResult``, ``cNumConsecutiveSyncFailures``.  Empty optional
    strings (e.g. the transport DN for RPC) become ``None``.

    DWORDs may be printed signed (``-2146893022``) and are returned unsigned.
    Times are ISO-8601 (``2022-04-18T13:27:42Z``; fraction and offset
    optional, no zone = UTC); ``1601-01-01T00:00:00`` means never (``None``).

    Raises :class:`DecodeError` for malformed XML, a DTD or entity
    declaration, a wrong root, nested or repeated elements, a missing or
    empty required element, or an unparsable number, GUID or time.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(_XML, f"value is not valid UTF-8 at byte {exc.start}") from None
    if not isinstance(value, str):
        raise DecodeError(_XML, f"expected text or bytes, got {type(value).__name__}")
    text = value.strip(_WHITESPACE_AND_NUL)
    if not text:
        raise DecodeError(_XML, "value is empty")
    if len(text) > _MAX_XML_CHARS:
        raise DecodeError(_XML, f"value is {len(text)} characters, over the {_MAX_XML_CHARS} limit")
    fields = _parse_fields(text)
    usn_text = fields.get("usnLastObjChangeSynced")
    return ReplicationNeighbor(
        source_dsa_guid=_guid(_required(fields, "uuidSourceDsaObjGuid"), "uuidSourceDsaObjGuid"),
        replica_flags=ReplicaFlags(_dword(fields, "dwReplicaFlags")),
        consecutive_failures=_integer(
            _required(fields, "cNumConsecutiveSyncFailures"), "cNumConsecutiveSyncFailures", 0, 2**32 - 1
        ),
        last_success=_xml_time(fields, "ftimeLastSyncSuccess"),
        last_attempt=_xml_time(fields, "ftimeLastSyncAttempt"),
        last_result=_dword(fields, "dwLastSyncResult"),
        naming_context=_required(fields, "pszNamingContext"),
        source_address=_optional_text(fields, "pszSourceDsaAddress"),
        source_dsa_dn=_optional_text(fields, "pszSourceDsaDN"),
        source_invocation_id=_optional_guid(fields, "uuidSourceDsaInvocationID"),
        transport_guid=_optional_guid(fields, "uuidAsyncIntersiteTransportObjGuid"),
        transport_dn=_optional_text(fields, "pszAsyncIntersiteTransportDN"),
        naming_context_guid=_optional_guid(fields, "uuidNamingContextObjGuid"),
        highest_usn=(
            _integer(usn_text, "usnLastObjChangeSynced", -(2**63), 2**63 - 1) if usn_text else None
        ),
        version=None,
    )


# --- binary ------------------------------------------------------------------------------------


def _blob_time(raw: int, field: str, offset: int) -> int | None:
    try:
        decoded = decode_filetime(raw)
    except DecodeError as exc:
        raise DecodeError(_BLOB, exc.problem, field=field, offset=offset) from None
    if decoded.state is not TimeState.SET or decoded.when is None:
        return None
    return (decoded.when - _UNIX_EPOCH) // timedelta(seconds=1)


def decode_neighbor_blob(value: bytes) -> ReplicationNeighbor:
    """Decode one ``msDS-NCReplInboundNeighbors;binary`` value (DS_REPL_NEIGHBORW_BLOB).

    String offsets are from the start of the value; 0 means absent, any other
    offset must point past the 128-byte fixed part to a NUL-terminated
    UTF-16LE string inside the value.  The naming context is required.
    FILETIME 0 and the "never" sentinels give ``None``; times are truncated to
    whole seconds.

    Raises :class:`DecodeError` (naming field and offset) for a value shorter
    than 128 bytes, a bad string offset, an unterminated or invalid string, a
    missing naming context, or an out-of-range FILETIME.
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise DecodeError(_BLOB, f"expected bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) < _BLOB_FIXED.size:
        raise DecodeError(_BLOB, f"value is {len(value)} bytes, shorter than the {_BLOB_FIXED.size}-byte fixed part")
    (
        _o_nc, _o_dn, _o_address, _o_transport, flags, _reserved,
        nc_guid, dsa_guid, invocation_id, transport_guid,
        usn_synced, _usn_filter, last_success, last_attempt, result, failures,
    ) = _BLOB_FIXED.unpack_from(value, 0)
    strings: dict[str, str | None] = {}
    for field, field_offset in _STRING_FIELDS:
        relative = int.from_bytes(value[field_offset:field_offset + 4], "little")
        if relative == 0:
            strings[field] = None
            continue
        if relative < _BLOB_FIXED.size or relative >= len(value):
            raise DecodeError(
                _BLOB, f"string offset {relative} is outside {_BLOB_FIXED.size}..{len(value) - 1}",
                field=field, offset=field_offset,
            )
        strings[field] = _read_utf16z(
            value, relative, len(value), structure=_BLOB, field=field, offset=field_offset
        ) or None
    naming_context = strings["oszNamingContext"]
    if naming_context is None:
        raise DecodeError(_BLOB, "naming context is absent", field="oszNamingContext", offset=0)
    return ReplicationNeighbor(
        source_dsa_guid=uuid.UUID(bytes_le=dsa_guid),
        replica_flags=ReplicaFlags(flags),
        consecutive_failures=failures,
        last_success=_blob_time(last_success, "ftimeLastSyncSuccess", 104),
        last_attempt=_blob_time(last_attempt, "ftimeLastSyncAttempt", 112),
        last_result=result,
        naming_context=naming_context,
        source_address=strings["oszSourceDsaAddress"],
        source_dsa_dn=strings["oszSourceDsaDN"],
        source_invocation_id=uuid.UUID(bytes_le=invocation_id),
        transport_guid=uuid.UUID(bytes_le=transport_guid),
        transport_dn=strings["oszAsyncIntersiteTransportDN"],
        naming_context_guid=uuid.UUID(bytes_le=nc_guid),
        highest_usn=usn_synced,
        version=None,
    )

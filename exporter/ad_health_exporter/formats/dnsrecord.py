"""Decode ``dnsRecord`` values of AD-integrated DNS zones ([MS-DNSP] 2.3.2.2).

Each value of a ``dnsNode``'s ``dnsRecord`` attribute is one resource record::

    0 u16 LE DataLength   2 u16 LE Type   4 u8 Version (5)   5 u8 Rank
    6 u16 LE Flags        8 u32 LE Serial
    12 u32 BIG-endian TtlSeconds   16 u32 reserved
    20 u32 LE TimeStamp: hours since 1601-01-01Z, 0 = static (never ages)
    24 Data (DataLength bytes)

Data decoded here: A (4 bytes), AAAA (16), CNAME/NS/PTR/DNAME (a
DNS_COUNT_NAME) and SRV (priority, weight, port as big-endian u16, then a
DNS_COUNT_NAME).  Every other type is kept as raw bytes with its type number.

DNS_COUNT_NAME ([MS-DNSP] 2.2.2.2.2): u8 Length of the raw name (terminator
included), u8 LabelCount, then LabelCount × (u8 length, label bytes), then a
zero byte.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .errors import DecodeError
from .filetime import EPOCH_DELTA_SECONDS

_STRUCTURE = "dnsRecord"
_HEADER = struct.Struct("<HHBBHI4sII")
_TTL = struct.Struct(">I")
_SRV = struct.Struct(">HHH")
#: The only dnsRecord version [MS-DNSP] defines.
RECORD_VERSION = 5

TYPE_ZERO = 0x0000
TYPE_A = 0x0001
TYPE_NS = 0x0002
TYPE_CNAME = 0x0005
TYPE_SOA = 0x0006
TYPE_PTR = 0x000C
TYPE_MX = 0x000F
TYPE_TXT = 0x0010
TYPE_AAAA = 0x001C
TYPE_SRV = 0x0021
TYPE_DNAME = 0x0027

_TYPE_NAMES = {
    TYPE_ZERO: "ZERO", TYPE_A: "A", TYPE_NS: "NS", TYPE_CNAME: "CNAME", TYPE_SOA: "SOA",
    TYPE_PTR: "PTR", TYPE_MX: "MX", TYPE_TXT: "TXT", TYPE_AAAA: "AAAA", TYPE_SRV: "SRV",
    TYPE_DNAME: "DNAME",
}
_NAME_TYPES = frozenset({TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_DNAME})


@dataclass(frozen=True)
class AddressData:
    """A or AAAA data."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class NameData:
    """CNAME, NS, PTR or DNAME data: a host name without the trailing dot."""

    name: str


@dataclass(frozen=True)
class SrvData:
    """SRV data; ``target`` has no trailing dot."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class RawData:
    """Data of a type not decoded here (SOA, MX, TXT, tombstones, ...), kept as is."""

    data: bytes


RecordData = AddressData | NameData | SrvData | RawData


@dataclass(frozen=True)
class DnsRecord:
    """One decoded ``dnsRecord`` value."""

    record_type: int
    rank: int
    flags: int
    serial: int
    ttl_seconds: int
    #: Hours since 1601-01-01Z when the record was last refreshed; 0 = static.
    timestamp_hours: int
    data: RecordData

    @property
    def type_name(self) -> str:
        """``A``, ``SRV``, ... or ``TYPE<n>`` for types without a name here."""
        return record_type_name(self.record_type)

    @property
    def is_static(self) -> bool:
        """True for a static record (timestamp 0): scavenging never removes it."""
        return self.timestamp_hours == 0

    @property
    def timestamp_unix(self) -> int | None:
        """Refresh time as Unix seconds, or ``None`` for a static record."""
        return dns_timestamp_to_unix(self.timestamp_hours)


def record_type_name(record_type: int) -> str:
    """Mnemonic of a DNS record type, or ``TYPE<n>`` (RFC 3597 style) when unknown."""
    return _TYPE_NAMES.get(record_type, f"TYPE{record_type}")


def dns_timestamp_to_unix(hours: int) -> int | None:
    """dnsRecord TimeStamp (hours since 1601-01-01Z) to Unix seconds; 0 (static) gives ``None``.

    Raises :class:`DecodeError` for a negative value or one beyond 32 bits.
    """
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise DecodeError(_STRUCTURE, f"timestamp must be an integer, got {type(hours).__name__}", field="TimeStamp")
    if not 0 <= hours <= 0xFFFFFFFF:
        raise DecodeError(_STRUCTURE, f"timestamp {hours} is outside 0..2^32-1", field="TimeStamp")
    if hours == 0:
        return None
    return hours * 3600 - EPOCH_DELTA_SECONDS


def _escape_label(label: bytes, offset: int) -> str:
    try:
        text = label.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(_STRUCTURE, f"label is not valid UTF-8 ({exc.reason})", field="Data", offset=offset) from None
    # A dot or backslash inside a label must not read as a label separator.
    return text.replace("\\", "\\\\").replace(".", "\\.")


def decode_count_name(data: bytes, start: int, *, base_offset: int = 0) -> tuple[str, int]:
    """Decode a DNS_COUNT_NAME at ``data[start:]``; return ``(name, end offset)``.

    The name has no trailing dot; the root name is returned as ``"."``.
    ``base_offset`` is added to offsets in error messages (the position of
    ``data`` in the whole value).

    Raises :class:`DecodeError` when the name runs past ``data``, lacks its
    zero terminator, uses more bytes than its Length field, or has an empty or
    non-UTF-8 label.
    """
    if start + 2 > len(data):
        raise DecodeError(
            _STRUCTURE, "DNS_COUNT_NAME header runs past the data", field="Data", offset=base_offset + start
        )
    length, label_count = data[start], data[start + 1]
    raw_start = start + 2
    position = raw_start
    labels: list[str] = []
    for _ in range(label_count):
        if position >= len(data):
            raise DecodeError(
                _STRUCTURE, f"name declares {label_count} labels but the data ends after {len(labels)}",
                field="Data", offset=base_offset + position,
            )
        label_length = data[position]
        if label_length == 0:
            raise DecodeError(_STRUCTURE, "empty label inside a name", field="Data", offset=base_offset + position)
        end = position + 1 + label_length
        if end > len(data):
            raise DecodeError(
                _STRUCTURE, f"label of {label_length} bytes runs past the data",
                field="Data", offset=base_offset + position,
            )
        labels.append(_escape_label(data[position + 1:end], base_offset + position + 1))
        position = end
    if position >= len(data) or data[position] != 0:
        raise DecodeError(
            _STRUCTURE, "name is not terminated by a zero byte", field="Data", offset=base_offset + position
        )
    position += 1
    if position - raw_start > length:
        raise DecodeError(
            _STRUCTURE, f"name uses {position - raw_start} bytes but its Length field says {length}",
            field="Data", offset=base_offset + start,
        )
    return (".".join(labels) if labels else "."), position


def _decode_data(record_type: int, data: bytes) -> RecordData:
    base = _HEADER.size
    if record_type == TYPE_A:
        if len(data) != 4:
            raise DecodeError(_STRUCTURE, f"A data is {len(data)} bytes, expected 4", field="Data", offset=base)
        return AddressData(ipaddress.IPv4Address(data))
    if record_type == TYPE_AAAA:
        if len(data) != 16:
            raise DecodeError(_STRUCTURE, f"AAAA data is {len(data)} bytes, expected 16", field="Data", offset=base)
        return AddressData(ipaddress.IPv6Address(data))
    if record_type in _NAME_TYPES:
        name, end = decode_count_name(data, 0, base_offset=base)
        _expect_end(data, end, record_type)
        return NameData(name)
    if record_type == TYPE_SRV:
        if len(data) < _SRV.size:
            raise DecodeError(_STRUCTURE, f"SRV data is {len(data)} bytes, too short", field="Data", offset=base)
        priority, weight, port = _SRV.unpack_from(data, 0)
        target, end = decode_count_name(data, _SRV.size, base_offset=base)
        _expect_end(data, end, record_type)
        return SrvData(priority, weight, port, target)
    return RawData(data)


def _expect_end(data: bytes, end: int, record_type: int) -> None:
    if end != len(data):
        raise DecodeError(
            _STRUCTURE, f"{len(data) - end} stray bytes after the {record_type_name(record_type)} data",
            field="Data", offset=_HEADER.size + end,
        )


def decode_dns_record(value: bytes) -> DnsRecord:
    """Decode one ``dnsRecord`` value.

    TTL is read big-endian (unlike every other field).  Timestamp 0 marks a
    static record (see :attr:`DnsRecord.is_static`).

    Raises :class:`DecodeError` when the value is shorter than the 24-byte
    header, the version is not 5, DataLength disagrees with the bytes present,
    or the data of a decoded type is malformed (wrong address length, bad
    name, stray bytes).
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise DecodeError(_STRUCTURE, f"expected bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) < _HEADER.size:
        raise DecodeError(_STRUCTURE, f"value is {len(value)} bytes, shorter than the {_HEADER.size}-byte header")
    data_length, record_type, version, rank, flags, serial, ttl_bytes, _reserved, timestamp = (
        _HEADER.unpack_from(value, 0)
    )
    if version != RECORD_VERSION:
        raise DecodeError(
            _STRUCTURE, f"unsupported version {version} (expected {RECORD_VERSION})", field="Version", offset=4
        )
    if _HEADER.size + data_length != len(value):
        raise DecodeError(
            _STRUCTURE,
            f"DataLength {data_length} does not match the {len(value) - _HEADER.size} data bytes present",
            field="DataLength", offset=0,
        )
    (ttl,) = _TTL.unpack(ttl_bytes)
    return DnsRecord(
        record_type=record_type,
        rank=rank,
        flags=flags,
        serial=serial,
        ttl_seconds=ttl,
        timestamp_hours=timestamp,
        data=_decode_data(record_type, value[_HEADER.size:]),
    )

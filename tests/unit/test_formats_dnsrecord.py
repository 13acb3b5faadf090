"""Tests for the dnsRecord decoder ([MS-DNSP] 2.3.2.2)."""

from __future__ import annotations

import ipaddress
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.dnsrecord import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_MX,
    TYPE_NS,
    TYPE_PTR,
    TYPE_SRV,
    TYPE_ZERO,
    AddressData,
    DnsRecord,
    NameData,
    RawData,
    SrvData,
    decode_count_name,
    decode_dns_record,
    dns_timestamp_to_unix,
    record_type_name,
)
from ad_health_exporter.formats.errors import DecodeError

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=300, deadline=None)
# The worked example: A 10.0.0.11, TTL 600, serial 16, timestamp 3707928 h.
WORKED_EXAMPLE = bytes.fromhex("04 00 01 00 05 f0 00 00 10 00 00 00 00 00 02 58 00 00 00 00 18 94 38 00 0a 00 00 0b")


# --- test-only encoder, written from the documented layout -------------------------------------


def encode_count_name(name: str) -> bytes:
    labels = [label.encode("utf-8") for label in name.split(".") if label]
    raw = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return bytes([len(raw), len(labels)]) + raw


def encode_dns_record(
    record_type: int, data: bytes, *, serial: int = 1, ttl: int = 3600, timestamp: int = 0,
    rank: int = 0xF0, flags: int = 0, version: int = 5, data_length: int | None = None,
) -> bytes:
    header = struct.pack(
        "<HHBBHI", len(data) if data_length is None else data_length, record_type, version, rank, flags, serial
    )
    return header + struct.pack(">I", ttl) + b"\x00" * 4 + struct.pack("<I", timestamp) + data


def srv_data(priority: int, weight: int, port: int, target: str) -> bytes:
    return struct.pack(">HHH", priority, weight, port) + encode_count_name(target)


def samba_samples() -> dict[str, bytes]:
    samples = {}
    for line in (DATA / "dnsrecord_samba.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            label, hex_text = line.split()
            samples[label] = bytes.fromhex(hex_text)
    return samples


def lab_zone_values() -> list[bytes]:
    """The dnsRecord values of the lab's zones, as the DNS check's tests read them."""
    values = []
    for line in (DATA / "dnsrecord_lab_zones.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        _dn, value = line.split("\t")
        values.append(bytes.fromhex(value))
    return values


# --- documented and recorded values ------------------------------------------------------------


def test_worked_example_byte_for_byte() -> None:
    record = decode_dns_record(WORKED_EXAMPLE)
    assert record == DnsRecord(
        record_type=TYPE_A, rank=0xF0, flags=0, serial=16, ttl_seconds=600, timestamp_hours=3707928,
        data=AddressData(ipaddress.IPv4Address("10.0.0.11")),
    )
    assert record.type_name == "A"
    assert not record.is_static
    assert record.timestamp_unix == 1704067200
    assert datetime.fromtimestamp(record.timestamp_unix, UTC) == datetime(2024, 1, 1, tzinfo=UTC)
    assert encode_dns_record(TYPE_A, bytes([10, 0, 0, 11]), serial=16, ttl=600, timestamp=3707928) == WORKED_EXAMPLE


def test_ttl_is_big_endian() -> None:
    # 600 big-endian is 0x58020000 little-endian: a decoder reading LE would report 1476526080.
    assert struct.unpack_from("<I", WORKED_EXAMPLE, 12)[0] == 1476526080
    assert decode_dns_record(WORKED_EXAMPLE).ttl_seconds == 600


def test_samba_recorded_samples() -> None:
    samples = samba_samples()
    decoded = {label: decode_dns_record(value) for label, value in samples.items()}
    assert decoded["a_dynamic"] == decode_dns_record(WORKED_EXAMPLE)
    assert decoded["a_static"].data == AddressData(ipaddress.IPv4Address("10.99.0.250"))
    assert decoded["a_static"].is_static
    assert decoded["a_static"].timestamp_unix is None
    assert decoded["a_static"].ttl_seconds == 3600
    assert decoded["aaaa"].data == AddressData(ipaddress.IPv6Address("fd00:99::12"))
    assert decoded["aaaa"].ttl_seconds == 1200
    assert decoded["srv"].data == SrvData(priority=0, weight=100, port=389, target="dc1.lab.example")
    assert decoded["srv"].timestamp_hours == 3707930
    assert decoded["cname"].data == NameData("dc2.lab.example")
    assert decoded["ns"].data == NameData("dc1.lab.example")
    assert decoded["ns"].type_name == "NS"


def test_encoder_reproduces_samba_samples() -> None:
    samples = samba_samples()
    assert encode_dns_record(TYPE_A, bytes([10, 99, 0, 250]), serial=1, ttl=3600) == samples["a_static"]
    assert encode_dns_record(
        TYPE_AAAA, ipaddress.IPv6Address("fd00:99::12").packed, serial=7, ttl=1200, timestamp=3707929
    ) == samples["aaaa"]
    assert encode_dns_record(
        TYPE_SRV, srv_data(0, 100, 389, "dc1.lab.example"), serial=5, ttl=900, timestamp=3707930
    ) == samples["srv"]
    assert encode_dns_record(TYPE_CNAME, encode_count_name("dc2.lab.example"), serial=3, ttl=900) == samples["cname"]


# --- types -------------------------------------------------------------------------------------


@pytest.mark.parametrize("record_type", [TYPE_CNAME, TYPE_NS, TYPE_PTR])
def test_name_types(record_type: int) -> None:
    record = decode_dns_record(encode_dns_record(record_type, encode_count_name("host.lab.example")))
    assert record.data == NameData("host.lab.example")


def test_root_name_and_escaped_dots() -> None:
    assert decode_dns_record(encode_dns_record(TYPE_CNAME, bytes([1, 0, 0]))).data == NameData(".")
    raw = bytes([3]) + b"a.b" + bytes([2]) + b"c\\" + b"\x00"
    value = encode_dns_record(TYPE_PTR, bytes([len(raw), 2]) + raw)
    assert decode_dns_record(value).data == NameData("a\\.b.c\\\\")


def test_srv_port_priority_weight_are_big_endian() -> None:
    record = decode_dns_record(encode_dns_record(TYPE_SRV, srv_data(0x0102, 0x0304, 0x0D3D, "gc.lab.example")))
    assert record.data == SrvData(priority=258, weight=772, port=3389, target="gc.lab.example")


@pytest.mark.parametrize(
    ("record_type", "name"), [(TYPE_MX, "MX"), (TYPE_ZERO, "ZERO"), (99, "TYPE99"), (0xFF00, "TYPE65280")]
)
def test_other_types_are_kept_raw(record_type: int, name: str) -> None:
    payload = b"\x00\x0a\x04mail\x00anything"
    record = decode_dns_record(encode_dns_record(record_type, payload))
    assert record.data == RawData(payload)
    assert record.record_type == record_type
    assert record.type_name == name == record_type_name(record_type)


def test_header_fields() -> None:
    record = decode_dns_record(
        encode_dns_record(TYPE_A, bytes(4), serial=0xDEADBEEF, ttl=0xFFFFFFFF, rank=0x20, flags=0x8001, timestamp=1)
    )
    assert (record.serial, record.ttl_seconds, record.rank, record.flags) == (0xDEADBEEF, 0xFFFFFFFF, 0x20, 0x8001)
    assert record.timestamp_unix == 3600 - 11644473600


def test_accepts_bytearray_and_memoryview() -> None:
    from_bytearray = decode_dns_record(bytearray(WORKED_EXAMPLE))  # type: ignore[arg-type]  # any buffer decodes; typed bytes
    assert from_bytearray == decode_dns_record(memoryview(WORKED_EXAMPLE))  # type: ignore[arg-type]  # any buffer decodes; typed bytes


# --- timestamps --------------------------------------------------------------------------------


def test_dns_timestamp_to_unix() -> None:
    assert dns_timestamp_to_unix(0) is None
    assert dns_timestamp_to_unix(3707928) == 1704067200
    assert dns_timestamp_to_unix(0xFFFFFFFF) == 0xFFFFFFFF * 3600 - 11644473600
    for bad in (-1, 2**32, True, 1.0):
        with pytest.raises(DecodeError, match="TimeStamp"):
            dns_timestamp_to_unix(bad)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


# --- rejected values ----------------------------------------------------------------------------


def _name_value(raw_name: bytes, record_type: int = TYPE_CNAME) -> bytes:
    return encode_dns_record(record_type, raw_name)


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        (b"", ("0 bytes", "24-byte header")),
        (WORKED_EXAMPLE[:23], ("23 bytes",)),
        ("text", ("expected bytes",)),
        (encode_dns_record(TYPE_A, bytes(4), version=4), ("Version", "unsupported version 4")),
        (encode_dns_record(TYPE_A, bytes(4), data_length=5), ("DataLength", "DataLength 5", "4 data bytes")),
        (WORKED_EXAMPLE + b"\x00", ("DataLength 4", "5 data bytes")),
        (encode_dns_record(TYPE_A, bytes(5)), ("A data is 5 bytes",)),
        (encode_dns_record(TYPE_AAAA, bytes(4)), ("AAAA data is 4 bytes",)),
        (encode_dns_record(TYPE_SRV, bytes(5)), ("SRV data is 5 bytes",)),
        (encode_dns_record(TYPE_SRV, bytes(7)), ("header runs past",)),
        (_name_value(b""), ("header runs past",)),
        (_name_value(bytes([5, 1, 3]) + b"abc"), ("not terminated",)),
        (_name_value(bytes([5, 2, 3]) + b"abc"), ("declares 2 labels",)),
        (_name_value(bytes([9, 1, 7]) + b"abc"), ("runs past",)),
        (_name_value(bytes([9, 2, 0, 0, 0])), ("empty label",)),
        (_name_value(bytes([2, 1, 3]) + b"abc\x00"), ("uses 5 bytes", "Length field says 2")),
        (_name_value(bytes([5, 1, 3]) + b"abc\x00\x00"), ("1 stray bytes",)),
        (_name_value(bytes([5, 1, 3]) + b"a\xffc\x00"), ("not valid UTF-8",)),
        (encode_dns_record(TYPE_SRV, srv_data(1, 2, 3, "x") + b"\x01"), ("stray bytes after the SRV",)),
    ],
)
def test_rejected_values(value: bytes | str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_dns_record(value)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected
    message = str(caught.value)
    assert message.startswith("dnsRecord")
    for fragment in fragments:
        assert fragment in message, message


def test_error_offsets_point_into_the_whole_value() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_dns_record(encode_dns_record(TYPE_SRV, struct.pack(">HHH", 0, 0, 0) + bytes([5, 1, 3]) + b"abc"))
    assert caught.value.offset == 24 + 6 + 6  # header, SRV fields, then the 6 name bytes before the missing terminator


# --- properties ---------------------------------------------------------------------------------

_label = st.text(
    st.characters(whitelist_categories=("Ll", "Lu", "Nd")) | st.sampled_from("-_"), min_size=1, max_size=20
)
_host = st.lists(_label, min_size=1, max_size=5).map(".".join).filter(lambda n: len(encode_count_name(n)) < 250)
_u16 = st.integers(0, 0xFFFF)
_u32 = st.integers(0, 0xFFFFFFFF)


@FUZZ
@given(
    kind=st.sampled_from(["a", "aaaa", "srv", "cname"]), address4=st.ip_addresses(v=4), address6=st.ip_addresses(v=6),
    host=_host, priority=_u16, weight=_u16, port=_u16, serial=_u32, ttl=_u32, timestamp=_u32,
)
def test_round_trip(
    kind: str, address4: ipaddress.IPv4Address, address6: ipaddress.IPv6Address, host: str,
    priority: int, weight: int, port: int, serial: int, ttl: int, timestamp: int,
) -> None:
    record_type, data, expected = {
        "a": (TYPE_A, address4.packed, AddressData(address4)),
        "aaaa": (TYPE_AAAA, address6.packed, AddressData(address6)),
        "srv": (TYPE_SRV, srv_data(priority, weight, port, host), SrvData(priority, weight, port, host)),
        "cname": (TYPE_CNAME, encode_count_name(host), NameData(host)),
    }[kind]
    record = decode_dns_record(encode_dns_record(record_type, data, serial=serial, ttl=ttl, timestamp=timestamp))
    assert record.data == expected
    assert (record.serial, record.ttl_seconds, record.timestamp_hours) == (serial, ttl, timestamp)
    assert record.is_static == (timestamp == 0)


@FUZZ
@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_decode_error(value: bytes) -> None:
    try:
        decode_dns_record(value)
    except DecodeError:
        pass


@FUZZ
@given(st.sampled_from([TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_PTR, TYPE_SRV, TYPE_MX]), st.binary(max_size=80))
def test_arbitrary_data_of_each_type_raises_only_decode_error(record_type: int, data: bytes) -> None:
    try:
        decode_dns_record(encode_dns_record(record_type, data))
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_mutated_samples_raise_only_decode_error(data: st.DataObject) -> None:
    value = bytearray(data.draw(st.sampled_from(sorted(samba_samples().values()) + lab_zone_values())))
    for _ in range(data.draw(st.integers(1, 6))):
        value[data.draw(st.integers(0, len(value) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_dns_record(bytes(value))
    except DecodeError:
        pass


@FUZZ
@given(st.binary(max_size=60), st.integers(0, 70))
def test_count_name_on_arbitrary_bytes_raises_only_decode_error(data: bytes, start: int) -> None:
    try:
        name, end = decode_count_name(data, start)
    except DecodeError:
        return
    assert start + 3 <= end <= len(data)

"""Tests for the repsFrom decoder (REPS_FROM v1/v2)."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.repsfrom import ReplicaFlags, ReplicationNeighbor, decode_reps_from

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=300, deadline=None)
ZERO = uuid.UUID(int=0)
SOURCE = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
INVOCATION = uuid.UUID("89abcdef-0123-4567-89ab-cdef01234567")
DSTIME_OFFSET = 11_644_473_600


# --- test-only encoder, written from the documented layout -------------------------------------


def encode_mtx_addr(name: str) -> bytes:
    raw = name.encode("utf-8") + b"\x00"
    return struct.pack("<I", len(raw)) + raw


def encode_dsa_rpc_inst(server: str | None, instance: str | None) -> bytes:
    """DSA_RPC_INST laid out as Samba writes it: 24-byte header, server, then instance."""
    header_size = 24
    body = b""
    offsets = []
    for text in (server, instance):
        if text is None:
            offsets.append(0)
            continue
        offsets.append(header_size + len(body))
        body += text.encode("utf-16-le") + b"\x00\x00"
    cb = header_size + len(body)
    return struct.pack("<IIIII", cb, offsets[0], 0, offsets[1], 0) + b"\x00" * 4 + body


def encode_reps_from(
    *,
    version: int = 1,
    failures: int = 0,
    last_success: int = 0,
    last_attempt: int = 0,
    result: int = 0,
    flags: int = 0x70,
    usn: tuple[int, int, int] = (0, 0, 0),
    source: uuid.UUID = SOURCE,
    invocation: uuid.UUID = INVOCATION,
    transport: uuid.UUID = ZERO,
    address: str | None = "x._msdcs.lab.example",
    other_info: bytes | None = None,
    gap: bytes = b"",
    trailer: bytes = b"",
    blobsize: int | None = None,
    other_offset: int | None = None,
    other_length: int | None = None,
) -> bytes:
    """Build a repsFrom value; times are DSTIME seconds.  Overrides allow broken values."""
    if other_info is None:
        other_info = encode_mtx_addr(address or "") if version == 1 else encode_dsa_rpc_inst(address, address)
    fixed = 0xD0 if version == 1 else 0xD8
    offset = fixed + len(gap) if other_offset is None else other_offset
    length = len(other_info) if other_length is None else other_length
    size = fixed + len(gap) + len(other_info) + len(trailer)
    head = struct.pack(
        "<IIIIqqIIII", version, 0, size if blobsize is None else blobsize, failures,
        last_success, last_attempt, result, offset, length, flags,
    )
    body = head + b"\x00" * 84 + b"\x00" * 4 + struct.pack("<qqq", *usn)
    body += source.bytes_le + invocation.bytes_le + transport.bytes_le
    if version == 2:
        body += b"\x00" * 8
    assert len(body) == fixed
    return body + gap + other_info + trailer


def read_hex(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex(" ".join(line for line in lines if not line.startswith("#")))


def lab_capture_values(name: str) -> list[bytes]:
    """The repsFrom values of a lab capture (destination DC, NC head, hex a line), as the replication check's tests
    read them."""
    values = []
    for line in (DATA / name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        _host, _nc, value = line.split("\t")
        values.append(bytes.fromhex(value))
    return values


# --- recorded samples ---------------------------------------------------------------------------


def test_v2_sample_with_windows_figures() -> None:
    value = read_hex("repsfrom_v2_samba.hex")
    # The figures of the Windows sample, read straight from the bytes.
    assert len(value) == 484
    assert struct.unpack_from("<III", value, 0x24) == (216, 268, 112)
    assert struct.unpack_from("<q", value, 0x10) == (13294762062,)

    link = decode_reps_from(value, naming_context="DC=corp,DC=contoso,DC=com")

    assert link.version == 2
    assert link.replica_flags == ReplicaFlags.WRIT_REP | ReplicaFlags.INIT_SYNC | ReplicaFlags.PER_SYNC
    assert link.last_success == 1650288462
    assert datetime.fromtimestamp(link.last_success, UTC) == datetime(
        2022, 4, 18, 13, 27, 42, tzinfo=UTC
    )
    assert link.last_attempt == 1650288462
    assert link.consecutive_failures == 0
    assert link.last_result == 0
    assert link.source_dsa_guid == SOURCE
    assert link.source_invocation_id == INVOCATION
    assert link.transport_guid == ZERO
    assert link.source_address == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0._msdcs.corp.contoso.com"
    assert link.highest_usn == 20480
    assert link.naming_context == "DC=corp,DC=contoso,DC=com"


def test_v1_sample_as_samba_writes_it() -> None:
    value = read_hex("repsfrom_v1_samba.hex")
    assert struct.unpack_from("<III", value, 0x24) == (0xD0, 60, 0x70)

    link = decode_reps_from(value)

    assert link == ReplicationNeighbor(
        source_dsa_guid=uuid.UUID("5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d"),
        replica_flags=ReplicaFlags(0x70),
        consecutive_failures=3,
        last_success=1787992800,  # 2026-08-29T08:40:00Z
        last_attempt=1787994336,  # 2026-08-29T09:05:36Z
        last_result=1722,
        naming_context=None,
        source_address="5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d._msdcs.lab.example",
        source_invocation_id=uuid.UUID("d4c3b2a1-6f5e-8a7b-9c0d-1e2f3a4b5c6d"),
        transport_guid=ZERO,
        highest_usn=4241,
        version=1,
    )


def test_encoder_reproduces_the_recorded_samples_byte_for_byte() -> None:
    v1 = encode_reps_from(
        version=1, failures=3, last_success=13432466400, last_attempt=13432467936, result=1722,
        flags=0x70, usn=(4242, 0, 4241), source=uuid.UUID("5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d"),
        invocation=uuid.UUID("d4c3b2a1-6f5e-8a7b-9c0d-1e2f3a4b5c6d"),
        address="5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d._msdcs.lab.example",
    )
    v2 = encode_reps_from(
        version=2, last_success=13294762062, last_attempt=13294762062, flags=112,
        usn=(20500, 0, 20480), address="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0._msdcs.corp.contoso.com",
    )
    assert v1 == read_hex("repsfrom_v1_samba.hex")
    assert v2 == read_hex("repsfrom_v2_samba.hex")


# --- layout rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_address_is_found_through_other_info_offset(version: int) -> None:
    # Bytes between the fixed part and the address structure must be skipped,
    # not parsed as the address.
    gap = b"\x05\x00\x00\x00junk\x00" + b"\xff" * 7
    value = encode_reps_from(version=version, gap=gap, address="dc2-guid._msdcs.lab.example")
    assert struct.unpack_from("<I", value, 0x24)[0] == (0xD0 if version == 1 else 0xD8) + len(gap)
    assert decode_reps_from(value).source_address == "dc2-guid._msdcs.lab.example"


def test_data_after_the_address_structure_is_allowed() -> None:
    value = encode_reps_from(version=2, trailer=b"\x01\x02\x03\x04PAS-data")
    assert decode_reps_from(value).source_address == "x._msdcs.lab.example"


def test_v2_prefers_network_address_and_falls_back_to_server_name() -> None:
    both = encode_reps_from(version=2, other_info=encode_dsa_rpc_inst("server-name", "network-address"))
    server_only = encode_reps_from(version=2, other_info=encode_dsa_rpc_inst("server-name", None))
    neither = encode_reps_from(version=2, other_info=encode_dsa_rpc_inst(None, None))
    assert decode_reps_from(both).source_address == "network-address"
    assert decode_reps_from(server_only).source_address == "server-name"
    assert decode_reps_from(neither).source_address is None


def test_v2_string_terminator_is_found_on_a_utf16_boundary() -> None:
    # "A\u0100" encodes as 41 00 00 01: a 00 00 pair at an odd position that is not a terminator.
    value = encode_reps_from(version=2, address="A\u0100B.lab")
    assert decode_reps_from(value).source_address == "A\u0100B.lab"


def test_v1_empty_name_gives_no_address() -> None:
    assert decode_reps_from(encode_reps_from(version=1, address="")).source_address is None


def test_zero_times_mean_never() -> None:
    link = decode_reps_from(encode_reps_from(last_success=0, last_attempt=0, flags=0x200070))
    assert link.last_success is None
    assert link.last_attempt is None
    assert ReplicaFlags.NEVER_SYNCED in link.replica_flags


def test_result_is_unsigned_32_bit_and_flags_keep_unknown_bits() -> None:
    link = decode_reps_from(encode_reps_from(result=0x80090322, flags=0x80000071))
    assert link.last_result == 2148074274
    assert int(link.replica_flags) == 0x80000071


def test_accepts_bytearray_and_memoryview() -> None:
    value = encode_reps_from()
    assert (
        decode_reps_from(bytearray(value))  # type: ignore[arg-type]  # any buffer decodes; typed bytes
        == decode_reps_from(memoryview(value))  # type: ignore[arg-type]  # any buffer decodes; typed bytes
        == decode_reps_from(value)
    )


# --- rejected values ----------------------------------------------------------------------------


def _expect_error(value: object, *fragments: str) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode_reps_from(value)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected
    message = str(caught.value)
    assert message.startswith("repsFrom")
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        (b"", ("version", "0 bytes")),
        (b"\x01\x00", ("version", "only 2 bytes")),
        (struct.pack("<I", 3) + b"\x00" * 300, ("unsupported version 3", "offset 0x0")),
        (struct.pack("<I", 0) + b"\x00" * 300, ("unsupported version 0",)),
        (encode_reps_from(version=1)[:0xCF], ("207 bytes", "208-byte fixed part")),
        (encode_reps_from(version=2)[:0xD7], ("215 bytes", "216-byte fixed part")),
    ],
)
def test_rejects_short_or_unknown_values(value: bytes, fragments: tuple[str, ...]) -> None:
    _expect_error(value, *fragments)


def test_rejects_non_bytes() -> None:
    _expect_error("not bytes", "expected bytes, got str")


@pytest.mark.parametrize("blobsize", [0, 100, 1_000_000])
def test_rejects_blobsize_mismatch(blobsize: int) -> None:
    error = _expect_error(encode_reps_from(blobsize=blobsize), "blobsize", f"blobsize {blobsize} does not match")
    assert error.field == "blobsize"
    assert error.offset == 0x08


def test_rejects_blobsize_that_hides_trailing_bytes() -> None:
    value = encode_reps_from()
    _expect_error(value + b"\x00", "blobsize")


@pytest.mark.parametrize("version", [1, 2])
def test_rejects_other_info_offset_inside_fixed_part(version: int) -> None:
    _expect_error(encode_reps_from(version=version, other_offset=0x30), "other_info_offset", "fixed part")


@pytest.mark.parametrize("version", [1, 2])
def test_rejects_address_structure_past_the_end(version: int) -> None:
    _expect_error(encode_reps_from(version=version, other_length=10_000), "other_info_length", "runs past")
    _expect_error(encode_reps_from(version=version, other_offset=2**32 - 1), "other_info_length", "runs past")


@pytest.mark.parametrize(
    ("other_info", "fragments"),
    [
        (b"\x00\x00", ("cannot hold an MTX_ADDR",)),
        (struct.pack("<I", 0) + b"abc\x00", ("name length 0",)),
        (struct.pack("<I", 50) + b"abc\x00", ("does not fit",)),
        (struct.pack("<I", 4) + b"abcd", ("not NUL-terminated",)),
        (struct.pack("<I", 4) + b"a\x00b\x00", ("embedded NUL",)),
        (struct.pack("<I", 3) + b"\xc3\x28\x00", ("not valid UTF-8",)),
    ],
)
def test_rejects_bad_v1_address(other_info: bytes, fragments: tuple[str, ...]) -> None:
    _expect_error(encode_reps_from(version=1, other_info=other_info), "other_info", *fragments)


def _inst(cb: int, server: int, instance: int, body: bytes = b"") -> bytes:
    return struct.pack("<IIIII", cb, server, 0, instance, 0) + b"\x00" * 4 + body


@pytest.mark.parametrize(
    ("other_info", "fragments"),
    [
        (b"\x00" * 12, ("smaller than a DSA_RPC_INST",)),
        (_inst(8, 0, 0), ("DSA_RPC_INST size 8",)),
        (_inst(500, 0, 0), ("DSA_RPC_INST size 500",)),
        (_inst(30, 0, 4, b"a\x00\x00\x00\x00\x00"), ("instance_offset", "offset 4 is outside")),
        (_inst(30, 0, 30, b"a\x00\x00\x00\x00\x00"), ("instance_offset", "offset 30 is outside")),
        (_inst(30, 24, 0, b"a\x00b\x00c\x00"), ("server_offset", "no NUL terminator")),
        (_inst(30, 0, 24, b"\x00\xd8\x00\x00\x00\x00"), ("instance_offset", "not valid UTF-16LE")),
    ],
)
def test_rejects_bad_v2_address(other_info: bytes, fragments: tuple[str, ...]) -> None:
    _expect_error(encode_reps_from(version=2, other_info=other_info), "other_info", *fragments)


@pytest.mark.parametrize(("field", "offset"), [("last_success", 0x10), ("last_attempt", 0x18)])
def test_rejects_negative_times_naming_the_field(field: str, offset: int) -> None:
    fields: dict[str, Any] = {field: -5}
    error = _expect_error(encode_reps_from(**fields), field, "negative")
    assert (error.field, error.offset) == (field, offset)


# --- properties ---------------------------------------------------------------------------------

_names = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=80)
_u32 = st.integers(0, 2**32 - 1)
_dstime = st.integers(0, 2**63 - 1)
_usn = st.integers(-(2**63), 2**63 - 1)


@FUZZ
@given(
    version=st.sampled_from([1, 2]), failures=_u32, last_success=_dstime, last_attempt=_dstime,
    result=_u32, flags=_u32, usn=st.tuples(_usn, _usn, _usn), source=st.uuids(), invocation=st.uuids(),
    transport=st.uuids(), address=_names, gap=st.binary(max_size=16), trailer=st.binary(max_size=16),
)
def test_round_trip(
    version: int, failures: int, last_success: int, last_attempt: int, result: int, flags: int,
    usn: tuple[int, int, int], source: uuid.UUID, invocation: uuid.UUID, transport: uuid.UUID,
    address: str, gap: bytes, trailer: bytes,
) -> None:
    value = encode_reps_from(
        version=version, failures=failures, last_success=last_success, last_attempt=last_attempt,
        result=result, flags=flags, usn=usn, source=source, invocation=invocation, transport=transport,
        address=address, gap=gap, trailer=trailer,
    )
    link = decode_reps_from(value)
    assert link.version == version
    assert link.consecutive_failures == failures
    assert link.last_success == (last_success - DSTIME_OFFSET if last_success else None)
    assert link.last_attempt == (last_attempt - DSTIME_OFFSET if last_attempt else None)
    assert link.last_result == result
    assert int(link.replica_flags) == flags
    assert link.highest_usn == usn[2]
    assert (link.source_dsa_guid, link.source_invocation_id, link.transport_guid) == (source, invocation, transport)
    assert link.source_address == (address or None)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_decode_error(value: bytes) -> None:
    try:
        decode_reps_from(value)
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_mutated_values_raise_only_decode_error(data: st.DataObject) -> None:
    samples = [read_hex("repsfrom_v1_samba.hex"), read_hex("repsfrom_v2_samba.hex")]
    samples += lab_capture_values("repsfrom_lab_source_down.tsv")
    value = bytearray(data.draw(st.sampled_from(samples)))
    for _ in range(data.draw(st.integers(1, 8))):
        index = data.draw(st.integers(0, len(value) - 1))
        value[index] = data.draw(st.integers(0, 255))
    value = value[: data.draw(st.integers(0, len(value)))] if data.draw(st.booleans()) else value
    try:
        link = decode_reps_from(bytes(value))
    except DecodeError:
        return
    assert link.version in (1, 2)
    assert 0 <= link.last_result <= 0xFFFFFFFF


# --- independent check against Samba's own marshalling, where Samba's bindings exist -----------


@settings(max_examples=40, deadline=None)
@given(
    version=st.sampled_from([1, 2]), failures=_u32, last_success=st.integers(0, 2**40),
    result=_u32, flags=_u32, source=st.uuids(), invocation=st.uuids(),
    address=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60),
)
def test_encoder_matches_samba_ndr(
    version: int, failures: int, last_success: int, result: int, flags: int,
    source: uuid.UUID, invocation: uuid.UUID, address: str,
) -> None:
    drsblobs = pytest.importorskip("samba.dcerpc.drsblobs")
    drsuapi = pytest.importorskip("samba.dcerpc.drsuapi")
    misc = pytest.importorskip("samba.dcerpc.misc")
    ndr_pack = pytest.importorskip("samba.ndr").ndr_pack

    blob = drsblobs.repsFromToBlob()
    blob.version = version
    reps = drsblobs.repsFromTo1() if version == 1 else drsblobs.repsFromTo2()
    reps.consecutive_sync_failures = failures
    reps.last_success = last_success * 10**7  # Samba's binding takes NTTIME units
    reps.last_attempt = 0
    reps.result_last_attempt = result
    reps.replica_flags = flags
    if version == 1:
        other = drsblobs.repsFromTo1OtherInfo()
        other.dns_name = address
    else:
        other = drsblobs.repsFromTo2OtherInfo()
        other.dns_name1 = other.dns_name2 = address
    reps.other_info = other
    reps.source_dsa_obj_guid = misc.GUID(str(source))
    reps.source_dsa_invocation_id = misc.GUID(str(invocation))
    reps.transport_guid = misc.GUID(str(ZERO))
    reps.highwatermark = drsuapi.DsReplicaHighWaterMark()
    blob.ctr = reps

    expected = encode_reps_from(
        version=version, failures=failures, last_success=last_success, result=result, flags=flags,
        source=source, invocation=invocation, address=address,
    )
    assert ndr_pack(blob) == expected
    assert decode_reps_from(ndr_pack(blob)).source_address == address

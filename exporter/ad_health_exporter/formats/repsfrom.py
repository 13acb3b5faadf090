"""Decode ``repsFrom`` values (REPS_FROM, [MS-DRSR] 5.170).

``repsFrom`` lives on every naming-context head, is not replicated (so it
describes the DC it was read from), and holds one value per inbound
replication partner.  Samba and Windows both expose it, which makes it the one
replication-status source that works everywhere.

Layout (little-endian, offsets from the start of the value)::

    0x00 u32 version (1 or 2)      0x04 u32 reserved      0x08 u32 blobsize
    0x0C u32 consecutive failures  0x10 i64 last success (DSTIME)
    0x18 i64 last attempt (DSTIME) 0x20 u32 result of last attempt
    0x24 u32 other_info_offset     0x28 u32 other_info_length
    0x2C u32 replica flags         0x30 84-byte schedule   0x84 u32 reserved
    0x88 i64 x3 USN vector (tmp highest, reserved, highest)
    0xA0 source DSA objectGUID     0xB0 source invocation ID
    0xC0 transport objectGUID      0xD0 (v2 only) u32 reserved, u32 PAS data offset

The source address is *always* found through ``other_info_offset``: a v1 value
holds an MTX_ADDR there (u32 length including the NUL, then UTF-8), a v2 value
a DSA_RPC_INST ([MS-DRSR] 5.48: u32 cb, then u32 offsets of the server name,
annotation, NetworkAddress and GUID, relative to the DSA_RPC_INST, 0 = absent;
strings UTF-16LE, NUL-terminated).
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

from .errors import DecodeError
from .filetime import dstime_to_unix

_STRUCTURE = "repsFrom"
_HEADER = struct.Struct("<IIIIqqIIII")  # version .. replica_flags, 0x00-0x2F
_USN_VECTOR = struct.Struct("<qqq")
_USN_VECTOR_OFFSET = 0x88
_GUIDS_OFFSET = 0xA0
_FIXED_LENGTH = {1: 0xD0, 2: 0xD8}
_MTX_ADDR_MIN = 4
_DSA_RPC_INST = struct.Struct("<IIIII")


class ReplicaFlags(enum.IntFlag):
    """DRS_OPTIONS bits seen in ``repsFrom`` and neighbour records.

    Unknown bits are kept, so the raw value always survives.
    """

    WRIT_REP = 0x10
    INIT_SYNC = 0x20
    PER_SYNC = 0x40
    MAIL_REP = 0x80
    TWOWAY_SYNC = 0x200
    NONGC_RO_REP = 0x2000
    FULL_SYNC_IN_PROGRESS = 0x10000
    FULL_SYNC_PACKET = 0x20000
    NEVER_SYNCED = 0x200000
    PREEMPTED = 0x1000000
    DISABLE_AUTO_SYNC = 0x4000000
    DISABLE_PERIODIC_SYNC = 0x8000000
    USE_COMPRESSION = 0x10000000
    NEVER_NOTIFY = 0x20000000
    SYNC_PAS = 0x40000000


@dataclass(frozen=True)
class ReplicationNeighbor:
    """One inbound replication link: this DC pulls ``naming_context`` from a source DSA.

    Produced alike from ``repsFrom`` (:func:`decode_reps_from`) and from
    ``msDS-NCReplInboundNeighbors`` (:mod:`.neighbors`), so the replication
    check treats both sources the same.  Fields a source does not carry are
    ``None``.

    Times are Unix seconds (whole seconds); ``None`` means "never" (DSTIME 0,
    FILETIME 0 or the "never" sentinel, or 1601-01-01 in XML).
    ``last_result`` is the Win32 result of the last attempt as unsigned 32-bit
    (0 = success); see :mod:`.winerror` for names.
    """

    source_dsa_guid: uuid.UUID
    replica_flags: ReplicaFlags
    consecutive_failures: int
    last_success: int | None
    last_attempt: int | None
    last_result: int
    #: NC head DN; repsFrom values do not carry it (the caller knows which NC it read).
    naming_context: str | None = None
    #: Source NetworkAddress, normally ``<DSA GUID>._msdcs.<forest DNS name>``.
    source_address: str | None = None
    #: DN of the source's nTDSDSA object (neighbour attribute only).
    source_dsa_dn: str | None = None
    source_invocation_id: uuid.UUID | None = None
    #: objectGUID of the inter-site transport; the zero GUID for RPC.
    transport_guid: uuid.UUID | None = None
    #: DN of the inter-site transport (neighbour attribute only; ``None`` for RPC).
    transport_dn: str | None = None
    #: objectGUID of the NC head (neighbour attribute only).
    naming_context_guid: uuid.UUID | None = None
    #: repsFrom: the USN vector's highest property USN; neighbour: usnLastObjChangeSynced.
    highest_usn: int | None = None
    #: REPS_FROM version (1 or 2); ``None`` for msDS-NCReplInboundNeighbors.
    version: int | None = None


def _u32(value: bytes, offset: int, field: str) -> int:
    if offset + 4 > len(value):
        raise DecodeError(
            _STRUCTURE, f"needs 4 bytes but the value is only {len(value)} bytes long",
            field=field, offset=offset,
        )
    return int.from_bytes(value[offset:offset + 4], "little")


def _read_utf16z(
    buffer: bytes, start: int, end: int, *, structure: str, field: str, offset: int
) -> str:
    """Read a NUL-terminated UTF-16LE string at ``start`` that must end before ``end``."""
    position = start
    while True:
        terminator = buffer.find(b"\x00\x00", position, end)
        if terminator < 0:
            raise DecodeError(
                structure, f"UTF-16 string at byte {start} has no NUL terminator before byte {end}",
                field=field, offset=offset,
            )
        if (terminator - start) % 2 == 0:
            break
        position = terminator + 1
    try:
        return buffer[start:terminator].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            structure, f"string at byte {start} is not valid UTF-16LE ({exc.reason})",
            field=field, offset=offset,
        ) from None


def _time(raw: int, field: str, offset: int) -> int | None:
    try:
        return dstime_to_unix(raw)
    except DecodeError as exc:
        raise DecodeError(_STRUCTURE, exc.problem, field=field, offset=offset) from None


def _mtx_addr(value: bytes, start: int, length: int) -> str | None:
    """v1 address: u32 length (NUL included) + UTF-8 bytes."""
    name_length = _u32(value, start, "other_info.name_length")
    if name_length == 0:
        raise DecodeError(
            _STRUCTURE, "name length 0 cannot hold the NUL terminator",
            field="other_info.name_length", offset=start,
        )
    if 4 + name_length > length:
        raise DecodeError(
            _STRUCTURE,
            f"name of {name_length} bytes does not fit in other_info_length {length}",
            field="other_info.name_length", offset=start,
        )
    name = value[start + 4:start + 4 + name_length]
    if name[-1] != 0:
        raise DecodeError(_STRUCTURE, "name is not NUL-terminated", field="other_info.name", offset=start + 4)
    name = name[:-1]
    if b"\x00" in name:
        raise DecodeError(_STRUCTURE, "name contains an embedded NUL", field="other_info.name", offset=start + 4)
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            _STRUCTURE, f"name is not valid UTF-8 ({exc.reason})", field="other_info.name", offset=start + 4
        ) from None
    return text or None


def _dsa_rpc_inst(value: bytes, start: int, length: int) -> str | None:
    """v2 address: the NetworkAddress of a DSA_RPC_INST, else its server name."""
    if length < _DSA_RPC_INST.size:
        raise DecodeError(
            _STRUCTURE, f"other_info_length {length} is smaller than a DSA_RPC_INST ({_DSA_RPC_INST.size} bytes)",
            field="other_info_length", offset=0x28,
        )
    cb, server_offset, _annotation, instance_offset, _guid = _DSA_RPC_INST.unpack_from(value, start)
    if cb < _DSA_RPC_INST.size or cb > length:
        raise DecodeError(
            _STRUCTURE, f"DSA_RPC_INST size {cb} is outside {_DSA_RPC_INST.size}..{length}",
            field="other_info.cb", offset=start,
        )
    end = start + cb
    # [MS-DRSR] 5.172 names the NetworkAddress (instance) as the partner's
    # address; Samba writes the same name into both slots.
    for field, relative, field_offset in (
        ("other_info.instance_offset", instance_offset, start + 12),
        ("other_info.server_offset", server_offset, start + 4),
    ):
        if relative == 0:
            continue
        if relative < _DSA_RPC_INST.size or relative >= cb:
            raise DecodeError(
                _STRUCTURE, f"string offset {relative} is outside the DSA_RPC_INST body "
                f"({_DSA_RPC_INST.size}..{cb - 1})",
                field=field, offset=field_offset,
            )
        text = _read_utf16z(
            value, start + relative, end, structure=_STRUCTURE, field=field, offset=field_offset
        )
        if text:
            return text
    return None


def decode_reps_from(value: bytes, *, naming_context: str | None = None) -> ReplicationNeighbor:
    """Decode one ``repsFrom`` value (version 1 or 2).

    ``naming_context`` (the DN of the NC head the value was read from) is
    copied into the result, as the value itself does not name its NC.

    Raises :class:`DecodeError` (naming field and offset) when: the value is
    shorter than the fixed part of its version; the version is not 1 or 2;
    ``blobsize`` differs from the value's length; ``other_info_offset`` points
    into the fixed part or the address structure runs past the value; the
    address structure is malformed (bad length, missing NUL, invalid UTF-8 or
    UTF-16, string offsets outside the structure); a time is negative.

    Times: DSTIME 0 gives ``None`` ("never").  An empty address gives
    ``source_address=None``.
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise DecodeError(_STRUCTURE, f"expected bytes, got {type(value).__name__}")
    value = bytes(value)
    version = _u32(value, 0, "version")
    if version not in _FIXED_LENGTH:
        raise DecodeError(_STRUCTURE, f"unsupported version {version} (expected 1 or 2)", field="version", offset=0)
    fixed = _FIXED_LENGTH[version]
    if len(value) < fixed:
        raise DecodeError(
            _STRUCTURE, f"value is {len(value)} bytes, shorter than the {fixed}-byte fixed part of version {version}"
        )
    (
        _version, _reserved, blobsize, failures, last_success, last_attempt,
        result, other_offset, other_length, flags,
    ) = _HEADER.unpack_from(value, 0)
    if blobsize != len(value):
        raise DecodeError(
            _STRUCTURE, f"blobsize {blobsize} does not match the value length {len(value)}",
            field="blobsize", offset=0x08,
        )
    if other_offset < fixed:
        raise DecodeError(
            _STRUCTURE, f"offset {other_offset} points into the {fixed}-byte fixed part",
            field="other_info_offset", offset=0x24,
        )
    if other_offset + other_length > len(value):
        raise DecodeError(
            _STRUCTURE,
            f"address structure at {other_offset} of {other_length} bytes runs past the {len(value)}-byte value",
            field="other_info_length", offset=0x28,
        )
    if version == 1:
        if other_length < _MTX_ADDR_MIN:
            raise DecodeError(
                _STRUCTURE, f"other_info_length {other_length} cannot hold an MTX_ADDR",
                field="other_info_length", offset=0x28,
            )
        address = _mtx_addr(value, other_offset, other_length)
    else:
        address = _dsa_rpc_inst(value, other_offset, other_length)
    _tmp_highest, _reserved_usn, highest_usn = _USN_VECTOR.unpack_from(value, _USN_VECTOR_OFFSET)
    guids = [uuid.UUID(bytes_le=value[o:o + 16]) for o in range(_GUIDS_OFFSET, _GUIDS_OFFSET + 48, 16)]
    return ReplicationNeighbor(
        source_dsa_guid=guids[0],
        replica_flags=ReplicaFlags(flags),
        consecutive_failures=failures,
        last_success=_time(last_success, "last_success", 0x10),
        last_attempt=_time(last_attempt, "last_attempt", 0x18),
        last_result=result,
        naming_context=naming_context,
        source_address=address,
        source_invocation_id=guids[1],
        transport_guid=guids[2],
        highest_usn=highest_usn,
        version=version,
    )

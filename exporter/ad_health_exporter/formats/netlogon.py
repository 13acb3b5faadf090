"""Decode the Netlogon value of an LDAP ping answer: NETLOGON_SAM_LOGON_RESPONSE_EX ([MS-ADTS] 6.3.1.9).

Layout (little-endian)::

    0 u16 Opcode (23 LOGON_SAM_LOGON_RESPONSE_EX; 24 pause, 25 user unknown share the layout)
    2 u16 Sbz    4 u32 Flags (DS_FLAG)    8 GUID DomainGuid (16 bytes)
    24 DnsForestName, DnsDomainName, DnsHostName, NetbiosDomainName, NetbiosComputerName,
       UserName, DcSiteName, ClientSiteName: RFC 1035 names, UTF-8, with compression pointers
       whose offsets count from the start of this value
    then, by the NtVer of the request: DcSockAddrSize u8 and DcSockAddr (NETLOGON_NT_VERSION_5EX_WITH_IP),
    NextClosestSiteName (NETLOGON_NT_VERSION_WITH_CLOSEST_SITE; Samba 4.17 omits it);
    then NtVersion u32, LmNtToken u16, Lm20Token u16.

Pointers are followed only backwards (to an offset before the pointer itself), as every
compressor writes them, so a hostile value cannot make the decoder loop.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
import uuid
from dataclasses import dataclass

from .errors import DecodeError

_STRUCTURE = "NETLOGON_SAM_LOGON_RESPONSE_EX"
_HEADER = struct.Struct("<HHI16s")
_TAIL = struct.Struct("<IHH")
_SOCKADDR_IN = struct.Struct("<HH4s8s")
_AF_INET = 2
_MAX_NAME = 255  # RFC 1035: a name is at most 255 octets on the wire, so at most 127 labels
_MAX_HOPS = 127  # compression pointers followed in one name

LOGON_SAM_LOGON_RESPONSE_EX = 23
LOGON_SAM_PAUSE_RESPONSE_EX = 24
LOGON_SAM_USER_UNKNOWN_EX = 25
_EX_OPCODES = frozenset({LOGON_SAM_LOGON_RESPONSE_EX, LOGON_SAM_PAUSE_RESPONSE_EX, LOGON_SAM_USER_UNKNOWN_EX})

# NtVer bits of the request ([MS-ADTS] 6.3.1.1) that change what the answer holds.
NETLOGON_NT_VERSION_5 = 0x2
NETLOGON_NT_VERSION_5EX = 0x4
NETLOGON_NT_VERSION_5EX_WITH_IP = 0x8
NETLOGON_NT_VERSION_WITH_CLOSEST_SITE = 0x10


class DsFlag(enum.IntFlag):
    """DS_FLAG bits of the answer's Flags ([MS-ADTS] 6.3.1.2): what the DC advertises."""

    PDC = 0x1
    GC = 0x4
    LDAP = 0x8
    DS = 0x10
    KDC = 0x20
    TIMESERV = 0x40
    CLOSEST = 0x80
    WRITABLE = 0x100
    GOOD_TIMESERV = 0x200
    NDNC = 0x400
    SELECT_SECRET_DOMAIN_6 = 0x800  # an RODC
    FULL_SECRET_DOMAIN_6 = 0x1000  # a writable DC of Windows Server 2008 or later
    WS = 0x2000
    DS_8 = 0x4000
    DS_9 = 0x8000
    DS_10 = 0x10000


@dataclass(frozen=True)
class SamLogonResponseEx:
    opcode: int
    flags: DsFlag
    domain_guid: uuid.UUID
    dns_forest_name: str
    dns_domain_name: str
    dns_host_name: str
    netbios_domain_name: str
    netbios_computer_name: str
    user_name: str
    dc_site_name: str
    client_site_name: str  # "" when the client's address is in no subnet of any site
    dc_address: str | None = None  # only when NETLOGON_NT_VERSION_5EX_WITH_IP was asked for
    next_closest_site_name: str | None = None  # only with NETLOGON_NT_VERSION_WITH_CLOSEST_SITE
    nt_version: int = 0
    lm_nt_token: int = 0
    lm20_token: int = 0


def _fail(problem: str, *, field: str | None = None, offset: int | None = None) -> DecodeError:
    return DecodeError(_STRUCTURE, problem, field=field, offset=offset)


def decode_name(data: bytes, start: int, field: str = "name") -> tuple[str, int]:
    """The RFC 1035 name at ``start`` (without a trailing dot) and the offset after it in ``data``.

    A pointer (two bytes, top bits 11) continues the name at an earlier offset of ``data``;
    the name ends where its first pointer or its terminating zero byte is.
    """
    labels: list[str] = []
    i = start
    end: int | None = None  # where the name ends in the sequence, once a pointer has been followed
    wire = hops = 0
    # Terminates: every label adds at least two bytes to a name capped at 255, and pointers
    # are capped in number (each also goes strictly backwards).
    while True:
        if i >= len(data):
            raise _fail(f"runs past the end of the {len(data)}-byte value", field=field, offset=i)
        length = data[i]
        kind = length & 0xC0
        if kind == 0xC0:
            if i + 2 > len(data):
                raise _fail("pointer cut short at the end of the value", field=field, offset=i)
            target = ((length & 0x3F) << 8) | data[i + 1]
            if target >= i:
                raise _fail(f"compression pointer to offset {target:#x} does not point backwards",
                            field=field, offset=i)
            hops += 1
            if hops > _MAX_HOPS:
                raise _fail(f"more than {_MAX_HOPS} compression pointers in one name", field=field, offset=i)
            if end is None:
                end = i + 2
            i = target
            continue
        if kind:
            raise _fail(f"label type 0x{kind:02x} is not a length or a pointer", field=field, offset=i)
        if length == 0:
            return ".".join(labels), end if end is not None else i + 1
        if i + 1 + length > len(data):
            raise _fail(f"{length}-byte label runs past the end of the value", field=field, offset=i)
        wire += 1 + length
        if wire + 1 > _MAX_NAME:
            raise _fail(f"name longer than {_MAX_NAME} bytes", field=field, offset=i)
        try:
            labels.append(data[i + 1:i + 1 + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise _fail("label is not valid UTF-8", field=field, offset=i) from None
        i += 1 + length


def _sockaddr(data: bytes, i: int) -> tuple[str, int]:
    if i >= len(data):
        raise _fail("missing", field="DcSockAddrSize", offset=i)
    size = data[i]
    if size != _SOCKADDR_IN.size:
        raise _fail(f"{size} bytes; only a {_SOCKADDR_IN.size}-byte IPv4 sockaddr_in is defined",
                    field="DcSockAddrSize", offset=i)
    if i + 1 + size > len(data):
        raise _fail("runs past the end of the value", field="DcSockAddr", offset=i + 1)
    family, _port, address, _zero = _SOCKADDR_IN.unpack_from(data, i + 1)
    if family != _AF_INET:
        raise _fail(f"address family {family}, expected AF_INET (2)", field="DcSockAddr", offset=i + 1)
    return str(ipaddress.IPv4Address(address)), i + 1 + size


def decode_sam_logon_response_ex(
    value: bytes | bytearray | memoryview, nt_version: int = NETLOGON_NT_VERSION_5EX
) -> SamLogonResponseEx:
    """Decode one Netlogon value; ``nt_version`` is the NtVer the request carried.

    Bytes after Lm20Token are ignored: the optional fields grew with NtVer before, and a
    newer DC adding one must not read as a DC that does not answer.
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _fail(f"expected bytes, got {type(value).__name__}")
    data = bytes(value)
    if len(data) < _HEADER.size:
        raise _fail(f"{len(data)} bytes, shorter than the {_HEADER.size}-byte header")
    opcode, _sbz, flags, guid = _HEADER.unpack_from(data)
    if opcode not in _EX_OPCODES:
        raise _fail(f"opcode {opcode} is not a NETLOGON_SAM_LOGON_RESPONSE_EX (23, 24 or 25): "
                    "the DC did not answer with the NtVer 5EX layout", field="Opcode", offset=0)
    i = _HEADER.size
    names: list[str] = []
    for field in ("DnsForestName", "DnsDomainName", "DnsHostName", "NetbiosDomainName", "NetbiosComputerName",
                  "UserName", "DcSiteName", "ClientSiteName"):
        name, i = decode_name(data, i, field)
        names.append(name)
    dc_address = next_closest = None
    if nt_version & NETLOGON_NT_VERSION_5EX_WITH_IP:
        dc_address, i = _sockaddr(data, i)
    # Samba leaves NextClosestSiteName out even when asked: present only if more than the tail is left.
    if nt_version & NETLOGON_NT_VERSION_WITH_CLOSEST_SITE and len(data) - i > _TAIL.size:
        next_closest, i = decode_name(data, i, "NextClosestSiteName")
    if i + _TAIL.size > len(data):
        raise _fail(f"{len(data) - i} bytes left, the tail needs {_TAIL.size}", field="NtVersion", offset=i)
    version, lm_nt, lm20 = _TAIL.unpack_from(data, i)
    return SamLogonResponseEx(
        opcode=opcode,
        flags=DsFlag(flags),
        domain_guid=uuid.UUID(bytes_le=guid),
        dns_forest_name=names[0],
        dns_domain_name=names[1],
        dns_host_name=names[2],
        netbios_domain_name=names[3],
        netbios_computer_name=names[4],
        user_name=names[5],
        dc_site_name=names[6],
        client_site_name=names[7],
        dc_address=dc_address,
        next_closest_site_name=next_closest,
        nt_version=version,
        lm_nt_token=lm_nt,
        lm20_token=lm20,
    )

"""Tests for the NETLOGON_SAM_LOGON_RESPONSE_EX decoder ([MS-ADTS] 6.3.1.9), with LDAP ping answers
captured from the lab."""

from __future__ import annotations

import struct
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.netlogon import (
    LOGON_SAM_LOGON_RESPONSE_EX,
    NETLOGON_NT_VERSION_5EX_WITH_IP,
    NETLOGON_NT_VERSION_WITH_CLOSEST_SITE,
    DsFlag,
    SamLogonResponseEx,
    decode_name,
    decode_sam_logon_response_ex,
)
from ad_health_exporter.ldap import ber

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=300, deadline=None)
SITE = "Default-First-Site-Name"
LAB_GUID = uuid.UUID("572261ca-58bc-458f-99d3-1391a2d4e338")


def lab_datagrams() -> dict[str, tuple[int, bytes]]:
    """label -> (NtVer of the request, whole answer datagram), as captured from the lab."""
    out = {}
    for line in (DATA / "netlogon_lab.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            label, version, hex_text = line.split()
            out[label] = (int(version, 16), bytes.fromhex(hex_text))
    return out


def lab_values() -> dict[str, tuple[int, bytes]]:
    """label -> (NtVer, Netlogon value) of the captured answers that carry one."""
    out = {}
    for label, (version, datagram) in lab_datagrams().items():
        end = ber.frame_end(datagram)
        assert end is not None
        message = datagram[:end]
        if ber.header(message)[1] == ber.OP_SEARCH_ENTRY:
            out[label] = (version, ber.decode_entry(message)[1]["netlogon"][0])
    return out


# --- test-only encoder, written from the documented layout ---------------------------------------


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in (label.encode() for label in name.split(".") if label)) + b"\x00"


def encode_response(
    *names: str, flags: int = 0x13FD, opcode: int = LOGON_SAM_LOGON_RESPONSE_EX, tail: bytes | None = None,
    guid: uuid.UUID = LAB_GUID,
) -> bytes:
    """Eight names, uncompressed, then NtVersion 5 and both tokens 0xffff."""
    assert len(names) == 8
    body = b"".join(encode_name(n) for n in names)
    return struct.pack("<HHI", opcode, 0, flags) + guid.bytes_le + body + (
        struct.pack("<IHH", 5, 0xFFFF, 0xFFFF) if tail is None else tail
    )


NAMES = ("lab.example", "lab.example", "dc1.lab.example", "LAB", "DC1", "", SITE, SITE)


# --- recorded answers ---------------------------------------------------------------------------


def test_lab_answers_byte_for_byte() -> None:
    values = lab_values()
    dc1 = decode_sam_logon_response_ex(values["dc1"][1], values["dc1"][0])
    assert dc1 == SamLogonResponseEx(
        opcode=23, flags=DsFlag(0x13FD), domain_guid=LAB_GUID, dns_forest_name="lab.example",
        dns_domain_name="lab.example", dns_host_name="dc1.lab.example", netbios_domain_name="LAB",
        netbios_computer_name="DC1", user_name="", dc_site_name=SITE, client_site_name=SITE,
        nt_version=5, lm_nt_token=0xFFFF, lm20_token=0xFFFF,
    )
    # The facts measured on the lab: PDC|GC|LDAP|DS|KDC|TIMESERV|CLOSEST|WRITABLE|GOOD_TIMESERV|FULL_SECRET.
    assert dc1.flags == (DsFlag.PDC | DsFlag.GC | DsFlag.LDAP | DsFlag.DS | DsFlag.KDC | DsFlag.TIMESERV
                         | DsFlag.CLOSEST | DsFlag.WRITABLE | DsFlag.GOOD_TIMESERV | DsFlag.FULL_SECRET_DOMAIN_6)
    # The uncompressed encoder gives the same record as Samba's compressed answer.
    assert decode_sam_logon_response_ex(encode_response(*NAMES)) == dc1


def test_lab_answers_of_dc2_with_and_without_its_kdc() -> None:
    values = lab_values()
    dc2 = decode_sam_logon_response_ex(values["dc2"][1])
    stopped = decode_sam_logon_response_ex(values["dc2_kdc_stopped"][1])
    assert (dc2.dns_host_name, dc2.netbios_computer_name) == ("dc2.lab.example", "DC2")
    assert dc2.flags == 0x13FC and DsFlag.PDC not in dc2.flags and DsFlag.KDC in dc2.flags
    assert stopped.flags == 0x13DC and DsFlag.KDC not in stopped.flags
    assert dc2.flags & ~DsFlag.KDC == stopped.flags


def test_lab_answer_with_the_dc_address_and_without_next_closest_site() -> None:
    version, value = lab_values()["dc1_with_ip_closest_site"]
    assert version & NETLOGON_NT_VERSION_5EX_WITH_IP and version & NETLOGON_NT_VERSION_WITH_CLOSEST_SITE
    answer = decode_sam_logon_response_ex(value, version)
    # Samba leaves NextClosestSiteName out although it was asked for; its NtVersion says so (no 0x10).
    assert answer.dc_address is not None and answer.dc_address.endswith(".11")
    assert answer.next_closest_site_name is None and answer.nt_version == 0x0D
    # Read without the address bit, the sockaddr would be taken for the tail: the request's NtVer matters.
    assert decode_sam_logon_response_ex(value).nt_version != 0x0D


def test_next_closest_site_when_present() -> None:
    tail = encode_name("Branch") + struct.pack("<IHH", 0x15, 0xFFFF, 0xFFFF)
    answer = decode_sam_logon_response_ex(encode_response(*NAMES, tail=tail), 0x16)
    assert answer.next_closest_site_name == "Branch" and answer.nt_version == 0x15


def test_compression_pointers_resolve_into_the_whole_value() -> None:
    value = lab_values()["dc1"][1]
    # DnsDomainName is only a pointer to DnsForestName at offset 24.
    assert value[37:39] == b"\xc0\x18"
    assert decode_name(value, 37) == ("lab.example", 39)
    # DnsHostName: one label, then a pointer; the name ends after the pointer.
    assert decode_name(value, 39) == ("dc1.lab.example", 45)


def test_unknown_flag_bits_are_kept_and_bytes_after_the_tail_ignored() -> None:
    answer = decode_sam_logon_response_ex(encode_response(*NAMES, flags=0x8013FD) + b"future")
    assert int(answer.flags) == 0x8013FD and answer.nt_version == 5


def test_accepts_bytearray_and_memoryview() -> None:
    value = lab_values()["dc2"][1]
    assert decode_sam_logon_response_ex(bytearray(value)) == decode_sam_logon_response_ex(memoryview(value))


# --- rejected values ----------------------------------------------------------------------------


def _with_host(raw_host: bytes) -> bytes:
    """The lab dc1 value with its DnsHostName (offset 39, 6 bytes) replaced by raw bytes."""
    value = lab_values()["dc1"][1]
    return value[:39] + raw_host + value[45:]


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        (b"", ("0 bytes", "24-byte header")),
        ("text", ("expected bytes",)),
        (encode_response(*NAMES, opcode=19), ("Opcode", "opcode 19", "5EX layout")),
        (encode_response(*NAMES)[:30], ("DnsForestName", "runs past")),
        (encode_response(*NAMES, tail=b"\x05\x00"), ("NtVersion", "2 bytes left")),
        (_with_host(b"\xc0\x27" + b"\x00" * 4), ("DnsHostName", "does not point backwards")),
        (_with_host(b"\xc0\x50" + b"\x00" * 4), ("DnsHostName", "does not point backwards")),
        (_with_host(b"\x40abcde"), ("label type 0x40",)),
        (_with_host(b"\x80abcde"), ("label type 0x80",)),
        (_with_host(b"\x03a\xffc\xc0\x18"), ("not valid UTF-8",)),
        (lab_values()["dc1"][1][:40], ("runs past the end",)),
        (encode_response(*NAMES, tail=b"\x01"), ("NtVersion",)),
    ],
)
def test_rejected_values(value: bytes, fragments: tuple[str, ...]) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_sam_logon_response_ex(value)
    message = str(caught.value)
    assert message.startswith("NETLOGON_SAM_LOGON_RESPONSE_EX")
    for fragment in fragments:
        assert fragment in message, message


def test_pointer_loops_end() -> None:
    # A label followed by a pointer back to itself repeats the label until the name is too long.
    data = b"\x00" * 10 + b"\x01a\xc0\x0a"
    with pytest.raises(DecodeError, match="longer than 255 bytes"):
        decode_name(data, 10)
    # A chain of pointers, each one further back, stops at the hop limit.
    chain = b"\x00" + b"".join(struct.pack(">H", 0xC000 | (1 + 2 * (k - 1))) if k else b"\xc0\x00"
                               for k in range(200))
    with pytest.raises(DecodeError, match="more than 127 compression pointers"):
        decode_name(chain, len(chain) - 2)


def test_sockaddr_must_be_ipv4() -> None:
    version, value = lab_values()["dc1_with_ip_closest_site"]
    at = value.index(b"\x10\x02\x00")
    with pytest.raises(DecodeError, match="DcSockAddrSize"):
        decode_sam_logon_response_ex(value[:at] + b"\x1c" + value[at + 1:], version)
    with pytest.raises(DecodeError, match="AF_INET"):
        decode_sam_logon_response_ex(value[:at + 1] + b"\x17" + value[at + 2:], version)


# --- properties ---------------------------------------------------------------------------------

_label = st.text(
    st.characters(whitelist_categories=("Ll", "Lu", "Nd")) | st.sampled_from("-_"), min_size=1, max_size=20
)
_name = st.lists(_label, min_size=0, max_size=4).map(".".join).filter(lambda n: len(encode_name(n)) < 200)


@FUZZ
@given(names=st.tuples(*[_name] * 8), flags=st.integers(0, 0xFFFFFFFF), guid=st.uuids())
def test_round_trip(names: tuple[str, ...], flags: int, guid: uuid.UUID) -> None:
    answer = decode_sam_logon_response_ex(encode_response(*names, flags=flags, guid=guid))
    assert (answer.dns_forest_name, answer.dns_domain_name, answer.dns_host_name, answer.netbios_domain_name,
            answer.netbios_computer_name, answer.user_name, answer.dc_site_name, answer.client_site_name) == names
    assert int(answer.flags) == flags and answer.domain_guid == guid


@FUZZ
@given(st.binary(max_size=160), st.sampled_from([0x6, 0xE, 0x16, 0x1E]))
def test_arbitrary_bytes_raise_only_decode_error(value: bytes, version: int) -> None:
    try:
        decode_sam_logon_response_ex(value, version)
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_mutated_lab_answers_raise_only_decode_error(data: st.DataObject) -> None:
    version, original = data.draw(st.sampled_from(sorted(lab_values().values())))
    value = bytearray(original)
    for _ in range(data.draw(st.integers(1, 6))):
        value[data.draw(st.integers(0, len(value) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_sam_logon_response_ex(bytes(value), version)
    except DecodeError:
        pass


@FUZZ
@given(st.binary(max_size=80), st.integers(0, 90))
def test_name_on_arbitrary_bytes_raises_only_decode_error(data: bytes, start: int) -> None:
    try:
        name, end = decode_name(data, start)
    except DecodeError:
        return
    assert start < end <= len(data) and len(name) <= 255

"""Tests for the Kerberos Ticket envelope decoder (RFC 4120 5.3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.kerberos_ticket import KerberosTicket, decode_ticket

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=300, deadline=None)


# --- test-only DER encoder, written from RFC 4120's ASN.1 ----------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8) if value >= 0 else max(1, ((~value).bit_length() + 8) // 8)
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def ctx(n: int, content: bytes) -> bytes:
    return tlv(0xA0 | n, content)


def general_string(text: str) -> bytes:
    return tlv(0x1B, text.encode())


def encode_ticket(
    *,
    realm: str = "LAB.EXAMPLE",
    sname: tuple[str, ...] = ("HOST", "fs01.lab.example"),
    name_type: int = 2,
    etype: int = 18,
    kvno: int | None = 5,
    cipher: bytes = b"\x42" * 40,
    tkt_vno: int = 5,
) -> bytes:
    names = tlv(0x30, b"".join(general_string(s) for s in sname))
    principal = tlv(0x30, ctx(0, integer(name_type)) + ctx(1, names))
    enc = ctx(0, integer(etype)) + (ctx(1, integer(kvno)) if kvno is not None else b"") + ctx(2, tlv(0x04, cipher))
    body = ctx(0, integer(tkt_vno)) + ctx(1, general_string(realm)) + ctx(2, principal) + ctx(3, tlv(0x30, enc))
    return tlv(0x61, tlv(0x30, body))


def lab_samples() -> list[tuple[str, str, int, int, bytes]]:
    out = []
    for line in (DATA / "kerberos_tickets_lab.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        label, service, kvno, etype, value = line.split("\t")
        out.append((label, service, int(kvno), int(etype), bytes.fromhex(value)))
    return out


# --- recorded samples ----------------------------------------------------------------------------


@pytest.mark.parametrize("sample", lab_samples(), ids=lambda s: s[0])
def test_lab_tickets(sample: tuple[str, str, int, int, bytes]) -> None:
    _label, service, kvno, etype, value = sample
    ticket = decode_ticket(value)
    assert ticket.realm == "LAB.EXAMPLE"
    assert ticket.service == service
    assert ticket.sname_type == 1  # NT-PRINCIPAL, as MIT asks for a kerberos_principal name
    assert (ticket.kvno, ticket.etype) == (kvno, etype)
    assert 0 < ticket.cipher_length < len(value)


def test_lab_samples_cover_aes_and_rc4() -> None:
    assert {s[3] for s in lab_samples()} == {18, 23}


def test_the_cipher_text_is_never_returned() -> None:
    ticket = decode_ticket(encode_ticket(cipher=b"SECRET-CIPHER" * 4))
    assert ticket.cipher_length == 52
    assert b"SECRET" not in repr(ticket).encode()
    assert all(not isinstance(getattr(ticket, f), (bytes, bytearray)) for f in KerberosTicket.__dataclass_fields__)


# --- decoding ------------------------------------------------------------------------------------


def test_decodes_every_field() -> None:
    ticket = decode_ticket(encode_ticket(sname=("ldap", "dc1.lab.example", "lab.example"), kvno=7, etype=17))
    assert ticket == KerberosTicket(5, "LAB.EXAMPLE", 2, ("ldap", "dc1.lab.example", "lab.example"), 17, 7, 40)


def test_kvno_is_optional() -> None:
    assert decode_ticket(encode_ticket(kvno=None)).kvno is None


@pytest.mark.parametrize(("written", "read"), [(0, 0), (2**31 - 1, 2**31 - 1), (2**31, 2**31), (2**32 - 1, 2**32 - 1),
                                               (-1, 2**32 - 1), (-(2**31), 2**31)])
def test_kvno_is_unsigned_32_bit_even_when_written_negative(written: int, read: int) -> None:
    # An RODC's kvno carries its number in the high 16 bits; some encoders write such values as negative Int32.
    assert decode_ticket(encode_ticket(kvno=written)).kvno == read


def test_long_form_lengths() -> None:
    ticket = decode_ticket(encode_ticket(cipher=b"\x00" * 70_000))
    assert ticket.cipher_length == 70_000


def test_accepts_bytearray_and_memoryview() -> None:
    value = encode_ticket()
    assert decode_ticket(bytearray(value)) == decode_ticket(memoryview(value)) == decode_ticket(value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (b"", "field Ticket at offset 0x0: missing"),
        (b"\x30\x00", "tag 0x30 where 0x61 was expected"),
        (b"\x61", "truncated before its length"),
        (b"\x61\x80\x00\x00", "indefinite length is not DER"),
        (b"\x61\x85\x00\x00\x00\x00\x01", "beyond any ticket"),
        (b"\x61\x05\x30\x03", "5 bytes of content, but only 2 remain"),
        (encode_ticket() + b"\x00", "1 bytes after the ticket"),
        (encode_ticket(tkt_vno=4), "4: not a Kerberos 5 ticket"),
        (encode_ticket(sname=()), "no name components"),
        (encode_ticket(etype=2**31), "outside Int32"),
        (encode_ticket(kvno=2**32), "outside UInt32"),
        (encode_ticket(kvno=2**40), "beyond 32 bits"),
        (tlv(0x61, tlv(0x30, ctx(0, integer(5)))), "field realm"),
        (tlv(0x61, tlv(0x30, ctx(0, integer(5)) + ctx(1, tlv(0x1B, b"\xff\xfe")))), "not UTF-8"),
        (tlv(0x61, tlv(0x30, ctx(0, integer(5) + b"\x00"))), "bytes after the value inside its tag"),
        (tlv(0x61, tlv(0x30, ctx(0, tlv(0x02, b"")))), "empty INTEGER"),
        (b"\x7f\x81\x01\x00", "multi-byte tag"),
    ],
)
def test_rejected_values(value: bytes, fragment: str) -> None:
    with pytest.raises(DecodeError, match="Kerberos Ticket") as caught:
        decode_ticket(value)
    assert fragment in str(caught.value)


def test_rejects_non_bytes() -> None:
    with pytest.raises(DecodeError, match="expected bytes"):
        decode_ticket("a ticket")  # type: ignore[arg-type]


def test_element_after_enc_part_is_rejected() -> None:
    value = encode_ticket()
    inner = value[4:] if value[1] & 0x80 else value[2:]  # the SEQUENCE inside [APPLICATION 1]
    seq_content = inner[4:] if inner[1] & 0x80 else inner[2:]
    with pytest.raises(DecodeError, match="after enc-part"):
        decode_ticket(tlv(0x61, tlv(0x30, seq_content + ctx(4, integer(1)))))


# --- fuzzing -------------------------------------------------------------------------------------


@FUZZ
@given(
    realm=st.text(min_size=1, max_size=30),
    sname=st.lists(st.text(max_size=40), min_size=1, max_size=4).map(tuple),
    name_type=st.integers(-(2**31), 2**31 - 1),
    etype=st.integers(-(2**31), 2**31 - 1),
    kvno=st.none() | st.integers(0, 2**32 - 1),
    cipher=st.binary(max_size=300),
)
def test_round_trip(realm: str, sname: tuple[str, ...], name_type: int, etype: int, kvno: int | None,
                    cipher: bytes) -> None:
    ticket = decode_ticket(encode_ticket(realm=realm, sname=sname, name_type=name_type, etype=etype, kvno=kvno,
                                         cipher=cipher))
    assert ticket == KerberosTicket(5, realm, name_type, sname, etype, kvno, len(cipher))


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(value: bytes) -> None:
    try:
        decode_ticket(value)
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_mutated_samples_raise_only_decode_error(data: st.DataObject) -> None:
    value = bytearray(data.draw(st.sampled_from([s[4] for s in lab_samples()] + [encode_ticket()])))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(value) - 1))
        value[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(value)))
    try:
        decode_ticket(bytes(value[:cut]))
    except DecodeError:
        pass

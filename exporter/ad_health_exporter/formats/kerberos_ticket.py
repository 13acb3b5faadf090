"""Kerberos tickets (RFC 4120 5.3): the clear-text envelope of a ticket, never its secret part.

    Ticket        ::= [APPLICATION 1] SEQUENCE {
            tkt-vno   [0] INTEGER (5),
            realm     [1] Realm,
            sname     [2] PrincipalName,
            enc-part  [3] EncryptedData }
    PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
    EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING }

The key version (``kvno``) in ``enc-part`` is the version of the service's key the KDC encrypted
the ticket with: the one fact a monitor needs to see which key a DC holds for a service. The
cipher text is only measured, never returned: a service ticket can be cracked offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DecodeError

_STRUCTURE = "Kerberos Ticket"
_APPLICATION_1 = 0x61  # [APPLICATION 1], constructed
_SEQUENCE = 0x30
_INTEGER = 0x02
_OCTET_STRING = 0x04
_GENERAL_STRING = 0x1B  # KerberosString, Realm
_MAX_INTEGER_BYTES = 5  # UInt32 needs 5 in DER (a leading 0x00 for values of 2**31 and above)


def _context(n: int) -> int:
    return 0xA0 | n  # [n], constructed


@dataclass(frozen=True)
class KerberosTicket:
    tkt_vno: int
    realm: str
    sname_type: int
    sname: tuple[str, ...]
    etype: int  # the enctype of enc-part (17, 18: AES; 23: RC4)
    kvno: int | None  # key version of the service key; absent means the KDC did not say
    cipher_length: int  # bytes of cipher text: its length only, never its content

    @property
    def service(self) -> str:
        """The server principal without realm, as an SPN is written (``HTTP/app.lab.example``)."""
        return "/".join(self.sname)


@dataclass(frozen=True)
class _Tlv:
    tag: int
    start: int  # offset of the tag byte in the whole value
    content_start: int
    end: int  # offset just past the content


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def fail(self, field: str, problem: str, offset: int) -> DecodeError:
        return DecodeError(_STRUCTURE, problem, field=field, offset=offset)

    def tlv(self, pos: int, limit: int, field: str) -> _Tlv:
        if pos >= limit:
            raise self.fail(field, "missing (the enclosing element ends here)", pos)
        tag = self.data[pos]
        if tag & 0x1F == 0x1F:
            raise self.fail(field, f"multi-byte tag {tag:#04x} is not used by Kerberos", pos)
        if pos + 1 >= limit:
            raise self.fail(field, "truncated before its length", pos)
        first = self.data[pos + 1]
        head = pos + 2
        if first < 0x80:
            length = first
        elif first == 0x80:
            raise self.fail(field, "indefinite length is not DER", pos + 1)
        else:
            count = first & 0x7F
            if count > 4:
                raise self.fail(field, f"length of {count} bytes is beyond any ticket", pos + 1)
            if head + count > limit:
                raise self.fail(field, "truncated inside its length", pos + 1)
            length = int.from_bytes(self.data[head : head + count], "big")
            head += count
        if head + length > limit:
            raise self.fail(field, f"{length} bytes of content, but only {limit - head} remain", pos)
        return _Tlv(tag, pos, head, head + length)

    def expect(self, pos: int, limit: int, tag: int, field: str) -> _Tlv:
        tlv = self.tlv(pos, limit, field)
        if tlv.tag != tag:
            raise self.fail(field, f"tag {tlv.tag:#04x} where {tag:#04x} was expected", pos)
        return tlv

    def explicit(self, pos: int, limit: int, n: int, inner: int, field: str) -> tuple[_Tlv, _Tlv]:
        """``[n] EXPLICIT`` around one element of tag ``inner``, filling the tag exactly."""
        outer = self.expect(pos, limit, _context(n), field)
        value = self.expect(outer.content_start, outer.end, inner, field)
        if value.end != outer.end:
            raise self.fail(field, "bytes after the value inside its tag", value.end)
        return outer, value

    def integer(self, tlv: _Tlv, field: str) -> int:
        raw = self.data[tlv.content_start : tlv.end]
        if not raw:
            raise self.fail(field, "empty INTEGER", tlv.start)
        if len(raw) > _MAX_INTEGER_BYTES:
            raise self.fail(field, f"INTEGER of {len(raw)} bytes is beyond 32 bits", tlv.start)
        return int.from_bytes(raw, "big", signed=True)

    def string(self, tlv: _Tlv, field: str) -> str:
        raw = self.data[tlv.content_start : tlv.end]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(field, "not UTF-8 text", tlv.start) from None


def _int32(value: int, reader: _Reader, tlv: _Tlv, field: str) -> int:
    if not -(2**31) <= value < 2**31:
        raise reader.fail(field, f"{value} is outside Int32", tlv.start)
    return value


def _uint32(value: int, reader: _Reader, tlv: _Tlv, field: str) -> int:
    # Some encoders write kvnos of 2**31 and above as negative Int32 (RFC 4120 5.2.9 notes it):
    # read them as the unsigned number they stand for.
    if -(2**31) <= value < 0:
        return value + 2**32
    if value >= 2**32:
        raise reader.fail(field, f"{value} is outside UInt32", tlv.start)
    return value


def decode_ticket(value: bytes | bytearray | memoryview) -> KerberosTicket:
    """Decode a DER-encoded Ticket's envelope. Raises DecodeError, and only that, on bad input."""
    try:
        data = bytes(value)
    except TypeError:
        raise DecodeError(_STRUCTURE, f"expected bytes, got {type(value).__name__}") from None
    r = _Reader(data)
    ticket = r.expect(0, len(data), _APPLICATION_1, "Ticket")
    if ticket.end != len(data):
        raise r.fail("Ticket", f"{len(data) - ticket.end} bytes after the ticket", ticket.end)
    body = r.expect(ticket.content_start, ticket.end, _SEQUENCE, "Ticket")
    if body.end != ticket.end:
        raise r.fail("Ticket", "bytes after the SEQUENCE inside [APPLICATION 1]", body.end)

    outer, vno_tlv = r.explicit(body.content_start, body.end, 0, _INTEGER, "tkt-vno")
    tkt_vno = r.integer(vno_tlv, "tkt-vno")
    if tkt_vno != 5:
        raise r.fail("tkt-vno", f"{tkt_vno}: not a Kerberos 5 ticket", vno_tlv.start)
    outer, realm_tlv = r.explicit(outer.end, body.end, 1, _GENERAL_STRING, "realm")
    realm = r.string(realm_tlv, "realm")
    sname_outer, sname_seq = r.explicit(outer.end, body.end, 2, _SEQUENCE, "sname")
    sname_type, sname = _principal_name(r, sname_seq)
    enc_outer, enc_seq = r.explicit(sname_outer.end, body.end, 3, _SEQUENCE, "enc-part")
    if enc_outer.end != body.end:
        raise r.fail("Ticket", "unexpected element after enc-part", enc_outer.end)
    etype, kvno, cipher_length = _encrypted_data(r, enc_seq)
    return KerberosTicket(tkt_vno, realm, sname_type, sname, etype, kvno, cipher_length)


def _principal_name(r: _Reader, seq: _Tlv) -> tuple[int, tuple[str, ...]]:
    outer, type_tlv = r.explicit(seq.content_start, seq.end, 0, _INTEGER, "sname.name-type")
    name_type = _int32(r.integer(type_tlv, "sname.name-type"), r, type_tlv, "sname.name-type")
    names_outer, names = r.explicit(outer.end, seq.end, 1, _SEQUENCE, "sname.name-string")
    if names_outer.end != seq.end:
        raise r.fail("sname", "unexpected element after name-string", names_outer.end)
    parts: list[str] = []
    pos = names.content_start
    while pos < names.end:
        part = r.expect(pos, names.end, _GENERAL_STRING, "sname.name-string")
        parts.append(r.string(part, "sname.name-string"))
        pos = part.end
    if not parts:
        raise r.fail("sname.name-string", "no name components", names.start)
    return name_type, tuple(parts)


def _encrypted_data(r: _Reader, seq: _Tlv) -> tuple[int, int | None, int]:
    outer, etype_tlv = r.explicit(seq.content_start, seq.end, 0, _INTEGER, "enc-part.etype")
    etype = _int32(r.integer(etype_tlv, "enc-part.etype"), r, etype_tlv, "enc-part.etype")
    pos = outer.end
    kvno: int | None = None
    if pos < seq.end and r.data[pos] == _context(1):
        outer, kvno_tlv = r.explicit(pos, seq.end, 1, _INTEGER, "enc-part.kvno")
        kvno = _uint32(r.integer(kvno_tlv, "enc-part.kvno"), r, kvno_tlv, "enc-part.kvno")
        pos = outer.end
    outer, cipher = r.explicit(pos, seq.end, 2, _OCTET_STRING, "enc-part.cipher")
    if outer.end != seq.end:
        raise r.fail("enc-part", "unexpected element after cipher", outer.end)
    return etype, kvno, cipher.end - cipher.content_start

"""Lean decoding of the LDAP responses a paged search receives (RFC 4511 BER), bytes in, records out.

Only what a search needs: framing of LDAPMessages in a byte stream, SearchResultEntry,
SearchResultReference, SearchResultDone with the paged-results cookie (RFC 2696), and the
Notice of Disconnection. Values are sliced straight out of the message, with no per-value
conversion: ldap3's general decoder builds two dictionaries and converts every value, which
costs more CPU per entry than the DC spends producing it.

Every malformed input raises :class:`BerError` naming the element and the offset.
"""

from __future__ import annotations

from dataclasses import dataclass

# protocolOp tags ([APPLICATION n], constructed)
OP_SEARCH_ENTRY = 0x64
OP_SEARCH_DONE = 0x65
OP_SEARCH_REFERENCE = 0x73
OP_EXTENDED_RESPONSE = 0x78

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
NOTICE_OF_DISCONNECTION_OID = "1.3.6.1.4.1.1466.20036"

_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OCTET_STRING = 0x04
_ENUMERATED = 0x0A
_BOOLEAN = 0x01
_CONTROLS = 0xA0  # [0] Controls in LDAPMessage
_REFERRAL = 0xA3  # [3] Referral in LDAPResult
_MAX_LENGTH_OCTETS = 4  # LDAP messages beyond 4 GiB are not a thing


class BerError(ValueError):
    """A response could not be decoded; the message says which element and where."""


@dataclass(frozen=True)
class SearchDone:
    result_code: int
    matched_dn: str
    diagnostic: str
    # Paged-results cookie: None if the DC sent no paged control, b"" on the last page.
    cookie: bytes | None = None
    referrals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExtendedResponse:
    result_code: int
    diagnostic: str
    name: str | None


def _length(data: bytes, i: int, limit: int, what: str) -> tuple[int, int]:
    """(length, offset of the value) of the TLV whose length octets start at i; checked against limit."""
    if i >= limit:
        raise BerError(f"{what}: truncated before its length at offset {i}")
    first = data[i]
    if first < 0x80:
        length, start = first, i + 1
    else:
        count = first & 0x7F
        if count == 0:
            raise BerError(f"{what}: indefinite length at offset {i} is not allowed in LDAP")
        if count > _MAX_LENGTH_OCTETS:
            raise BerError(f"{what}: length of {count} octets at offset {i}")
        start = i + 1 + count
        if start > limit:
            raise BerError(f"{what}: truncated length at offset {i}")
        length = int.from_bytes(data[i + 1:start], "big")
    if start + length > limit:
        raise BerError(f"{what}: {length}-byte value at offset {start} runs past its container (ends at {limit})")
    return length, start


def _expect(data: bytes, i: int, limit: int, tag: int, what: str) -> tuple[int, int]:
    """(value start, value end) of the TLV at i, which must carry ``tag``."""
    if i >= limit:
        raise BerError(f"{what}: missing at offset {i}")
    if data[i] != tag:
        raise BerError(f"{what}: tag 0x{data[i]:02x} at offset {i}, expected 0x{tag:02x}")
    length, start = _length(data, i + 1, limit, what)
    return start, start + length


def _integer(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big", signed=True) if end > start else 0


def frame_end(buffer: bytes | bytearray, start: int = 0) -> int | None:
    """End offset of the LDAPMessage beginning at ``start``, or None if the buffer does not hold it all yet."""
    available = len(buffer) - start
    if available < 2:
        return None
    if buffer[start] != _SEQUENCE:
        raise BerError(f"LDAPMessage: tag 0x{buffer[start]:02x} at stream offset {start}, expected 0x30")
    first = buffer[start + 1]
    if first < 0x80:
        end = start + 2 + first
        return end if end <= len(buffer) else None
    count = first & 0x7F
    if count == 0 or count > _MAX_LENGTH_OCTETS:
        raise BerError(f"LDAPMessage: unsupported length form 0x{first:02x} at stream offset {start + 1}")
    if available < 2 + count:
        return None
    length = int.from_bytes(buffer[start + 2:start + 2 + count], "big")
    end = start + 2 + count + length
    return end if end <= len(buffer) else None


def header(message: bytes) -> tuple[int, int, int, int]:
    """(messageID, protocolOp tag, offset of the protocolOp value, end of the protocolOp) of one message."""
    limit = len(message)
    start, end = _expect(message, 0, limit, _SEQUENCE, "LDAPMessage")
    if end != limit:
        raise BerError(f"LDAPMessage: {limit - end} bytes after the message")
    id_start, id_end = _expect(message, start, end, _INTEGER, "messageID")
    op_at = id_end
    if op_at >= end:
        raise BerError(f"protocolOp: missing at offset {op_at}")
    op = message[op_at]
    length, op_start = _length(message, op_at + 1, end, "protocolOp")
    return _integer(message, id_start, id_end), op, op_start, op_start + length


def decode_entry(message: bytes) -> tuple[str, dict[str, list[bytes]]]:
    """A SearchResultEntry: (DN, {lower-cased attribute name: [raw values]})."""
    _, op, i, end = header(message)
    if op != OP_SEARCH_ENTRY:
        raise BerError(f"protocolOp: tag 0x{op:02x} is not a SearchResultEntry")
    dn_start, dn_end = _expect(message, i, end, _OCTET_STRING, "objectName")
    dn = message[dn_start:dn_end].decode("utf-8", "replace")
    i, attrs_end = _expect(message, dn_end, end, _SEQUENCE, "attributes")
    attributes: dict[str, list[bytes]] = {}
    while i < attrs_end:
        i, pa_end = _expect(message, i, attrs_end, _SEQUENCE, "PartialAttribute")
        type_start, i = _expect(message, i, pa_end, _OCTET_STRING, "attribute type")
        name = message[type_start:i].decode("ascii", "replace").lower()
        i, vals_end = _expect(message, i, pa_end, _SET, f"values of {name}")
        values: list[bytes] = []
        while i < vals_end:
            if message[i] != _OCTET_STRING:
                raise BerError(f"value of {name}: tag 0x{message[i]:02x} at offset {i}, expected 0x04")
            length, start = _length(message, i + 1, vals_end, f"value of {name}")
            i = start + length
            values.append(message[start:i])
        # A DC may split one attribute across PartialAttributes; keep every value.
        if name in attributes:
            attributes[name].extend(values)
        else:
            attributes[name] = values
        i = pa_end
    return dn, attributes


def decode_reference(message: bytes) -> tuple[str, ...]:
    """The URIs of a SearchResultReference."""
    _, op, i, end = header(message)
    if op != OP_SEARCH_REFERENCE:
        raise BerError(f"protocolOp: tag 0x{op:02x} is not a SearchResultReference")
    uris = []
    while i < end:
        start, i = _expect(message, i, end, _OCTET_STRING, "reference URI")
        uris.append(message[start:i].decode("utf-8", "replace"))
    return tuple(uris)


def _ldap_result(message: bytes, i: int, end: int) -> tuple[int, str, str, tuple[str, ...], int]:
    """(resultCode, matchedDN, diagnosticMessage, referrals, offset after them) of an LDAPResult."""
    code_start, code_end = _expect(message, i, end, _ENUMERATED, "resultCode")
    matched_start, matched_end = _expect(message, code_end, end, _OCTET_STRING, "matchedDN")
    diag_start, diag_end = _expect(message, matched_end, end, _OCTET_STRING, "diagnosticMessage")
    i = diag_end
    referrals: list[str] = []
    if i < end and message[i] == _REFERRAL:
        j, i = _expect(message, i, end, _REFERRAL, "referral")
        while j < i:
            start, j = _expect(message, j, i, _OCTET_STRING, "referral URI")
            referrals.append(message[start:j].decode("utf-8", "replace"))
    return (
        _integer(message, code_start, code_end),
        message[matched_start:matched_end].decode("utf-8", "replace"),
        # Windows and Samba end diagnostics with a NUL.
        message[diag_start:diag_end].decode("utf-8", "replace").rstrip("\x00"),
        tuple(referrals),
        i,
    )


def _paged_cookie(message: bytes, i: int, end: int) -> bytes | None:
    """The cookie of the paged-results control among the message's controls, or None."""
    i, controls_end = _expect(message, i, end, _CONTROLS, "controls")
    while i < controls_end:
        i, control_end = _expect(message, i, controls_end, _SEQUENCE, "Control")
        oid_start, i = _expect(message, i, control_end, _OCTET_STRING, "controlType")
        oid = message[oid_start:i].decode("ascii", "replace")
        if i < control_end and message[i] == _BOOLEAN:
            _, i = _expect(message, i, control_end, _BOOLEAN, "criticality")
        if oid == PAGED_RESULTS_OID and i < control_end:
            value_start, value_end = _expect(message, i, control_end, _OCTET_STRING, "controlValue")
            j, seq_end = _expect(message, value_start, value_end, _SEQUENCE, "paged results value")
            _, j = _expect(message, j, seq_end, _INTEGER, "paged results size")
            cookie_start, cookie_end = _expect(message, j, seq_end, _OCTET_STRING, "paged results cookie")
            return message[cookie_start:cookie_end]
        i = control_end
    return None


def decode_done(message: bytes) -> SearchDone:
    """A SearchResultDone, with the paged-results cookie if the DC sent the control."""
    _, op, i, op_end = header(message)
    if op != OP_SEARCH_DONE:
        raise BerError(f"protocolOp: tag 0x{op:02x} is not a SearchResultDone")
    code, matched, diagnostic, referrals, _ = _ldap_result(message, i, op_end)
    cookie = None
    if op_end < len(message) and message[op_end] == _CONTROLS:
        cookie = _paged_cookie(message, op_end, len(message))
    return SearchDone(code, matched, diagnostic, cookie, referrals)


def decode_extended(message: bytes) -> ExtendedResponse:
    """An ExtendedResponse (the one a DC sends unsolicited is the Notice of Disconnection)."""
    _, op, i, end = header(message)
    if op != OP_EXTENDED_RESPONSE:
        raise BerError(f"protocolOp: tag 0x{op:02x} is not an ExtendedResponse")
    code, _, diagnostic, _, i = _ldap_result(message, i, end)
    name = None
    if i < end and message[i] == 0x8A:  # [10] responseName
        start, i = _expect(message, i, end, 0x8A, "responseName")
        name = message[start:i].decode("ascii", "replace")
    return ExtendedResponse(code, diagnostic, name)

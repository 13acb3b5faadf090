"""The pipelined paged search: BER decoding of responses, and the paging loop against a loopback LDAP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Generator
from dataclasses import dataclass, field

import ldap3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.protocol.rfc2696 import RealSearchControlValue
from ldap3.protocol.rfc4511 import LDAPMessage
from ldap3.utils.asn1 import decode_message_fast, decoder

from ad_health_exporter.ldap import ber
from ad_health_exporter.ldap.paging import PagingError, paged_search

# --- a small, independent BER encoder for building responses --------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def integer(tag: int, value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def message(mid: int, op: bytes, controls: bytes = b"") -> bytes:
    return tlv(0x30, integer(0x02, mid) + op + controls)


def entry_op(dn: str, attrs: list[tuple[str, list[bytes]]]) -> bytes:
    pal = b"".join(
        tlv(0x30, tlv(0x04, name.encode()) + tlv(0x31, b"".join(tlv(0x04, v) for v in values)))
        for name, values in attrs
    )
    return tlv(0x64, tlv(0x04, dn.encode()) + tlv(0x30, pal))


def result_content(code: int, diag: str = "", matched: str = "", referrals: tuple[str, ...] = ()) -> bytes:
    content = integer(0x0A, code) + tlv(0x04, matched.encode()) + tlv(0x04, diag.encode())
    if referrals:
        content += tlv(0xA3, b"".join(tlv(0x04, r.encode()) for r in referrals))
    return content


def done_op(code: int = 0, diag: str = "", referrals: tuple[str, ...] = ()) -> bytes:
    return tlv(0x65, result_content(code, diag, referrals=referrals))


def paged_control(cookie: bytes, critical: bool = False) -> bytes:
    value = tlv(0x30, integer(0x02, 0) + tlv(0x04, cookie))
    crit = tlv(0x01, b"\xff") if critical else b""
    return tlv(0xA0, tlv(0x30, tlv(0x04, ber.PAGED_RESULTS_OID.encode()) + crit + tlv(0x04, value)))


# --- decoding --------------------------------------------------------------------------------


def test_entry_is_decoded_with_lower_case_names_and_raw_values() -> None:
    raw = message(7, entry_op("CN=PC01,DC=lab,DC=example", [
        ("sAMAccountName", [b"PC01$"]),
        ("servicePrincipalName", [b"HOST/pc01.lab.example", b"HOST/PC01"]),
        ("objectGUID", [bytes(range(16))]),
    ]))
    assert ber.header(raw)[:2] == (7, ber.OP_SEARCH_ENTRY)
    dn, attrs = ber.decode_entry(raw)
    assert dn == "CN=PC01,DC=lab,DC=example"
    assert attrs == {
        "samaccountname": [b"PC01$"],
        "serviceprincipalname": [b"HOST/pc01.lab.example", b"HOST/PC01"],
        "objectguid": [bytes(range(16))],
    }


def test_attribute_split_over_two_partial_attributes_keeps_every_value() -> None:
    raw = message(1, entry_op("CN=x", [("member", [b"a"]), ("Member", [b"b"])]))
    assert ber.decode_entry(raw)[1] == {"member": [b"a", b"b"]}


def test_long_form_lengths() -> None:
    big = b"x" * 70000  # three length octets for the value, the set, the attribute...
    raw = message(2, entry_op("CN=big", [("description", [big])]))
    assert ber.frame_end(raw) == len(raw)
    assert ber.decode_entry(raw)[1]["description"] == [big]


def test_done_with_paged_cookie_and_without() -> None:
    last = ber.decode_done(message(3, done_op(), paged_control(b"")))
    more = ber.decode_done(message(3, done_op(), paged_control(b"\x01\x02cookie", critical=True)))
    plain = ber.decode_done(message(3, done_op(32, "no such object\x00")))
    assert last.cookie == b"" and last.result_code == 0
    assert more.cookie == b"\x01\x02cookie"
    assert plain.cookie is None and plain.result_code == 32 and plain.diagnostic == "no such object"


def test_done_with_referral_and_other_controls_first() -> None:
    other = tlv(0x30, tlv(0x04, b"1.2.3.4") + tlv(0x04, b"\x00"))
    controls = paged_control(b"c")
    controls = tlv(0xA0, other + controls[2:])  # the unrelated control, then the paged one
    done = ber.decode_done(message(4, done_op(10, "referral", ("ldap://dc2/DC=x",)), controls))
    assert done.referrals == ("ldap://dc2/DC=x",)
    assert done.cookie == b"c"


def test_reference_and_extended_response() -> None:
    ref = message(5, tlv(0x73, tlv(0x04, b"ldap://a/DC=x") + tlv(0x04, b"ldap://b/DC=x")))
    assert ber.decode_reference(ref) == ("ldap://a/DC=x", "ldap://b/DC=x")
    notice = message(
        0, tlv(0x78, result_content(52, "shutting down") + tlv(0x8A, ber.NOTICE_OF_DISCONNECTION_OID.encode()))
    )
    ext = ber.decode_extended(notice)
    assert (ext.result_code, ext.diagnostic, ext.name) == (52, "shutting down", ber.NOTICE_OF_DISCONNECTION_OID)


def test_frame_end_waits_for_a_whole_message() -> None:
    raw = message(1, entry_op("CN=a", [("cn", [b"a" * 300])]))
    stream = raw + raw
    assert ber.frame_end(stream[:1]) is None
    assert ber.frame_end(stream[:3]) is None  # long-form length not complete
    assert ber.frame_end(stream[: len(raw) - 1]) is None
    assert ber.frame_end(stream) == len(raw)
    assert ber.frame_end(stream, len(raw)) == 2 * len(raw)
    short = message(1, done_op())
    assert ber.frame_end(short[:-1]) is None  # short-form length, body incomplete


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"\x31\x03\x02\x01\x01", "LDAPMessage"),  # not a SEQUENCE
        (message(1, entry_op("CN=a", []))[:-1], "runs past"),
        (tlv(0x30, integer(0x02, 1) + tlv(0x64, tlv(0x02, b"\x01"))), "objectName"),
        (
            tlv(
                0x30,
                integer(0x02, 1)
                + tlv(0x64, tlv(0x04, b"x") + tlv(0x30, tlv(0x30, tlv(0x04, b"cn") + tlv(0x31, tlv(0x02, b"\x01"))))),
            ),
            "value of cn",
        ),
        (b"\x30\x80\x02\x01\x01", "indefinite"),
        (b"\x30\x85\x00\x00\x00\x00\x01", "5 octets"),
        (tlv(0x30, integer(0x02, 1)), "protocolOp"),
    ],
)
def test_malformed_responses_raise_ber_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(ber.BerError, match=fragment):
        _, op, _, _ = ber.header(raw)
        ber.decode_entry(raw)


def test_frame_end_rejects_a_stream_that_is_not_ldap() -> None:
    with pytest.raises(ber.BerError, match="expected 0x30"):
        ber.frame_end(b"HTTP/1.1 400 Bad Request\r\n")


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-;=0123456789", min_size=1, max_size=30)
values = st.lists(st.binary(max_size=300), max_size=5)


@settings(max_examples=200, deadline=None)
@given(
    mid=st.integers(1, 2**31 - 1),
    dn=st.text(max_size=200),
    attrs=st.dictionaries(names.map(str.lower), values, max_size=6),
)
def test_entries_decode_like_ldap3s_own_decoder(mid: int, dn: str, attrs: dict[str, list[bytes]]) -> None:
    raw = message(mid, entry_op(dn, list(attrs.items())))
    got_dn, got = ber.decode_entry(raw)
    # ldap3's generic decoder is the reference.
    ref = decode_message_fast(raw)
    ref_dn = bytes(ref["payload"][0][3]).decode("utf-8", "replace")
    ref_attrs = {
        bytes(pa[3][0][3]).decode().lower(): [bytes(v[3]) for v in pa[3][1][3]] for pa in ref["payload"][1][3]
    }
    assert ref["messageID"] == mid
    assert (got_dn, got) == (ref_dn, ref_attrs) == (dn, attrs)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoders_raise_only_ber_error(data: bytes) -> None:
    for decode in (ber.decode_entry, ber.decode_done, ber.decode_reference, ber.decode_extended):
        try:
            decode(data)
        except ber.BerError:
            pass
    try:
        ber.frame_end(data)
    except ber.BerError:
        pass


# --- the paging loop against a loopback server ------------------------------------------------


@dataclass
class FakeDC:
    """A one-connection LDAP server on 127.0.0.1 that pages a fixed list of entries."""

    entries: list[tuple[str, list[tuple[str, list[bytes]]]]]
    fail_with: tuple[int, str] | None = None
    drop_after_pages: int | None = None
    requests: list[tuple[int, int, bytes]] = field(default_factory=list)  # (message id, size, cookie)
    second_request: threading.Event = field(default_factory=threading.Event)
    release_page: threading.Event = field(default_factory=threading.Event)
    hold_after_first_page: bool = False

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        buf = b""
        pages = 0
        with conn:
            while True:
                while True:
                    end = ber.frame_end(buf) if buf else None
                    if end is not None:
                        break
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                raw, buf = buf[:end], buf[end:]
                req, _ = decoder.decode(raw, asn1Spec=LDAPMessage())
                mid, op = int(req["messageID"]), req["protocolOp"].getName()
                if op == "unbindRequest":
                    return
                if op != "searchRequest":
                    continue
                size, cookie = 0, b""
                if req["controls"].hasValue():
                    for control in req["controls"]:
                        if str(control["controlType"]) == ber.PAGED_RESULTS_OID:
                            value, _ = decoder.decode(bytes(control["controlValue"]), asn1Spec=RealSearchControlValue())
                            size, cookie = int(value["size"]), bytes(value["cookie"])
                self.requests.append((mid, size, cookie))
                if len(self.requests) == 2:
                    self.second_request.set()
                if self.fail_with:
                    conn.sendall(message(mid, done_op(*self.fail_with)))
                    continue
                if self.drop_after_pages is not None and pages >= self.drop_after_pages:
                    return
                start = int(cookie or b"0")
                stop = len(self.entries) if size == 0 and not cookie else min(start + size, len(self.entries))
                if size == 0 and cookie:  # the client gives up: release the search
                    conn.sendall(message(mid, done_op(), paged_control(b"")))
                    continue
                if self.hold_after_first_page and pages == 1:
                    self.release_page.wait(10)
                out = b"".join(message(mid, entry_op(dn, attrs)) for dn, attrs in self.entries[start:stop])
                out += message(mid, tlv(0x73, tlv(0x04, b"ldap://elsewhere/DC=x")))  # skipped
                next_cookie = str(stop).encode() if stop < len(self.entries) else b""
                conn.sendall(out + message(mid, done_op(), paged_control(next_cookie)))
                pages += 1

    def client(self, receive_timeout: int = 5) -> ldap3.Connection:
        server = ldap3.Server("127.0.0.1", port=self.port, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, auto_bind=ldap3.AUTO_BIND_NONE, receive_timeout=receive_timeout,
                                raise_exceptions=True, check_names=False)
        conn.open()
        return conn


def make_entries(n: int) -> list[tuple[str, list[tuple[str, list[bytes]]]]]:
    return [(f"CN=PC{i:05d},DC=lab,DC=example", [("sAMAccountName", [f"PC{i:05d}$".encode()]),
                                                ("servicePrincipalName", [f"HOST/pc{i:05d}".encode()])])
            for i in range(n)]


def test_every_entry_arrives_once_in_order_across_pages() -> None:
    dc = FakeDC(make_entries(25))
    conn = dc.client()
    got = list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", ["sAMAccountName"], page_size=10))
    assert [dn for dn, _ in got] == [dn for dn, _ in dc.entries]
    assert got[3][1]["samaccountname"] == [b"PC00003$"]
    assert [(size, cookie) for _, size, cookie in dc.requests] == [(10, b""), (10, b"10"), (10, b"20")]
    conn.unbind()


def test_next_page_is_requested_before_the_current_one_is_consumed() -> None:
    dc = FakeDC(make_entries(30))
    conn = dc.client()
    stream = paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10)
    first = next(stream)
    # Only the first entry of page 1 has been handed out, yet page 2 is already asked for.
    assert dc.second_request.wait(5), "the request for page 2 was not sent while page 1 was being consumed"
    assert first[0] == dc.entries[0][0]
    assert len(list(stream)) == 29
    conn.unbind()


def test_stopping_early_leaves_the_connection_usable() -> None:
    dc = FakeDC(make_entries(30))
    conn = dc.client()
    stream = paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10)
    assert isinstance(stream, Generator)  # typed an Iterator; a generator can be closed early
    for _ in range(3):
        next(stream)
    stream.close()
    # The page in flight was drained and the search released with a size-0 request.
    assert dc.requests[-1][1:] == (0, b"20")
    again = list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=100))
    assert len(again) == 30
    conn.unbind()


def test_error_result_raises_with_its_name_and_message() -> None:
    dc = FakeDC([], fail_with=(32, "acl_read: no such base\x00"))
    conn = dc.client()
    with pytest.raises(PagingError, match="noSuchObject: acl_read: no such base$") as info:
        list(paged_search(conn, "CN=nope", "(objectClass=*)", [], page_size=10))
    assert info.value.result_code == 32
    conn.unbind()


def test_dropped_connection_raises() -> None:
    dc = FakeDC(make_entries(30), drop_after_pages=1)
    conn = dc.client()
    with pytest.raises(PagingError, match="closed the connection|connection lost"):
        list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10))


def test_silent_dc_hits_the_receive_timeout() -> None:
    dc = FakeDC(make_entries(30), hold_after_first_page=True)
    conn = dc.client(receive_timeout=1)
    try:
        with pytest.raises(PagingError, match="receive timeout"):
            list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10))
    finally:
        dc.release_page.set()


def test_invalid_filter_is_reported_before_anything_is_sent() -> None:
    dc = FakeDC([])
    conn = dc.client()
    with pytest.raises(PagingError, match="invalid search"):
        list(paged_search(conn, "DC=x", "(objectClass=*", [], page_size=10))
    assert dc.requests == []
    conn.unbind()


def test_size_limit_is_an_error_and_a_referral_is_an_empty_result() -> None:
    dc = FakeDC([], fail_with=(4, "size limit"))
    conn = dc.client()
    with pytest.raises(PagingError, match="sizeLimitExceeded"):
        list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10))
    conn.unbind()
    dc = FakeDC([], fail_with=(10, "not here"))
    conn = dc.client()
    assert list(paged_search(conn, "DC=other,DC=example", "(objectClass=*)", [], page_size=10)) == []
    # The connection is still in step: the next search works.
    dc.fail_with = None
    assert list(paged_search(conn, "DC=lab,DC=example", "(objectClass=*)", [], page_size=10)) == []
    conn.unbind()

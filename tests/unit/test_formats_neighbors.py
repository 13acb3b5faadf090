"""Tests for msDS-NCReplInboundNeighbors decoding (XML and ;binary)."""

from __future__ import annotations

import struct
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.filetime import FILETIME_NEVER, unix_to_filetime
from ad_health_exporter.formats.neighbors import decode_neighbor_blob, parse_neighbor_xml
from ad_health_exporter.formats.repsfrom import ReplicaFlags, ReplicationNeighbor, decode_reps_from

DATA = Path(__file__).parent / "data"
FUZZ = settings(max_examples=300, deadline=None)
ZERO = uuid.UUID(int=0)
NC = "DC=corp,DC=contoso,DC=com"
NC_GUID = uuid.UUID("11223344-5566-7788-99aa-bbccddeeff00")
SOURCE = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
INVOCATION = uuid.UUID("89abcdef-0123-4567-89ab-cdef01234567")
SOURCE_DN = "CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + NC
ADDRESS = f"{SOURCE}._msdcs.corp.contoso.com"
SAMPLE_UNIX = 1650288462  # 2022-04-18T13:27:42Z

# Field order of DS_REPL_NEIGHBORW, which the XML children follow.
FIELDS = {
    "pszNamingContext": NC,
    "pszSourceDsaDN": SOURCE_DN,
    "pszSourceDsaAddress": ADDRESS,
    "pszAsyncIntersiteTransportDN": "",
    "dwReplicaFlags": "112",
    "dwReserved": "0",
    "uuidNamingContextObjGuid": str(NC_GUID),
    "uuidSourceDsaObjGuid": str(SOURCE),
    "uuidSourceDsaInvocationID": str(INVOCATION),
    "uuidAsyncIntersiteTransportObjGuid": str(ZERO),
    "usnLastObjChangeSynced": "20480",
    "usnAttributeFilter": "20480",
    "ftimeLastSyncSuccess": "2022-04-18T13:27:42Z",
    "ftimeLastSyncAttempt": "2022-04-18T13:27:42Z",
    "dwLastSyncResult": "0",
    "cNumConsecutiveSyncFailures": "0",
}


def neighbor_xml(root: str = "DS_REPL_NEIGHBOR", omit: tuple[str, ...] = (), **overrides: str) -> str:
    """Build an XML value from the documented layout: one child per field, in order."""
    fields = {**FIELDS, **overrides}
    children = "".join(
        f"\t<{name}>{text}</{name}>\n" for name, text in fields.items() if name not in omit
    )
    return f"<{root}>\n{children}</{root}>\n"


def _utf16z(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def encode_neighbor_blob(
    *,
    naming_context: str | None = NC,
    source_dn: str | None = SOURCE_DN,
    address: str | None = ADDRESS,
    transport_dn: str | None = None,
    flags: int = 112,
    nc_guid: uuid.UUID = NC_GUID,
    source: uuid.UUID = SOURCE,
    invocation: uuid.UUID = INVOCATION,
    transport: uuid.UUID = ZERO,
    usn: int = 20480,
    last_success: int = 0,
    last_attempt: int = 0,
    result: int = 0,
    failures: int = 0,
    offsets: tuple[int, int, int, int] | None = None,
    tail: bytes | None = None,
) -> bytes:
    """Build a DS_REPL_NEIGHBORW_BLOB; strings follow the 128-byte fixed part."""
    data = b""
    computed = []
    for text in (naming_context, source_dn, address, transport_dn):
        if text is None:
            computed.append(0)
            continue
        computed.append(128 + len(data))
        data += _utf16z(text)
    fixed = struct.pack(
        "<IIIIII16s16s16s16sqqqqII", *(offsets or computed), flags, 0,
        nc_guid.bytes_le, source.bytes_le, invocation.bytes_le, transport.bytes_le,
        usn, usn, last_success, last_attempt, result, failures,
    )
    assert len(fixed) == 128
    return fixed + (data if tail is None else tail)


EXPECTED = ReplicationNeighbor(
    source_dsa_guid=SOURCE,
    replica_flags=ReplicaFlags(112),
    consecutive_failures=0,
    last_success=SAMPLE_UNIX,
    last_attempt=SAMPLE_UNIX,
    last_result=0,
    naming_context=NC,
    source_address=ADDRESS,
    source_dsa_dn=SOURCE_DN,
    source_invocation_id=INVOCATION,
    transport_guid=ZERO,
    transport_dn=None,
    naming_context_guid=NC_GUID,
    highest_usn=20480,
    version=None,
)


# --- XML ---------------------------------------------------------------------------------------


def test_xml_sample_file() -> None:
    assert parse_neighbor_xml((DATA / "ds_repl_neighbor.xml").read_text()) == EXPECTED


def test_xml_full_value() -> None:
    assert parse_neighbor_xml(neighbor_xml()) == EXPECTED


def test_xml_and_blob_and_repsfrom_agree_on_shared_fields() -> None:
    """The replication check must see the same link whichever attribute it read."""
    xml = parse_neighbor_xml(neighbor_xml(dwLastSyncResult="8524", cNumConsecutiveSyncFailures="4"))
    blob = decode_neighbor_blob(
        encode_neighbor_blob(
            last_success=unix_to_filetime(SAMPLE_UNIX), last_attempt=unix_to_filetime(SAMPLE_UNIX),
            result=8524, failures=4,
        )
    )
    reps_value = bytes.fromhex(
        " ".join(line for line in (DATA / "repsfrom_v2_samba.hex").read_text().splitlines() if not line.startswith("#"))
    )
    reps_value = (
        reps_value[:0x0C] + struct.pack("<I", 4) + reps_value[0x10:0x20] + struct.pack("<I", 8524) + reps_value[0x24:]
    )
    reps = decode_reps_from(reps_value, naming_context=NC)
    assert xml == blob
    shared = (
        "naming_context", "source_dsa_guid", "source_address", "source_invocation_id", "transport_guid",
        "replica_flags", "consecutive_failures", "last_success", "last_attempt", "last_result", "highest_usn",
    )
    for name in shared:
        assert getattr(xml, name) == getattr(reps, name), name
    assert (xml.version, reps.version) == (None, 2)


def test_xml_root_may_be_the_w_variant() -> None:
    assert parse_neighbor_xml(neighbor_xml(root="DS_REPL_NEIGHBORW")) == EXPECTED


def test_xml_whitespace_and_trailing_nuls_are_stripped() -> None:
    value = "\r\n  " + neighbor_xml(pszNamingContext=f"\n   {NC}  \t") + "\x00\x00"
    assert parse_neighbor_xml(value) == EXPECTED
    assert parse_neighbor_xml(value.encode("utf-8")) == EXPECTED


def test_xml_declaration_is_accepted() -> None:
    assert parse_neighbor_xml('<?xml version="1.0" encoding="utf-8"?>' + neighbor_xml()) == EXPECTED


def test_xml_children_are_read_by_tag_not_position() -> None:
    lines = neighbor_xml().splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:-1]), lines[-1], "<!-- comment -->"])
    assert parse_neighbor_xml(shuffled) == EXPECTED


def test_xml_unknown_elements_are_ignored() -> None:
    value = neighbor_xml().replace("</DS_REPL_NEIGHBOR>", "<dwFutureField>7</dwFutureField></DS_REPL_NEIGHBOR>")
    assert parse_neighbor_xml(value) == EXPECTED


def test_xml_escaped_text() -> None:
    dn = "CN=R&amp;D\\, Lab,DC=corp"
    assert parse_neighbor_xml(neighbor_xml(pszSourceDsaDN=dn)).source_dsa_dn == "CN=R&D\\, Lab,DC=corp"


@pytest.mark.parametrize("text", ["1601-01-01T00:00:00Z", "1601-01-01T00:00:00.000Z", "1601-01-01T00:00:00"])
def test_xml_1601_means_never(text: str) -> None:
    link = parse_neighbor_xml(neighbor_xml(ftimeLastSyncSuccess=text, dwReplicaFlags=str(0x200070)))
    assert link.last_success is None
    assert link.last_attempt == SAMPLE_UNIX
    assert ReplicaFlags.NEVER_SYNCED in link.replica_flags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-04-18T13:27:42.999Z", SAMPLE_UNIX),
        ("2022-04-18T15:27:42+02:00", SAMPLE_UNIX),
        ("2022-04-18T08:27:42-0500", SAMPLE_UNIX),
        ("2022-04-18T13:27:42", SAMPLE_UNIX),
        ("2022-04-18 13:27:42Z", SAMPLE_UNIX),
        ("1969-12-31T23:59:59Z", -1),
        ("1601-01-01T00:00:01Z", -11644473599),
    ],
)
def test_xml_time_forms(text: str, expected: int) -> None:
    assert parse_neighbor_xml(neighbor_xml(ftimeLastSyncAttempt=text)).last_attempt == expected


def test_xml_signed_result_is_made_unsigned() -> None:
    link = parse_neighbor_xml(neighbor_xml(dwLastSyncResult="-2146893022", dwReplicaFlags="-2147483536"))
    assert link.last_result == 0x80090322
    assert int(link.replica_flags) == 0x80000070


def test_xml_optional_elements_may_be_missing_or_empty() -> None:
    link = parse_neighbor_xml(
        neighbor_xml(
            omit=("pszSourceDsaDN", "uuidSourceDsaInvocationID", "usnLastObjChangeSynced", "uuidNamingContextObjGuid"),
            pszSourceDsaAddress="",
            uuidAsyncIntersiteTransportObjGuid="",
        )
    )
    assert link.source_dsa_dn is None
    assert link.source_address is None
    assert link.source_invocation_id is None
    assert link.transport_guid is None
    assert link.highest_usn is None
    assert link.naming_context_guid is None


def test_xml_braced_guid() -> None:
    assert (
        parse_neighbor_xml(neighbor_xml(uuidSourceDsaObjGuid="{" + str(SOURCE).upper() + "}")).source_dsa_guid == SOURCE
    )


def _xml_error(value: str | bytes, *fragments: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_neighbor_xml(value)
    message = str(caught.value)
    assert message.startswith("DS_REPL_NEIGHBOR XML")
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    "name",
    [
        "pszNamingContext", "uuidSourceDsaObjGuid", "dwReplicaFlags", "ftimeLastSyncSuccess",
        "ftimeLastSyncAttempt", "dwLastSyncResult", "cNumConsecutiveSyncFailures",
    ],
)
def test_xml_required_elements(name: str) -> None:
    _xml_error(neighbor_xml(omit=(name,)), name, "missing")
    blank: dict[str, Any] = {name: "  "}
    _xml_error(neighbor_xml(**blank), name, "empty")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"dwLastSyncResult": "12abc"}, ("dwLastSyncResult", "not a decimal integer")),
        ({"dwLastSyncResult": "1_000"}, ("not a decimal integer",)),
        ({"dwLastSyncResult": "\u0661"}, ("not a decimal integer",)),
        ({"dwLastSyncResult": "4294967296"}, ("outside",)),
        ({"dwReplicaFlags": "-2147483649"}, ("dwReplicaFlags", "outside")),
        ({"cNumConsecutiveSyncFailures": "-1"}, ("cNumConsecutiveSyncFailures", "outside")),
        ({"usnLastObjChangeSynced": "9223372036854775808"}, ("usnLastObjChangeSynced", "outside")),
        ({"uuidSourceDsaObjGuid": "not-a-guid"}, ("uuidSourceDsaObjGuid", "not a GUID")),
        ({"uuidSourceDsaObjGuid": "{" + str(SOURCE)}, ("not a GUID",)),
        ({"uuidSourceDsaInvocationID": "\u0661" * 32}, ("not a GUID",)),
        ({"ftimeLastSyncSuccess": "yesterday"}, ("ftimeLastSyncSuccess", "not an ISO-8601 time")),
        ({"ftimeLastSyncSuccess": "2022-13-18T13:27:42Z"}, ("not a valid time",)),
        ({"ftimeLastSyncSuccess": "2022-04-18T13:27:42+25:00"}, ("offset",)),
        ({"ftimeLastSyncSuccess": "0000-01-01T00:00:00Z"}, ("not a valid time",)),
    ],
)
def test_xml_bad_field_values(overrides: dict[str, Any], fragments: tuple[str, ...]) -> None:
    _xml_error(neighbor_xml(**overrides), *fragments)


def test_xml_structure_errors() -> None:
    _xml_error("", "empty")
    _xml_error("\x00\n", "empty")
    _xml_error("<other/>", "root element is <other>")
    _xml_error(neighbor_xml() + "<more/>", "not well-formed")
    _xml_error(neighbor_xml()[:-20], "not well-formed")
    _xml_error(neighbor_xml(pszNamingContext="<b>x</b>"), "nested element <b>", "pszNamingContext")
    _xml_error(neighbor_xml().replace("<dwReserved>", "<dwReplicaFlags>1</dwReplicaFlags><dwReserved>"),
               "dwReplicaFlags", "more than once")
    _xml_error(neighbor_xml(pszNamingContext="&undefined;"), "undefined entity")
    _xml_error(b"\xff<DS_REPL_NEIGHBOR/>", "not valid UTF-8")
    _xml_error("<DS_REPL_NEIGHBOR>" + " " * 70_000 + "</DS_REPL_NEIGHBOR>", "over the 65536 limit")
    with pytest.raises(DecodeError, match="expected text or bytes"):
        parse_neighbor_xml(42)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected


def test_xml_dtds_and_entities_are_refused_before_expansion() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE DS_REPL_NEIGHBOR ['
        '<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]><DS_REPL_NEIGHBOR><pszNamingContext>&j;</pszNamingContext></DS_REPL_NEIGHBOR>"
    )
    started = time.monotonic()
    _xml_error(laughs, "DTD")
    assert time.monotonic() - started < 1.0  # the 10^10-character expansion never happens
    _xml_error(
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><DS_REPL_NEIGHBOR>&x;</DS_REPL_NEIGHBOR>', "DTD"
    )
    _xml_error('<!DOCTYPE DS_REPL_NEIGHBOR SYSTEM "http://127.0.0.1/x.dtd"><DS_REPL_NEIGHBOR/>', "DTD")


# --- binary ------------------------------------------------------------------------------------


def test_blob_full_value() -> None:
    value = encode_neighbor_blob(
        last_success=unix_to_filetime(SAMPLE_UNIX) + 9_999_999, last_attempt=unix_to_filetime(SAMPLE_UNIX)
    )
    assert decode_neighbor_blob(value) == EXPECTED  # sub-second part truncated


def test_blob_transport_and_absent_strings() -> None:
    transport = uuid.UUID("8fc01fe1-3b22-4f2c-9a3e-5d6a7b8c9d0e")
    link = decode_neighbor_blob(
        encode_neighbor_blob(
            source_dn=None, address=None, transport_dn="CN=IP,CN=Inter-Site Transports,CN=Sites", transport=transport
        )
    )
    assert link.source_dsa_dn is None
    assert link.source_address is None
    assert link.transport_dn == "CN=IP,CN=Inter-Site Transports,CN=Sites"
    assert link.transport_guid == transport


@pytest.mark.parametrize("raw", [0, FILETIME_NEVER, -1])
def test_blob_unset_and_never_times(raw: int) -> None:
    link = decode_neighbor_blob(encode_neighbor_blob(last_success=raw, last_attempt=raw))
    assert link.last_success is None
    assert link.last_attempt is None


def test_blob_string_terminator_on_utf16_boundary_and_odd_offset() -> None:
    name = "DC=A\u0100B"
    value = encode_neighbor_blob(offsets=(129, 0, 0, 0), tail=b"\xee" + _utf16z(name))
    assert decode_neighbor_blob(value).naming_context == name


def test_blob_accepts_bytearray() -> None:
    value = encode_neighbor_blob()
    assert decode_neighbor_blob(bytearray(value)) == decode_neighbor_blob(value)  # type: ignore[arg-type]  # any buffer decodes; typed bytes


def _blob_error(value: object, *fragments: str) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode_neighbor_blob(value)  # type: ignore[arg-type]  # wrong type on purpose: it is rejected
    message = str(caught.value)
    assert message.startswith("DS_REPL_NEIGHBORW_BLOB")
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


def test_blob_errors() -> None:
    _blob_error(b"\x00" * 127, "127 bytes", "128-byte fixed part")
    _blob_error("text", "expected bytes")
    _blob_error(encode_neighbor_blob(naming_context=None), "oszNamingContext", "absent")
    error = _blob_error(encode_neighbor_blob(offsets=(128, 64, 0, 0)), "oszSourceDsaDN", "offset 64 is outside")
    assert error.offset == 4
    _blob_error(encode_neighbor_blob(offsets=(128, 0, 100_000, 0)), "oszSourceDsaAddress", "outside")
    _blob_error(encode_neighbor_blob(offsets=(128, 0, 0, 0), tail="DC=x".encode("utf-16-le")), "no NUL terminator")
    _blob_error(encode_neighbor_blob(offsets=(128, 0, 0, 0), tail=b"\x00\xdc\x00\x00"), "not valid UTF-16LE")
    error = _blob_error(encode_neighbor_blob(last_attempt=-5), "ftimeLastSyncAttempt", "negative")
    assert error.offset == 112
    _blob_error(encode_neighbor_blob(last_success=FILETIME_NEVER - 1), "ftimeLastSyncSuccess", "9999")


_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=60)


@FUZZ
@given(
    naming_context=_text.filter(bool), source_dn=st.none() | _text.filter(bool), address=st.none() | _text.filter(bool),
    flags=st.integers(0, 2**32 - 1), source=st.uuids(), usn=st.integers(-(2**63), 2**63 - 1),
    last_success=st.integers(1, 253402300799), result=st.integers(0, 2**32 - 1), failures=st.integers(0, 2**32 - 1),
)
def test_blob_round_trip(
    naming_context: str, source_dn: str | None, address: str | None, flags: int, source: uuid.UUID, usn: int,
    last_success: int, result: int, failures: int,
) -> None:
    link = decode_neighbor_blob(
        encode_neighbor_blob(
            naming_context=naming_context, source_dn=source_dn, address=address, flags=flags, source=source,
            usn=usn, last_success=unix_to_filetime(last_success), result=result, failures=failures,
        )
    )
    assert (link.naming_context, link.source_dsa_dn, link.source_address) == (naming_context, source_dn, address)
    assert (int(link.replica_flags), link.source_dsa_guid, link.highest_usn) == (flags, source, usn)
    assert (link.last_success, link.last_result, link.consecutive_failures) == (last_success, result, failures)


_xml_safe = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>&"), max_size=60
).map(str.strip).filter(bool)


@FUZZ
@given(
    naming_context=_xml_safe, address=_xml_safe, source=st.uuids(), result=st.integers(-(2**31), 2**32 - 1),
    failures=st.integers(0, 2**32 - 1), when=st.integers(1, 253402300799),
)
def test_xml_round_trip(
    naming_context: str, address: str, source: uuid.UUID, result: int, failures: int, when: int
) -> None:
    stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=when)
    iso = f"{stamp.year:04d}-{stamp:%m-%dT%H:%M:%S}Z"
    link = parse_neighbor_xml(
        neighbor_xml(
            pszNamingContext=naming_context, pszSourceDsaAddress=address, uuidSourceDsaObjGuid=str(source),
            dwLastSyncResult=str(result), cNumConsecutiveSyncFailures=str(failures),
            ftimeLastSyncSuccess=iso,
        )
    )
    assert (link.naming_context, link.source_address, link.source_dsa_guid) == (naming_context, address, source)
    assert (link.last_result, link.consecutive_failures, link.last_success) == (result & 0xFFFFFFFF, failures, when)


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.text(max_size=200)))
def test_xml_arbitrary_input_raises_only_decode_error(value: bytes | str) -> None:
    try:
        parse_neighbor_xml(value)
    except DecodeError:
        pass


_fragments = st.sampled_from(
    ["<", ">", "</", "/>", "DS_REPL_NEIGHBOR", "DS_REPL_NEIGHBORW", "pszNamingContext", "dwReplicaFlags",
     "ftimeLastSyncSuccess", "uuidSourceDsaObjGuid", "&amp;", "&#0;", "&#x110000;", "<!DOCTYPE", "<![CDATA[",
     "]]>", "<?xml", "?>", '="', "\x00", " ", "1601-01-01T00:00:00Z", "-1", "0", str(SOURCE), "&", "\ud800",
     'encoding="utf-16"', "<!ENTITY"]
)


@FUZZ
@given(st.lists(_fragments, max_size=40).map("".join))
def test_xml_like_input_raises_only_decode_error(value: str) -> None:
    try:
        parse_neighbor_xml(value)
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_xml_mutations_raise_only_decode_error(data: st.DataObject) -> None:
    text = list(neighbor_xml())
    for _ in range(data.draw(st.integers(1, 6))):
        text[data.draw(st.integers(0, len(text) - 1))] = data.draw(st.characters())
    try:
        parse_neighbor_xml("".join(text))
    except DecodeError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_blob_arbitrary_bytes_raise_only_decode_error(value: bytes) -> None:
    try:
        decode_neighbor_blob(value)
    except DecodeError:
        pass


@FUZZ
@given(st.data())
def test_blob_mutations_raise_only_decode_error(data: st.DataObject) -> None:
    value = bytearray(encode_neighbor_blob(last_success=unix_to_filetime(SAMPLE_UNIX)))
    for _ in range(data.draw(st.integers(1, 8))):
        value[data.draw(st.integers(0, len(value) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_neighbor_blob(bytes(value[: data.draw(st.integers(0, len(value)))]))
    except DecodeError:
        pass

"""Tests for result-code names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.winerror import ResultCode, describe, normalise, result_name

FUZZ = settings(max_examples=500, deadline=None)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        # The replication results listed in the facts sheet.
        (0, "ERROR_SUCCESS"),
        (5, "ERROR_ACCESS_DENIED"),
        (1256, "ERROR_HOST_DOWN"),
        (1396, "ERROR_WRONG_TARGET_NAME"),
        (1397, "ERROR_MUTUAL_AUTH_FAILED"),
        (1398, "ERROR_TIME_SKEW"),
        (1722, "RPC_S_SERVER_UNAVAILABLE"),
        (1753, "EPT_S_NOT_REGISTERED"),
        (1908, "ERROR_DOMAIN_CONTROLLER_NOT_FOUND"),
        (8240, "ERROR_DS_NO_SUCH_OBJECT"),
        (8333, "ERROR_DS_OBJ_NOT_FOUND"),
        (8453, "ERROR_DS_DRA_ACCESS_DENIED"),
        (8456, "ERROR_DS_DRA_SOURCE_DISABLED"),
        (8457, "ERROR_DS_DRA_SINK_DISABLED"),
        (8464, "ERROR_DS_DRA_INCOMPATIBLE_PARTIAL_SET"),
        (8524, "ERROR_DS_DNS_LOOKUP_FAILURE"),
        (8545, "ERROR_DS_DRA_OBJ_NC_MISMATCH"),
        (8606, "ERROR_DS_INSUFFICIENT_ATTR_TO_CREATE_OBJECT"),
        (8614, "ERROR_DS_REPL_LIFETIME_EXCEEDED"),
        (8647, "ERROR_DS_SPN_VALUE_NOT_UNIQUE_IN_FOREST"),
        (2148074274, "SEC_E_WRONG_PRINCIPAL"),
        (0xC00002C3, "STATUS_MUTUAL_AUTHENTICATION_FAILED"),
        # Results Samba stores in repsFrom.
        (29, "ERROR_WRITE_FAULT"),
        (64, "ERROR_NETNAME_DELETED"),
        (1225, "ERROR_CONNECTION_REFUSED"),
        (1326, "ERROR_LOGON_FAILURE"),
        (8461, "ERROR_DS_DRA_PREEMPTED"),
    ],
)
def test_known_codes(code: int, name: str) -> None:
    described = describe(code)
    assert described.name == name == result_name(code)
    assert described.known
    assert described.code == code
    assert described.meaning and "\n" not in described.meaning


@pytest.mark.parametrize(
    ("signed", "unsigned"), [(-2146893022, 0x80090322), (-1073741117, 0xC00002C3), (-1, 0xFFFFFFFF)]
)
def test_signed_and_unsigned_forms_are_the_same_code(signed: int, unsigned: int) -> None:
    assert normalise(signed) == unsigned
    assert describe(signed) == describe(unsigned)
    assert describe(unsigned).signed == signed


def test_unknown_codes_render_as_hex_and_decimal() -> None:
    described = describe(12345)
    assert described == ResultCode(12345, "0x00003039", "unknown result code 12345 (0x00003039)", False)
    assert str(described) == "unknown result 0x00003039 (12345)"


def test_known_code_text() -> None:
    assert str(describe(1722)) == "RPC_S_SERVER_UNAVAILABLE (1722, 0x000006ba): the RPC server is unavailable"


def test_hresult_wrapping_a_win32_code() -> None:
    assert describe(0x800706BA).name == "HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE)"
    assert describe(0x800706BA).code == 0x800706BA
    assert not describe(0x80070000).known  # S_OK is not an error HRESULT
    assert not describe(0x8007FFFF).known


def test_codes_beyond_32_bits_are_masked() -> None:
    assert describe(2**100 + 1722).name == "RPC_S_SERVER_UNAVAILABLE"


@FUZZ
@given(st.integers())
def test_any_integer_is_described_without_raising(code: int) -> None:
    described = describe(code)
    assert 0 <= described.code <= 0xFFFFFFFF
    assert described.name
    assert str(described)
    assert -(2**31) <= described.signed < 2**31

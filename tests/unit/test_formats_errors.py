"""Tests for DecodeError messages."""

from __future__ import annotations

import pytest

from ad_health_exporter.formats import DecodeError


def test_message_names_structure_field_and_offset() -> None:
    error = DecodeError("repsFrom", "points past the value", field="other_info_offset", offset=0x24)
    assert str(error) == "repsFrom: field other_info_offset at offset 0x24: points past the value"
    assert (error.structure, error.field, error.offset, error.problem) == (
        "repsFrom", "other_info_offset", 0x24, "points past the value"
    )


def test_message_without_location() -> None:
    assert str(DecodeError("GeneralizedTime", "no time zone")) == "GeneralizedTime: no time zone"
    assert str(DecodeError("X", "bad", field="f")) == "X: field f: bad"


def test_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        raise DecodeError("X", "bad")

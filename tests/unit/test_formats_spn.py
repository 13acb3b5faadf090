"""Tests for SPN parsing and sPNMappings alias expansion."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ad_health_exporter.formats.errors import DecodeError
from ad_health_exporter.formats.spn import (
    ServicePrincipalName,
    SpnMappings,
    equivalent_keys,
    parse_spn,
    parse_spn_mappings,
)

FUZZ = settings(max_examples=300, deadline=None)
# The shape of the default value on Windows (shortened).
DEFAULT_MAPPINGS = "host=alerter,appmgmt,cisvc,clipsrv,browser,dhcp,dnscache,replicator,eventlog,cifs,http,w3svc,www"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HOST/fs01.lab.example", ServicePrincipalName("HOST", "fs01.lab.example")),
        ("HOST/FS01", ServicePrincipalName("HOST", "FS01")),
        ("MSSQLSvc/sql.lab.example:1433", ServicePrincipalName("MSSQLSvc", "sql.lab.example", "1433")),
        ("MSSQLSvc/sql.lab.example:INST01", ServicePrincipalName("MSSQLSvc", "sql.lab.example", "INST01")),
        ("ldap/dc1.lab.example/lab.example", ServicePrincipalName("ldap", "dc1.lab.example", None, "lab.example")),
        ("ldap/dc1.lab.example:389/lab.example", ServicePrincipalName("ldap", "dc1.lab.example", "389", "lab.example")),
        ("GC/dc1.lab.example/lab.example", ServicePrincipalName("GC", "dc1.lab.example", None, "lab.example")),
        (
            "E3514235-4B06-11D1-AB04-00C04FC2DCD2/5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d/lab.example",
            ServicePrincipalName(
                "E3514235-4B06-11D1-AB04-00C04FC2DCD2", "5a1c3e7b-9d02-4f68-b1a4-c3e5f7091b2d", None, "lab.example"
            ),
        ),
        ("ldap/[fd00:99::11]:389", ServicePrincipalName("ldap", "[fd00:99::11]", "389")),
        ("ldap/[fd00:99::11]", ServicePrincipalName("ldap", "[fd00:99::11]")),
    ],
)
def test_parse(text: str, expected: ServicePrincipalName) -> None:
    parsed = parse_spn(text)
    assert parsed == expected
    assert str(parsed) == text
    assert parsed.key == text.lower()


def test_key_folds_case_only() -> None:
    assert parse_spn("HOST/FS01.Lab.Example").key == "host/fs01.lab.example"
    assert parse_spn("HOST/Straße").key == "host/straße"  # no ß -> ss folding


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("HOST", "1 '/'-separated parts"),
        ("", "1 '/'-separated parts"),
        ("a/b/c/d", "4 '/'-separated parts"),
        ("/fs01", "empty service class"),
        ("  /fs01", "empty service class"),
        ("HOST/", "empty host"),
        ("HOST/:80", "empty host"),
        ("HOST/ ", "empty host"),
        ("HOST/fs01:", "empty port or instance"),
        ("HOST/fs01/", "empty service name"),
        ("HOST/[fd00::1", "unclosed '['"),
        ("HOST/[fd00::1]x", "text after the bracketed host"),
        ("HOST/[]:80", "empty host"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DecodeError, match="servicePrincipalName") as caught:
        parse_spn(text)
    assert fragment in str(caught.value)


def test_parse_rejects_non_text_and_truncates_long_values_in_messages() -> None:
    with pytest.raises(DecodeError, match="expected text"):
        parse_spn(b"HOST/x")  # type: ignore[arg-type]  # wrong type on purpose: it is rejected
    with pytest.raises(DecodeError) as caught:
        parse_spn("x" * 10_000)
    assert len(str(caught.value)) < 400


# --- sPNMappings -------------------------------------------------------------------------------


def test_parse_mappings() -> None:
    mappings = parse_spn_mappings([DEFAULT_MAPPINGS, " Foo = Bar, ,BAZ ,foo"])
    assert mappings.canonical_class("CIFS") == "host"
    assert mappings.canonical_class("http") == "host"
    assert mappings.canonical_class("baz") == "foo"
    assert mappings.canonical_class("HOST") == "host"
    assert mappings.canonical_class("ldap") == "ldap"
    assert "foo" not in mappings.aliases  # an alias equal to its canonical class is ignored
    assert mappings.aliases_of("HOST") >= {"cifs", "http", "alerter", "www"}
    assert mappings.aliases_of("ldap") == frozenset()


def test_parse_mappings_accepts_a_single_string_and_repeats() -> None:
    assert parse_spn_mappings("host=cifs") == parse_spn_mappings(["host=cifs", "host=cifs"])
    assert parse_spn_mappings([]) == SpnMappings()


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["host"], "has no '='"),
        (["=cifs"], "empty class before '='"),
        (["host=cifs", "other=cifs"], "alias 'cifs' is mapped to both 'host' and 'other'"),
        ([b"host=cifs"], "expected text"),
    ],
)
def test_parse_mappings_rejects(values: list[str], fragment: str) -> None:
    with pytest.raises(DecodeError, match="sPNMappings") as caught:
        parse_spn_mappings(values)
    assert fragment in str(caught.value)


# --- equivalence -------------------------------------------------------------------------------


def test_equivalent_keys() -> None:
    mappings = parse_spn_mappings(["host=cifs,http"])
    assert equivalent_keys(parse_spn("HOST/fs01"), mappings) == {"host/fs01", "cifs/fs01", "http/fs01"}
    assert equivalent_keys(parse_spn("CIFS/FS01"), mappings) == {"cifs/fs01"}
    assert equivalent_keys(parse_spn("HOST/fs01:80/svc"), mappings) == {
        "host/fs01:80/svc", "cifs/fs01:80/svc", "http/fs01:80/svc"
    }
    assert equivalent_keys(parse_spn("HOST/fs01"), SpnMappings()) == {"host/fs01"}


def _collide(a: str, b: str, mappings: SpnMappings) -> bool:
    return bool(equivalent_keys(parse_spn(a), mappings) & equivalent_keys(parse_spn(b), mappings))


def test_collisions() -> None:
    mappings = parse_spn_mappings([DEFAULT_MAPPINGS])
    assert _collide("cifs/fs01.lab.example", "HOST/FS01.lab.example", mappings)
    assert _collide("HOST/fs01", "host/FS01", mappings)
    assert not _collide("cifs/fs01", "http/fs01", mappings)
    assert not _collide("cifs/fs01", "HOST/fs02", mappings)
    assert not _collide("cifs/fs01", "HOST/fs01", SpnMappings())


def test_duplicate_counting_recipe_from_the_docstring() -> None:
    """Index accounts under every equivalent key; count only keys of SPN values present."""
    mappings = parse_spn_mappings([DEFAULT_MAPPINGS])
    held = {
        "FS01$": ["HOST/fs01.lab.example", "HOST/FS01"],
        "FS02$": ["HOST/fs02.lab.example", "cifs/fs01.lab.example"],  # clashes with FS01's HOST
        "SVC_WEB": ["http/web.lab.example"],
        "WEB01$": ["HOST/web01.lab.example", "HOST/fs02.lab.example"],  # plain duplicate of FS02's HOST
        "SVC_SQL": ["MSSQLSvc/sql:1433", "cifs/other"],
    }
    holders: dict[str, set[str]] = defaultdict(set)
    present: set[str] = set()
    for account, values in held.items():
        for value in values:
            spn = parse_spn(value)
            present.add(spn.key)
            for key in equivalent_keys(spn, mappings):
                holders[key].add(account)
    duplicated = {key: holders[key] for key in present if len(holders[key]) > 1}
    assert duplicated == {
        "cifs/fs01.lab.example": {"FS01$", "FS02$"},
        "host/fs02.lab.example": {"FS02$", "WEB01$"},
    }


# --- properties ---------------------------------------------------------------------------------

_part = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="/:[]"), min_size=1, max_size=20
).filter(str.strip)


@FUZZ
@given(_part, _part, st.none() | _part, st.none() | _part)
def test_round_trip(service_class: str, host: str, port: str | None, service: str | None) -> None:
    spn = ServicePrincipalName(service_class, host, port, service)
    assert parse_spn(str(spn)) == spn


@FUZZ
@given(st.one_of(st.text(max_size=60), st.text(alphabet="/:[]aB1 ", max_size=20)))
def test_parse_raises_only_decode_error(text: str) -> None:
    try:
        spn = parse_spn(text)
    except DecodeError:
        return
    assert str(spn) == text
    assert parse_spn(str(spn)) == spn


@FUZZ
@given(
    st.lists(st.one_of(st.text(max_size=40), st.text(alphabet="=, aBc", max_size=20)), max_size=5), st.text(max_size=30)
)
def test_parse_mappings_raises_only_decode_error(values: list[str], spn_text: str) -> None:
    try:
        mappings = parse_spn_mappings(values)
    except DecodeError:
        return
    try:
        spn = parse_spn(spn_text)
    except DecodeError:
        return
    assert spn.key in equivalent_keys(spn, mappings)

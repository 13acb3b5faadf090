"""Keytab decoding and the bind.method gssapi configuration."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ad_health_exporter import config
from ad_health_exporter.catalogue import CHECKS
from ad_health_exporter.config import ConfigError
from ad_health_exporter.formats import keytab as kerberos
from ad_health_exporter.ldap import kerberos as ldap_kerberos


def counted(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def entry(principal: str, kvno: int, enctype: int = 18, key: bytes = b"\xff" * 32, kvno32: int | None = None) -> bytes:
    name, realm = principal.rsplit("@", 1)
    parts = name.split("/")
    body = struct.pack(">H", len(parts)) + counted(realm) + b"".join(counted(p) for p in parts)
    body += struct.pack(">IIB", 1, 1700000000, kvno & 0xFF) + struct.pack(">H", enctype) + counted(key)
    if kvno32 is not None:
        body += struct.pack(">I", kvno32)
    return struct.pack(">i", len(body)) + body


def keytab(*entries: bytes) -> bytes:
    return b"\x05\x02" + b"".join(entries)


def test_read_keytab_v2() -> None:
    data = keytab(
        entry("monitor@LAB.EXAMPLE", 3),
        struct.pack(">i", -8) + b"\0" * 8,  # a hole left by a removed entry
        entry("HTTP/web.lab.example@LAB.EXAMPLE", 44, enctype=17, kvno32=300),
    )
    got = kerberos.read_keytab(data)
    assert [(e.principal, e.kvno, e.enctype) for e in got] == [
        ("monitor@LAB.EXAMPLE", 3, 18), ("HTTP/web.lab.example@LAB.EXAMPLE", 300, 17)]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "not a keytab"), (b"\x05\x09", "not a keytab"), (b"PK\x03\x04", "not a keytab"),
     (keytab(entry("a@B", 1))[:-5], "truncated entry"),
     (b"\x05\x02" + struct.pack(">i", 4) + b"\x00\x05ab", "malformed entry")],
)
def test_bad_keytabs(data: bytes, message: str) -> None:
    with pytest.raises(kerberos.KeytabError, match=message):
        kerberos.read_keytab(data)


@pytest.mark.skipif(shutil.which("ktutil") is None, reason="ktutil (krb5-user) is not installed")
def test_reads_what_mit_ktutil_writes(tmp_path: Path) -> None:
    path = tmp_path / "t.keytab"
    script = (
        "addent -password -p monitor@LAB.EXAMPLE -k 3 -e aes256-cts-hmac-sha1-96\nPw-one-1\n"
        "addent -password -p HTTP/web.lab.example@LAB.EXAMPLE -k 300 -e aes128-cts-hmac-sha1-96\nPw-two-2\n"
        f"wkt {path}\nq\n"
    )
    subprocess.run(["ktutil"], input=script, text=True, capture_output=True, timeout=30,
                   env={**os.environ, "KRB5_CONFIG": "/dev/null"}, check=True)
    got = kerberos.read_keytab(path.read_bytes())
    assert [(e.principal, e.kvno, e.enctype) for e in got] == [
        ("monitor@LAB.EXAMPLE", 3, 18), ("HTTP/web.lab.example@LAB.EXAMPLE", 300, 17)]


def test_match_principal_is_case_insensitive_like_ad() -> None:
    assert kerberos.match_principal("monitor@lab.example", ["MONITOR@LAB.EXAMPLE"]) == "MONITOR@LAB.EXAMPLE"
    assert kerberos.match_principal("other@LAB.EXAMPLE", ["monitor@LAB.EXAMPLE"]) is None


def domain(bind: dict, tls: dict | None = None) -> dict:
    d = {"name": "lab.example", "bind": bind}
    if tls is not None:
        d["tls"] = tls
    return {"domains": [d]}


def test_gssapi_bind_config(tmp_path: Path) -> None:
    (tmp_path / "monitor.keytab").write_bytes(keytab(entry("monitor@LAB.EXAMPLE", 2)))
    cfg = config.parse(domain({"method": "gssapi", "keytab": "monitor.keytab", "principal": "monitor@lab.example"},
                              {"mode": "starttls"}), CHECKS, base=tmp_path)
    bind = cfg.domains[0].bind
    assert bind.method == "gssapi" and bind.user == "monitor@LAB.EXAMPLE" and bind.password is None
    assert bind.keytab == tmp_path / "monitor.keytab" and "keytab" in bind.password_source
    # One principal in the keytab: it need not be named.
    cfg = config.parse(domain({"method": "gssapi", "keytab": "monitor.keytab"}), CHECKS, base=tmp_path)
    assert cfg.domains[0].bind.user == "monitor@LAB.EXAMPLE" and cfg.domains[0].tls.mode == "ldaps"
    # Simple stays the default.
    (tmp_path / "pw").write_text("secret\n")
    assert (
        config.parse(domain({"user": "u@lab.example", "password_file": "pw"}), CHECKS, base=tmp_path)
        .domains[0]
        .bind.method
        == "simple"
    )


@pytest.mark.parametrize(
    ("bind", "tls", "message"),
    [
        (
            {"method": "gssapi", "keytab": "monitor.keytab"},
            {"mode": "none", "allow_insecure_bind": True},
            "domains[0].tls.mode: bind method gssapi needs ldaps or starttls",
        ),
        ({"method": "gssapi"}, None, "domains[0].bind: method gssapi needs 'keytab'"),
        ({"method": "gssapi", "keytab": "missing.keytab"}, None, "domains[0].bind.keytab: cannot read"),
        ({"method": "gssapi", "keytab": "pw"}, None, "domains[0].bind.keytab: cannot read"),
        (
            {"method": "gssapi", "keytab": "monitor.keytab", "principal": "admin@LAB.EXAMPLE"},
            None,
            "domains[0].bind.principal: ",
        ),
        ({"method": "gssapi", "keytab": "two.keytab"}, None, "holds several principals"),
        (
            {"method": "gssapi", "keytab": "monitor.keytab", "password_file": "pw"},
            None,
            "domains[0].bind.password_file: is for method simple",
        ),
        (
            {"method": "simple", "user": "u", "password_file": "pw", "keytab": "monitor.keytab"},
            None,
            "domains[0].bind.keytab: is for method gssapi",
        ),
        (
            {"method": "ntlm", "user": "u", "password_file": "pw"},
            None,
            "domains[0].bind.method: must be simple or gssapi",
        ),
    ],
)
def test_gssapi_bind_errors(tmp_path: Path, bind: dict, tls: dict | None, message: str) -> None:
    (tmp_path / "monitor.keytab").write_bytes(keytab(entry("monitor@LAB.EXAMPLE", 2)))
    (tmp_path / "two.keytab").write_bytes(keytab(entry("a@LAB.EXAMPLE", 2), entry("b@LAB.EXAMPLE", 2)))
    (tmp_path / "pw").write_text("secret\n")
    with pytest.raises(ConfigError) as info:
        config.parse(domain(bind, tls), CHECKS, base=tmp_path)
    assert message in str(info.value)
    if "principal" in bind and "admin" in bind.get("principal", ""):
        assert "holds no key for admin@LAB.EXAMPLE (it holds: monitor@LAB.EXAMPLE)" in str(info.value)


def test_credential_store_is_private_memory_cache(tmp_path: Path) -> None:
    store = ldap_kerberos.credential_store(tmp_path / "k.keytab", "ad-health-exporter-lab.example")
    assert store == {"client_keytab": str(tmp_path / "k.keytab"), "ccache": "MEMORY:ad-health-exporter-lab.example"}

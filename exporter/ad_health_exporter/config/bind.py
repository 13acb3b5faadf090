"""The ``bind`` section: who the exporter binds as, and where its secret comes from.

Secrets are read when the file is loaded, so an unreadable password file or a keytab
without the configured principal fails at start-up (and in ``--check-config``), not at
the first bind. No message ever holds the secret itself.
"""

from __future__ import annotations

from pathlib import Path

from ..formats import keytab
from .model import BindConfig, Secret
from .tree import Node, optional, readable_file


def gssapi_missing() -> str | None:
    """None if the GSSAPI bindings can be used, else what to install."""
    try:
        import gssapi  # noqa: F401 - only whether it imports matters here
    except ImportError:
        return "the Python gssapi package is not installed (Debian: apt install python3-gssapi; pip: gssapi)"
    try:
        import cryptography  # noqa: F401 - ldap3 needs it to compute the TLS channel binding
    except ImportError:
        return "the Python cryptography package is not installed (ldap3 needs it for the TLS channel binding)"
    return None


def bind(node: Node, base: Path, environ: dict[str, str]) -> BindConfig:
    keys = node.mapping(("method", "user", "password_file", "password_env", "principal", "keytab"))
    method = optional(keys, "method", lambda n: n.string().lower(), "simple")
    if method == "gssapi":
        return _gssapi(node, keys, base)
    if method != "simple":
        raise keys["method"].fail(f"must be simple or gssapi; got {keys['method'].value!r}")
    for key in ("principal", "keytab"):
        if key in keys:
            raise keys[key].fail("is for method gssapi; method simple binds with user and a password")
    if "user" not in keys:
        raise node.fail("missing required key 'user'")
    user = keys["user"].string()
    has_file = "password_file" in keys and keys["password_file"].value is not None
    has_env = "password_env" in keys and keys["password_env"].value is not None
    if has_file == has_env:
        raise node.fail("give exactly one of 'password_file' or 'password_env'")
    if has_file:
        path = readable_file(keys["password_file"], base)
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise keys["password_file"].fail(f"cannot read {path}: {reason}") from None
        password = raw.rstrip("\r\n")
        source = f"file {path}"
        where = keys["password_file"]
    else:
        var = keys["password_env"].string()
        if var not in environ:
            raise keys["password_env"].fail(f"environment variable {var} is not set")
        password = environ[var]
        source = f"environment variable {var}"
        where = keys["password_env"]
    if not password:
        # An empty password makes an LDAP simple bind anonymous (RFC 4513 5.1.2): refuse it.
        raise where.fail(f"the password in {source} is empty")
    return BindConfig(user=user, password=Secret(password), password_source=source)


def _gssapi(node: Node, keys: dict[str, Node], base: Path) -> BindConfig:
    for key in ("user", "password_file", "password_env"):
        if key in keys:
            raise keys[key].fail(
                "is for method simple; method gssapi takes its key from 'keytab' and names 'principal'"
            )
    missing = gssapi_missing()
    if missing:
        raise keys["method"].fail(f"gssapi cannot be used: {missing}")
    if "keytab" not in keys:
        raise node.fail("method gssapi needs 'keytab' (export one with ktpass or samba-tool domain exportkeytab)")
    path = readable_file(keys["keytab"], base)
    try:
        available = keytab.principals(path.read_bytes())
    except (OSError, keytab.KeytabError) as exc:
        raise keys["keytab"].fail(f"cannot read {path} as a keytab: {getattr(exc, 'strerror', None) or exc}") from None
    if not available:
        raise keys["keytab"].fail(f"{path} holds no keys")
    if "principal" in keys:
        wanted = keys["principal"].string()
        principal = keytab.match_principal(wanted, available)
        if principal is None:
            raise keys["principal"].fail(f"{path} holds no key for {wanted} (it holds: {', '.join(available)})")
    elif len(available) == 1:
        principal = available[0]
    else:
        raise node.fail(f"{path} holds several principals ({', '.join(available)}): name one with 'principal'")
    return BindConfig(user=principal, password=None, password_source=f"keytab {path}", method="gssapi", keytab=path)

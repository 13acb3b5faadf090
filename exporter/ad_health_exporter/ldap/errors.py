"""Errors of LDAP operations against one DC, with reasons safe to log."""

from __future__ import annotations

import re

from ldap3.core import exceptions as lx

from . import authfail


class LdapError(Exception):
    """An LDAP operation against one DC failed. str() is safe to log: it never holds a secret."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class BindRefused(LdapError):
    """The DC answered but refused the bind; ``account_problem`` when any DC would refuse it."""

    def __init__(self, host: str, reason: str, account_problem: bool, cause: str = "") -> None:
        super().__init__(host, reason)
        self.account_problem = account_problem
        self.cause = cause or reason  # the DC's answer alone, without "bind as ... failed"



def bind_failure(exc: BaseException, host: str) -> authfail.AuthFailure:
    if isinstance(exc, lx.LDAPOperationResult):
        return authfail.simple_bind_failure(
            str(getattr(exc, "description", "") or type(exc).__name__), str(getattr(exc, "message", "") or "")
        )
    if type(exc).__module__.startswith("gssapi"):
        return authfail.gss_failure(str(exc), host)
    if isinstance(exc, lx.LDAPException):
        return authfail.AuthFailure(describe(exc), False)
    return authfail.AuthFailure(f"{type(exc).__name__}: {str(exc)[:200]}", False)


_ERRNO = re.compile(r"\[Errno (-?\d+)\] ([^'\]\)]+)")
_VERIFY = re.compile(r"certificate verify failed: ([^(]+)")


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for an ldap3 exception."""
    text = str(exc)
    if isinstance(exc, lx.LDAPCertificateError) or "doesn't match any name" in text:
        return "TLS certificate does not match the DC's host name"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        m = _VERIFY.search(text)
        return f"TLS certificate does not verify: {m.group(1).strip() if m else 'verification failed'}"
    if "WRONG_VERSION_NUMBER" in text or "UNEXPECTED_EOF" in text:
        return "TLS handshake failed (is the port speaking TLS?)"
    if isinstance(exc, lx.LDAPSocketReceiveError) and "timed out" in text.lower():
        return "no answer within the receive timeout"
    if "timed out" in text.lower():
        return "connection timed out"
    m = _ERRNO.search(text)
    if m:
        return m.group(2).strip().lower()
    if isinstance(exc, lx.LDAPOperationResult):
        desc = getattr(exc, "description", None) or type(exc).__name__
        message = (getattr(exc, "message", None) or "").strip().rstrip("\x00")
        return f"{desc}: {message}" if message else str(desc)
    if isinstance(exc, lx.LDAPSocketOpenError):
        return text.split(":", 1)[-1].strip()[:200] or "cannot open the connection"
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__

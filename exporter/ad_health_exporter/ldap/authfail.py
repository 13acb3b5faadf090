"""Turns a refused bind into a reason an AD admin can act on, and says whether to blame the account.

Active Directory and Samba answer every refused simple bind with ``invalidCredentials``
and a diagnostic such as ``80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext
error, data 775, v4563``; the ``data`` field is the Win32 error in hex and tells a wrong
password from a locked or disabled account. Kerberos (GSSAPI) failures arrive as GSS
errors whose minor status carries the KDC's answer.

"Account" failures (wrong password, locked, disabled, expired) are the same on every DC and
each attempt can count towards the lockout threshold, so the LDAP layer backs off the
credential as a whole for them, not only the DC that said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class AuthFailure:
    reason: str
    account_problem: bool  # true when the credential itself is refused (any DC would refuse it)


# Win32 codes in the bind diagnostic's "data" field ([MS-ERREF] 2.2), as AD and Samba send them.
_BIND_DATA: dict[int, str] = {
    0x525: "the bind account does not exist",
    0x52E: "wrong password (or unknown user)",
    0x530: "the bind account may not log on at this time (logon hours)",
    0x531: "the bind account may not log on from this workstation",
    0x532: "the bind account's password has expired",
    0x533: "the bind account is disabled",
    0x568: "the bind account has too many security IDs (token too large)",
    0x701: "the bind account has expired",
    0x773: "the bind account must change its password before it can bind",
    0x775: "the bind account is locked out",
}

_DATA = re.compile(r"\bdata ([0-9a-f]+)\b", re.I)


def simple_bind_failure(description: str, message: str) -> AuthFailure:
    """From an LDAP bind result (``invalidCredentials`` etc.) and its diagnostic message."""
    message = message.strip().rstrip("\x00")
    if description == "invalidCredentials":
        m = _DATA.search(message)
        if m:
            code = int(m.group(1), 16)
            known = _BIND_DATA.get(code)
            reason = f"{known} (AD error 0x{code:x})" if known else f"credentials refused (AD error 0x{code:x})"
            return AuthFailure(reason, True)
        return AuthFailure(f"credentials refused: {message}" if message else "credentials refused", True)
    if "sign or seal" in message.lower():
        # Samba's default (ldap server require strong auth = yes) wants SASL signing even over TLS.
        return AuthFailure(
            "the DC requires SASL signing or sealing, which ldap3 cannot do; on Samba set "
            "'ldap server require strong auth = allow_sasl_over_tls' (TLS then protects the session)",
            False,
        )
    if description == "strongerAuthRequired" or "Transport encryption required" in message:
        return AuthFailure(
            "the DC requires an encrypted connection for this bind (use tls.mode ldaps or starttls)", False
        )
    text = f"{description}: {message}" if message else description
    return AuthFailure(text, False)


# KDC answers that mean the principal or its key is refused, wherever it is presented.
_GSS_ACCOUNT = (
    ("preauthentication failed",
     "the keytab's key is refused by the KDC (wrong or outdated key: export the keytab again)"),
    ("password incorrect", "the keytab's key is refused by the KDC (wrong or outdated key: export the keytab again)"),
    ("credentials have been revoked", "the KDC refuses the principal: the account is disabled or locked out"),
    ("password has expired", "the bind account's password has expired"),
    ("key table entry not found", "the keytab holds no key for the principal"),
    ("no key table entry found", "the keytab holds no key for the principal"),
)


def gss_failure(text: str, host: str) -> AuthFailure:
    """From the text of a ``gssapi.exceptions.GSSError`` raised while binding to ``host``."""
    minor = _minor_message(text)
    lowered = minor.lower()
    if "server" in lowered and "not found in kerberos database" in lowered:
        return AuthFailure(
            f"the KDC knows no service principal ldap/{host} (is the SPN on the DC's account? "
            "setspn -Q ldap/" + host + ")",
            False,
        )
    if "client" in lowered and "not found in kerberos database" in lowered:
        return AuthFailure("the KDC does not know the bind principal", True)
    for needle, reason in _GSS_ACCOUNT:
        if needle in lowered:
            return AuthFailure(reason, True)
    if "clock skew too great" in lowered:
        return AuthFailure("Kerberos: this host's clock and the KDC's differ too much (more than 5 minutes)", False)
    if "cannot contact any kdc" in lowered or "cannot find kdc" in lowered:
        return AuthFailure("Kerberos: cannot contact any KDC for the realm (check the krb5 configuration)", False)
    if "cannot find kdc for realm" in lowered or "configuration file does not specify default realm" in lowered:
        return AuthFailure(f"Kerberos configuration: {minor}", False)
    return AuthFailure(f"Kerberos: {minor}", False)


_MINOR = re.compile(r"Minor \(\d+\): (.*)$", re.S)
_MAJOR = re.compile(r"Major \(\d+\): ([^,]*)")


def _minor_message(text: str) -> str:
    m = _MINOR.search(text)
    if m and m.group(1).strip() and m.group(1).strip().lower() != "unknown error":
        return m.group(1).strip().rstrip(".")
    m = _MAJOR.search(text)
    return (m.group(1).strip().rstrip(".") if m else text.strip()) or "GSSAPI failure"

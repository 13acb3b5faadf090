"""What the Kerberos probe found: per DC, the AS exchange; per DC and SPN, the service ticket.

Also the KDC's error codes (RFC 4120 7.5.9) by name, and how MIT krb5 reports them: its com_err
codes for protocol errors are ``ERROR_TABLE_BASE_krb5 + n``, for n the KDC's error code (0-127).
Every other krb5 code (``Cannot contact any KDC``, a timeout) means no KDC answer at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

NAME = "kerberos"

ERROR_TABLE_BASE_KRB5 = -1765328384
_PROTOCOL_CODES = 128

KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
KDC_ERR_ETYPE_NOSUPP = 14
KDC_ERR_CLIENT_REVOKED = 18
KDC_ERR_KEY_EXPIRED = 23
KDC_ERR_PREAUTH_FAILED = 24
KRB_AP_ERR_BAD_INTEGRITY = 31
KRB_AP_ERR_SKEW = 37

_NAMES: dict[int, tuple[str, str]] = {
    6: ("KDC_ERR_C_PRINCIPAL_UNKNOWN", "the KDC does not know the monitoring principal"),
    7: ("KDC_ERR_S_PRINCIPAL_UNKNOWN", "no account holds the SPN, or more than one does"),
    12: ("KDC_ERR_POLICY", "refused by the KDC's policy"),
    13: ("KDC_ERR_BADOPTION", "the KDC cannot honour a requested option"),
    14: ("KDC_ERR_ETYPE_NOSUPP", "the account has no AES key (its password predates AES, or AES is not enabled)"),
    18: ("KDC_ERR_CLIENT_REVOKED", "the monitoring account is disabled or locked out"),
    23: ("KDC_ERR_KEY_EXPIRED", "the monitoring account's password has expired"),
    24: ("KDC_ERR_PREAUTH_FAILED", "pre-authentication failed: wrong password or outdated keytab"),
    29: ("KDC_ERR_SVC_UNAVAILABLE", "the KDC is unavailable"),
    31: ("KRB_AP_ERR_BAD_INTEGRITY", "the KDC's answer does not decrypt: wrong password or outdated keytab"),
    37: ("KRB_AP_ERR_SKEW", "the DC's clock and this host's differ by more than 5 minutes"),
    41: ("KRB_AP_ERR_MODIFIED", "the ticket does not decrypt with the key the KDC has"),
    60: ("KRB_ERR_GENERIC", "a generic KDC error"),
    68: ("KDC_ERR_WRONG_REALM", "the principal belongs to another realm"),
}

# AS answers that refuse the monitoring identity itself: any KDC would say the same.
ACCOUNT_REFUSALS = frozenset(
    {KDC_ERR_C_PRINCIPAL_UNKNOWN, KDC_ERR_CLIENT_REVOKED, KDC_ERR_KEY_EXPIRED, KDC_ERR_PREAUTH_FAILED,
     KRB_AP_ERR_BAD_INTEGRITY}
)

SpnSource = Literal["domain_controller", "expected", "watched_computer", "configured"]


def kdc_error(krb5_code: int | None) -> int | None:
    """The KDC's protocol error code in an MIT krb5 (or GSS minor) code; None if it is not one.

    GSS minor codes arrive as unsigned 32-bit numbers: they are read as signed first.
    """
    if krb5_code is None:
        return None
    if krb5_code >= 2**31:
        krb5_code -= 2**32
    n = krb5_code - ERROR_TABLE_BASE_KRB5
    return n if 0 <= n < _PROTOCOL_CODES else None


def error_name(code: int) -> str:
    known = _NAMES.get(code)
    return known[0] if known else f"KDC error {code}"


def describe_error(code: int) -> str:
    """``KDC_ERR_S_PRINCIPAL_UNKNOWN (7): no account holds the SPN, or more than one does``."""
    known = _NAMES.get(code)
    return f"{known[0]} ({code}): {known[1]}" if known else f"KDC error {code}"


@dataclass(frozen=True)
class Target:
    spn: str  # as requested
    source: SpnSource
    subject: str  # the DC, account or computer it belongs to, for the report

    @property
    def label(self) -> str:
        return self.spn.lower()


@dataclass(frozen=True)
class TicketProbe:
    spn: str
    issued: bool
    kdc_error: int | None = None  # the KDC's refusal; None when issued or when no KDC answered
    reason: str | None = None  # why not issued (or why the kvno is missing)
    kvno: int | None = None  # key version of the service key the ticket is encrypted with
    etype: int | None = None  # enctype of that key


@dataclass(frozen=True)
class KdcProbe:
    host: str
    address: str | None
    # The KDC answered the AS exchange (a TGT, or a Kerberos error): True; it did not: False;
    # the probe could not ask (no address, the library missing or failing): None.
    answered: bool | None
    as_seconds: float | None = None  # time to the TGT (or to the KDC's refusal), both round trips
    as_error: int | None = None  # the KDC's refusal of the monitoring identity
    reason: str | None = None  # why there is no TGT
    tickets: tuple[TicketProbe, ...] = ()

    @property
    def tgt(self) -> bool:
        return self.answered is True and self.as_error is None and self.reason is None


@dataclass(frozen=True)
class KerberosResult:
    domain: str
    realm: str
    principal: str  # as requested, for the report ("" when the check is off)
    targets: tuple[Target, ...]
    dcs: tuple[KdcProbe, ...]
    enabled: bool = True
    notes: tuple[str, ...] = ()  # what the probe had to guess, for the report

    def key_versions(self) -> dict[str, dict[int, list[str]]]:
        """SPN label -> kvno -> the DCs that issued a ticket with it."""
        out: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for dc in self.dcs:
            for t in dc.tickets:
                if t.issued and t.kvno is not None:
                    out[t.spn.lower()][t.kvno].append(dc.host)
        return {spn: dict(by_kvno) for spn, by_kvno in out.items()}

    def divergent(self) -> dict[str, dict[int, list[str]]]:
        """The SPNs whose tickets carry different key versions on different DCs (the 1397 condition)."""
        return {spn: by_kvno for spn, by_kvno in self.key_versions().items() if len(by_kvno) > 1}

"""Names and meanings of the result codes seen in replication status.

``repsFrom`` and the neighbour attributes report the last attempt's result as
a 32-bit code.  Windows stores Win32 errors ([MS-ERREF] 2.2); Samba stores
WERROR values (the same numbers) and sometimes SSPI (``SEC_E_*``) or NTSTATUS
codes.  Readers may present the same code signed or unsigned, so every lookup
first normalises with ``code & 0xFFFFFFFF``.

Unknown codes never raise: they are rendered as hex and decimal.  An HRESULT
wrapping a known Win32 error (``0x8007xxxx``) is named after that error.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> (symbolic name, one-line meaning); meanings are written for AD operators.
_KNOWN: dict[int, tuple[str, str]] = {
    0: ("ERROR_SUCCESS", "the operation succeeded"),
    5: ("ERROR_ACCESS_DENIED", "access was denied"),
    29: ("ERROR_WRITE_FAULT", "write fault; Samba reports it for failed replication pulls"),
    53: ("ERROR_BAD_NETPATH", "the network path was not found"),
    58: ("ERROR_BAD_NET_RESP", "the server cannot perform the requested operation"),
    59: ("ERROR_UNEXP_NET_ERR", "an unexpected network error occurred"),
    64: ("ERROR_NETNAME_DELETED", "the network connection to the partner was dropped"),
    87: ("ERROR_INVALID_PARAMETER", "a parameter was invalid"),
    121: ("ERROR_SEM_TIMEOUT", "the network operation timed out"),
    1225: ("ERROR_CONNECTION_REFUSED", "the partner refused the network connection"),
    1231: ("ERROR_NETWORK_UNREACHABLE", "the partner's network is unreachable"),
    1232: ("ERROR_HOST_UNREACHABLE", "the partner host is unreachable"),
    1236: ("ERROR_CONNECTION_ABORTED", "the network connection was aborted locally"),
    1256: ("ERROR_HOST_DOWN", "the partner system is not available"),
    1311: ("ERROR_NO_LOGON_SERVERS", "no logon server is available"),
    1317: ("ERROR_NO_SUCH_USER", "the account does not exist"),
    1326: ("ERROR_LOGON_FAILURE", "logon failed: unknown user name or bad password"),
    1355: ("ERROR_NO_SUCH_DOMAIN", "the domain does not exist or cannot be contacted"),
    1359: ("ERROR_INTERNAL_ERROR", "an internal error occurred"),
    1396: ("ERROR_WRONG_TARGET_NAME", "the target account name is wrong (SPN held by another account)"),
    1397: ("ERROR_MUTUAL_AUTH_FAILED", "mutual authentication failed: the server's password is out of date at the DC"),
    1398: ("ERROR_TIME_SKEW", "the clocks of client and server differ too much"),
    1460: ("ERROR_TIMEOUT", "the operation timed out"),
    1722: ("RPC_S_SERVER_UNAVAILABLE", "the RPC server is unavailable"),
    1723: ("RPC_S_SERVER_TOO_BUSY", "the RPC server is too busy"),
    1726: ("RPC_S_CALL_FAILED", "the remote procedure call failed"),
    1727: ("RPC_S_CALL_FAILED_DNE", "the remote procedure call failed and did not execute"),
    1753: ("EPT_S_NOT_REGISTERED", "the endpoint mapper has no endpoint for the replication service"),
    1818: ("RPC_S_CALL_CANCELLED", "the remote procedure call was cancelled (often a timeout)"),
    1908: ("ERROR_DOMAIN_CONTROLLER_NOT_FOUND", "no domain controller could be found"),
    8240: ("ERROR_DS_NO_SUCH_OBJECT", "there is no such object on the server"),
    8333: ("ERROR_DS_OBJ_NOT_FOUND", "the directory object was not found"),
    8418: ("ERROR_DS_DRA_SCHEMA_MISMATCH", "replication failed because of a schema mismatch"),
    8438: ("ERROR_DS_DRA_BUSY", "the directory service is busy"),
    8439: ("ERROR_DS_DRA_BAD_DN", "the distinguished name given for replication is invalid"),
    8441: ("ERROR_DS_DRA_DN_EXISTS", "the distinguished name already exists"),
    8442: ("ERROR_DS_DRA_INTERNAL_ERROR", "the replication system hit an internal error"),
    8446: ("ERROR_DS_DRA_OUT_OF_MEM", "replication ran out of memory"),
    8451: ("ERROR_DS_DRA_DB_ERROR", "replication hit a database error"),
    8452: ("ERROR_DS_DRA_NO_REPLICA", "the naming context is being removed or is not replicated from this server"),
    8453: ("ERROR_DS_DRA_ACCESS_DENIED", "replication access was denied"),
    8456: ("ERROR_DS_DRA_SOURCE_DISABLED", "the source DC is rejecting replication requests"),
    8457: ("ERROR_DS_DRA_SINK_DISABLED", "the destination DC is rejecting replication requests"),
    8461: ("ERROR_DS_DRA_PREEMPTED", "the replication operation was preempted by a higher-priority one"),
    8464: ("ERROR_DS_DRA_INCOMPATIBLE_PARTIAL_SET",
           "the destination is waiting for new partial attributes from the source"),
    8465: ("ERROR_DS_DRA_SOURCE_IS_PARTIAL_REPLICA", "the source holds only a partial replica"),
    8477: ("ERROR_DS_DRA_REPL_PENDING", "the replication request was posted and is waiting for a reply"),
    8524: ("ERROR_DS_DNS_LOOKUP_FAILURE", "DNS lookup of the partner failed (check its <DSA GUID>._msdcs CNAME)"),
    8545: ("ERROR_DS_DRA_OBJ_NC_MISMATCH", "an object moved between domains and one side has not seen the move yet"),
    8589: ("ERROR_DS_CANT_DERIVE_SPN_WITHOUT_SERVER_REF",
           "the partner's SPN cannot be derived: its server object lacks serverReference"),
    8606: ("ERROR_DS_INSUFFICIENT_ATTR_TO_CREATE_OBJECT",
           "insufficient attributes to create an object (lingering objects)"),
    8610: ("ERROR_DS_ROLE_NOT_VERIFIED", "the FSMO role owner has not been verified by replication yet"),
    8614: ("ERROR_DS_REPL_LIFETIME_EXCEEDED", "the partner has not replicated for longer than the tombstone lifetime"),
    8647: ("ERROR_DS_SPN_VALUE_NOT_UNIQUE_IN_FOREST", "the SPN is already held by another account in the forest"),
    0x80090303: ("SEC_E_TARGET_UNKNOWN", "the target principal is unknown to the KDC"),
    0x80090308: ("SEC_E_INVALID_TOKEN", "the security token is invalid"),
    0x8009030C: ("SEC_E_LOGON_DENIED", "the logon attempt failed"),
    0x8009030E: ("SEC_E_NO_CREDENTIALS", "no credentials are available"),
    0x80090311: ("SEC_E_NO_AUTHENTICATING_AUTHORITY", "no authority could be contacted for authentication"),
    0x80090322: ("SEC_E_WRONG_PRINCIPAL", "the target principal name is wrong (missing or duplicated SPN)"),
    0x80090324: ("SEC_E_TIME_SKEW", "the clocks of client and server differ too much"),
    0xC0000001: ("STATUS_UNSUCCESSFUL", "the operation was unsuccessful"),
    0xC0000022: ("STATUS_ACCESS_DENIED", "access was denied"),
    0xC000005E: ("STATUS_NO_LOGON_SERVERS", "no logon server is available"),
    0xC000006D: ("STATUS_LOGON_FAILURE", "logon failed: unknown user name or bad password"),
    0xC00000B5: ("STATUS_IO_TIMEOUT", "the I/O operation timed out"),
    0xC00000CC: ("STATUS_BAD_NETWORK_NAME", "the network name cannot be found"),
    0xC0000133: ("STATUS_TIME_DIFFERENCE_AT_DC", "the clocks of this machine and the DC differ too much"),
    0xC000018B: ("STATUS_NO_TRUST_SAM_ACCOUNT", "the DC has no computer account for this machine's trust"),
    0xC000020C: ("STATUS_CONNECTION_DISCONNECTED", "the network connection was disconnected"),
    0xC0000225: ("STATUS_NOT_FOUND", "the object was not found"),
    0xC0000236: ("STATUS_CONNECTION_REFUSED", "the partner refused the network connection"),
    0xC000023C: ("STATUS_NETWORK_UNREACHABLE", "the partner's network is unreachable"),
    0xC000023D: ("STATUS_HOST_UNREACHABLE", "the partner host is unreachable"),
    0xC0000241: ("STATUS_CONNECTION_ABORTED", "the network connection was aborted locally"),
    0xC00002C3: ("STATUS_MUTUAL_AUTHENTICATION_FAILED",
                 "mutual authentication failed: the server's password is out of date at the DC"),
}

_HRESULT_WIN32_PREFIX = 0x80070000


@dataclass(frozen=True)
class ResultCode:
    """A result code with its symbolic name and a one-line meaning."""

    #: The code as unsigned 32-bit.
    code: int
    #: Symbolic name, or ``0x%08X`` when unknown.
    name: str
    meaning: str
    known: bool

    @property
    def signed(self) -> int:
        """The code as signed 32-bit, the form some tools print (``-2146893022``)."""
        return self.code - 0x1_0000_0000 if self.code & 0x8000_0000 else self.code

    def __str__(self) -> str:
        if self.known:
            return f"{self.name} ({self.code}, {self.code:#010x}): {self.meaning}"
        return f"unknown result {self.code:#010x} ({self.code})"


def normalise(code: int) -> int:
    """Return ``code`` as unsigned 32-bit (``code & 0xFFFFFFFF``)."""
    return int(code) & 0xFFFFFFFF


def describe(code: int) -> ResultCode:
    """Look up a result code.  Never raises for an integer.

    Signed and unsigned forms give the same answer.  Unknown codes give
    ``known=False`` and a name in hex; an HRESULT ``0x8007xxxx`` whose low
    word is a known Win32 code is named ``HRESULT_FROM_WIN32(<name>)``.
    """
    unsigned = normalise(code)
    entry = _KNOWN.get(unsigned)
    if entry is not None:
        return ResultCode(unsigned, entry[0], entry[1], True)
    if unsigned & 0xFFFF0000 == _HRESULT_WIN32_PREFIX:
        inner = _KNOWN.get(unsigned & 0xFFFF)
        if inner is not None and unsigned & 0xFFFF:
            return ResultCode(unsigned, f"HRESULT_FROM_WIN32({inner[0]})", inner[1], True)
    return ResultCode(unsigned, f"{unsigned:#010x}", f"unknown result code {unsigned} ({unsigned:#010x})", False)


def result_name(code: int) -> str:
    """Symbolic name of a result code, or its hex form when unknown."""
    return describe(code).name

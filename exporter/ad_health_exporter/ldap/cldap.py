"""The LDAP ping: a connectionless LDAP search over UDP 389 ([MS-ADTS] 6.3.3), as the DC locator sends it.

One request: base "", scope base, filter ``(&(DnsDomain=<domain>)(NtVer=<u32 LE>))``, attribute
``Netlogon``. The DC answers with one datagram holding a searchResEntry (the Netlogon value, decoded
by ``formats.netlogon``) and a searchResDone. No bind, no TLS, no connection: it is what every
Windows client does before it talks to a DC, and it needs nothing from the monitoring account.

The request is a fixed shape, encoded here (the unit tests hold it byte for byte against ldap3's
encoder); answers are decoded with the paged search's BER reader.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import ber

LDAP_PORT = 389
_MAX_DATAGRAM = 65535


class PingError(Exception):
    """The address gave no usable answer; the message says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PingAnswer:
    netlogon: bytes  # the raw Netlogon value, for formats.netlogon
    address: str  # the DC address that answered
    local_address: str  # this host's address towards it: the one the DC assigns a client site to
    rtt: float  # seconds from the send of the answered request to its answer
    attempts: int  # requests sent, the answered one included


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + body


def _integer(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)


def encode_ping(message_id: int, domain: str, nt_version: int) -> bytes:
    """The LDAPMessage of one LDAP ping (the filter's values are raw octets: nothing to escape)."""

    def equal(attribute: bytes, value: bytes) -> bytes:  # [3] equalityMatch
        return _tlv(0xA3, _tlv(0x04, attribute) + _tlv(0x04, value))

    search = (
        _tlv(0x04, b"")  # baseObject: the rootDSE
        + _tlv(0x0A, b"\x00")  # scope: baseObject
        + _tlv(0x0A, b"\x00")  # derefAliases: never
        + _tlv(0x02, b"\x00")  # sizeLimit
        + _tlv(0x02, b"\x00")  # timeLimit
        + _tlv(0x01, b"\x00")  # typesOnly: false
        + _tlv(0xA0, equal(b"DnsDomain", domain.encode("utf-8")) + equal(b"NtVer", nt_version.to_bytes(4, "little")))
        + _tlv(0x30, _tlv(0x04, b"Netlogon"))
    )
    return _tlv(0x30, _tlv(0x02, _integer(message_id)) + _tlv(0x63, search))


def netlogon_value(datagram: bytes, message_ids: set[int]) -> tuple[int, bytes] | None:
    """(message ID, Netlogon value) of an answer to one of ``message_ids``; None for a datagram
    answering another request. Raises PingError when the DC answered without a value, BerError
    when the datagram is malformed."""
    start = 0
    while start < len(datagram):
        end = ber.frame_end(datagram, start)
        if end is None:
            raise ber.BerError(f"LDAPMessage at offset {start} runs past the {len(datagram)}-byte datagram")
        message = datagram[start:end]
        message_id, op, _, _ = ber.header(message)
        if message_id not in message_ids:
            return None
        if op == ber.OP_SEARCH_ENTRY:
            _, attributes = ber.decode_entry(message)
            values = attributes.get("netlogon", [])
            if len(values) != 1:
                raise PingError(f"answered with {len(values)} Netlogon values instead of one")
            return message_id, values[0]
        if op == ber.OP_SEARCH_DONE:
            done = ber.decode_done(message)
            detail = f": {done.diagnostic}" if done.diagnostic else ""
            raise PingError(f"answered with result code {done.result_code}{detail} and no Netlogon value "
                            "(does the DC serve this domain?)")
        start = end
    raise PingError("answered with an empty datagram")


def ldap_ping(
    address: str,
    domain: str,
    *,
    nt_version: int,
    timeout: float,
    retries: int,
    port: int = LDAP_PORT,
    clock: Callable[[], float] = time.monotonic,
) -> PingAnswer:
    """Ping one address: up to ``1 + retries`` requests, each waited for ``timeout`` seconds.

    A late answer to an earlier request still counts (UDP loses, it does not reorder much).
    Raises PingError.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sent: dict[int, float] = {}
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            # Connected: the kernel drops datagrams from anyone else and reports ICMP errors.
            sock.connect((address, port))
            local_address = str(sock.getsockname()[0])
            for attempt in range(1, retries + 2):
                message_id = 1 + secrets.randbelow(0x7FFFFFFE)
                sent[message_id] = clock()
                sock.send(encode_ping(message_id, domain, nt_version))
                deadline = sent[message_id] + timeout
                while (left := deadline - clock()) > 0:
                    sock.settimeout(left)
                    try:
                        datagram = sock.recv(_MAX_DATAGRAM)
                    except TimeoutError:
                        break
                    received = clock()
                    try:
                        answer = netlogon_value(datagram, set(sent))
                    except ber.BerError as exc:
                        raise PingError(f"malformed answer: {exc}") from None
                    if answer is not None:
                        answered, value = answer
                        return PingAnswer(value, address, local_address, received - sent[answered], attempt)
        except ConnectionRefusedError:
            raise PingError(f"UDP {port} refused (ICMP port unreachable): no LDAP service listens there") from None
        except OSError as exc:
            raise PingError(f"UDP {port}: {(exc.strerror or str(exc)).lower()}") from None
    raise PingError(f"no answer on UDP {port} to {len(sent)} request(s), {timeout:g}s each")

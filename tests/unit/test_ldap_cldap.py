"""The LDAP ping client: its request against ldap3's encoder, its answers from the lab's captures,
and the UDP exchange against a responder on loopback that replays them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from ldap3 import BASE, DEREF_NEVER
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from ad_health_exporter.formats.netlogon import decode_sam_logon_response_ex
from ad_health_exporter.ldap import ber, cldap

DATA = Path(__file__).parent / "data"


def captures() -> dict[str, bytes]:
    out = {}
    for line in (DATA / "netlogon_lab.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            label, _version, hex_text = line.split()
            out[label] = bytes.fromhex(hex_text)
    return out


def ldap3_ping(message_id: int, domain: str, nt_version: int) -> bytes:
    escaped = "".join(f"\\{b:02x}" for b in nt_version.to_bytes(4, "little"))
    request = search_operation("", f"(&(DnsDomain={domain})(NtVer={escaped}))", BASE, DEREF_NEVER, ["Netlogon"],
                               0, 0, False, True, True)
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
    return encoder.encode(message)


@pytest.mark.parametrize(
    ("message_id", "domain", "nt_version"),
    [(1, "lab.example", 6), (0x7FFFFFFF, "corp.example.com", 0x20000016), (200, "a" * 140 + ".example", 0x16)],
)
def test_request_is_what_ldap3_encodes(message_id: int, domain: str, nt_version: int) -> None:
    assert cldap.encode_ping(message_id, domain, nt_version) == ldap3_ping(message_id, domain, nt_version)


def test_netlogon_value_of_a_lab_answer() -> None:
    answer = cldap.netlogon_value(captures()["dc1"], {1})
    assert answer is not None
    message_id, value = answer
    assert message_id == 1 and decode_sam_logon_response_ex(value).dns_host_name == "dc1.lab.example"
    # An answer to a request this exchange did not send is not ours.
    assert cldap.netlogon_value(captures()["dc1"], {2, 3}) is None


def test_an_answer_without_netlogon_says_so() -> None:
    with pytest.raises(cldap.PingError, match="result code 0 and no Netlogon value"):
        cldap.netlogon_value(captures()["dc1_other_domain"], {1})


@pytest.mark.parametrize("cut", [3, 40, 117])
def test_a_cut_datagram_is_malformed(cut: int) -> None:
    with pytest.raises(ber.BerError):
        cldap.netlogon_value(captures()["dc1"][:cut], {1})


# --- the exchange ---------------------------------------------------------------------------------


def with_message_id(datagram: bytes, message_id: int) -> bytes:
    """The captured datagram (message ID 1) re-encoded as an answer to ``message_id``."""
    out = b""
    start = 0
    while start < len(datagram):
        end = ber.frame_end(datagram, start)
        assert end is not None
        message = datagram[start:end]
        _, _, op_start, op_end = ber.header(message)
        op = message[message.index(b"\x02\x01\x01") + 3:op_end]
        out += cldap._tlv(0x30, cldap._tlv(0x02, cldap._integer(message_id)) + op)
        start = end
    return out


class Responder:
    """A UDP server on 127.0.0.1 that answers LDAP pings with a lab capture (or what ``reply`` makes)."""

    def __init__(self, reply: Callable[[int, int], bytes | None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.requests.append(data)
            answer = self._reply(len(self.requests), ber.header(data)[0])
            if answer is not None:
                self.sock.sendto(answer, peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def responder():
    made: list[Responder] = []

    def make(reply: Callable[[int, int], bytes | None]) -> Responder:
        made.append(Responder(reply))
        return made[-1]

    yield make
    for r in made:
        r.close()


def ping(port: int, **kwargs: float) -> cldap.PingAnswer:
    options = {"timeout": 0.3, "retries": 2, **kwargs}
    return cldap.ldap_ping("127.0.0.1", "lab.example", nt_version=6, port=port,
                           timeout=options["timeout"], retries=int(options["retries"]))


def test_ping_gets_the_dcs_answer(responder) -> None:
    server = responder(lambda n, mid: with_message_id(captures()["dc2_kdc_stopped"], mid))
    answer = ping(server.port)
    assert answer.attempts == 1 and answer.address == answer.local_address == "127.0.0.1"
    assert 0 <= answer.rtt < 0.3
    assert int(decode_sam_logon_response_ex(answer.netlogon).flags) == 0x13DC
    assert server.requests == [cldap.encode_ping(ber.header(server.requests[0])[0], "lab.example", 6)]


def test_ping_asks_again_after_a_lost_datagram(responder) -> None:
    server = responder(lambda n, mid: with_message_id(captures()["dc1"], mid) if n == 3 else None)
    answer = ping(server.port, timeout=0.2)
    assert answer.attempts == 3 and len(server.requests) == 3
    ids = [ber.header(r)[0] for r in server.requests]
    assert len(set(ids)) == 3, "every request has its own message ID"


def test_ping_ignores_answers_to_other_requests(responder) -> None:
    server = responder(lambda n, mid: with_message_id(captures()["dc1"], mid + 1))
    with pytest.raises(cldap.PingError, match=r"no answer on UDP \d+ to 2 request\(s\), 0.2s each"):
        ping(server.port, timeout=0.2, retries=1)
    assert len(server.requests) == 2


def test_ping_reports_a_malformed_answer(responder) -> None:
    server = responder(lambda n, mid: with_message_id(captures()["dc1"], mid)[:50])
    with pytest.raises(cldap.PingError, match="malformed answer"):
        ping(server.port)


def test_ping_of_a_port_without_a_listener_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(cldap.PingError, match="refused"):
        ping(port, timeout=1.0)

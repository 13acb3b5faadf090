"""The DC's certificate is verified against the DC's host name, even though we connect to an address."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from ad_health_exporter.config import LdapConfig, TlsConfig
from ad_health_exporter.ldap import Directory, LdapError
from support.builders import domain_config
from support.pki import TestCA


class TlsListener:
    """Completes TLS handshakes on loopback with the given certificate, then hangs up."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            try:
                with self._ctx.wrap_socket(raw, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    def close(self) -> None:
        self._stop = True
        self._sock.close()


@pytest.fixture
def listener(tmp_path: Path):
    ca = TestCA(tmp_path / "ca")
    # The lab's certificates carry the DC's address too: that must not stand in for its name.
    issued = ca.issue("dc1", dns=("dc1.lab.example",), ips=("127.0.0.1",))
    server = TlsListener(issued.cert, issued.key)
    yield server, ca.cert
    server.close()


def directory(ca: Path, port: int) -> Directory:
    return Directory(domain_config(tls=TlsConfig(mode="ldaps", ca_file=ca),
                                   ldap=LdapConfig(port=port, connect_timeout=3, receive_timeout=3)))


def test_certificate_of_the_named_dc_passes_the_handshake(listener) -> None:
    server, ca = listener
    conn = directory(ca, server.port).connect("dc1.lab.example", bind=False, address="127.0.0.1")
    conn.close()


def test_certificate_valid_for_the_address_but_not_the_dc_is_refused(listener) -> None:
    server, ca = listener
    with pytest.raises(LdapError) as info:
        directory(ca, server.port).connect("dc2.lab.example", bind=False, address="127.0.0.1")
    assert info.value.host == "dc2.lab.example"
    assert "TLS certificate does not verify" in info.value.reason
    assert "dc2.lab.example" in info.value.reason


def test_certificate_from_another_ca_is_refused(listener, tmp_path: Path) -> None:
    server, _ = listener
    other = TestCA(tmp_path / "other", name="other CA")
    with pytest.raises(LdapError, match="TLS certificate does not verify"):
        directory(other.cert, server.port).connect("dc1.lab.example", bind=False, address="127.0.0.1")


def test_missing_ca_file_fails_the_connection_and_names_the_file(listener, tmp_path: Path) -> None:
    server, _ = listener
    gone = tmp_path / "rotated-away.pem"
    with pytest.raises(LdapError) as info:
        directory(gone, server.port).connect("dc1.lab.example", bind=False, address="127.0.0.1")
    assert "tls.ca_file" in info.value.reason and str(gone) in info.value.reason, info.value.reason

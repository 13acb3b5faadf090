"""``--web.listen-address``: where the endpoint listens."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET


def parse_listen_address(text: str) -> ListenAddress:
    """``:10088``, ``127.0.0.1:10088``, ``[::1]:10088``, ``localhost:10088``."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"--web.listen-address: {text!r} has no port (write host:port or :port)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"--web.listen-address: {host!r} is not an IPv6 address") from None
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"--web.listen-address: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--web.listen-address: port {port} is out of range")
    return ListenAddress(host or "0.0.0.0", port)

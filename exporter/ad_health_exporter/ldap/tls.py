"""TLS to a DC reached by address, verified against the DC's host name."""

from __future__ import annotations

import ssl

import ldap3


class HostVerifyingTls(ldap3.Tls):
    """TLS that verifies the DC's certificate against the DC's host name, and only that.

    The connection goes to an IP address we resolved ourselves. ldap3 2.9.1 would accept a
    certificate that names that address even when ``valid_names`` says otherwise, so the
    socket is wrapped here with Python's own host-name check (``check_hostname``) against
    the DC's name, which is also sent as SNI.
    """

    def __init__(self, host: str, ca_file: str | None) -> None:
        # The CA file is read in wrap_socket, not handed to ldap3: ldap3 checks it when the Tls
        # object is built, outside any connection error handling, so a CA file that vanished
        # would fail the whole check instead of this connection.
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.host = host
        self.ca_file = ca_file

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        try:
            # Per connection, so a renewed CA file is used without a reload.
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise OSError(f"cannot load tls.ca_file {self.ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        connection.socket = context.wrap_socket(
            connection.socket, server_side=False, do_handshake_on_connect=do_handshake, server_hostname=self.host
        )



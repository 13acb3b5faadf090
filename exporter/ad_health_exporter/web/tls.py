"""The server's SSL context for a ``tls_server_config``, and the client certificate's names."""

from __future__ import annotations

import ipaddress
import os
import ssl

from .settings import TlsServerConfig, WebConfigError
from .tls_names import CLIENT_AUTH, DEFAULT_CIPHERS, VERSIONS


def _no_passphrase() -> str:
    raise WebConfigError("the key is encrypted with a passphrase: give an unencrypted key file (mode 0600)")


def ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server context for ``tls``; every file is read now, so a bad one fails here."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[tls.min_version]
    ctx.maximum_version = VERSIONS[tls.max_version]
    ctx.set_ciphers(":".join(tls.cipher_suites) if tls.cipher_suites else DEFAULT_CIPHERS)
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    for name, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if not os.access(path, os.R_OK):
            raise WebConfigError(f"tls_server_config.{name}: cannot read {path}")
    try:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
    except WebConfigError as exc:
        raise WebConfigError(f"tls_server_config.key_file: {exc}") from None
    except (ssl.SSLError, OSError) as exc:
        raise WebConfigError(
            f"tls_server_config: cannot use cert_file {tls.cert_file} with key_file {tls.key_file}: {_ssl_reason(exc)}"
        ) from None
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=str(tls.client_ca_file))
        except (ssl.SSLError, OSError) as exc:
            raise WebConfigError(
                f"tls_server_config.client_ca_file: cannot load {tls.client_ca_file}: {_ssl_reason(exc)}"
            ) from None
        if not ctx.get_ca_certs():
            raise WebConfigError(f"tls_server_config.client_ca_file: {tls.client_ca_file} holds no CA certificate")
    return ctx


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return (exc.reason or str(exc)).replace("_", " ").lower()
    return getattr(exc, "strerror", None) or str(exc)


def peer_sans(cert: dict | None) -> set[str]:
    """The subjectAltName values of a verified peer certificate, as the exporter-toolkit compares them."""
    out: set[str] = set()
    for kind, value in (cert or {}).get("subjectAltName", ()):
        if kind == "IP Address":
            try:
                value = str(ipaddress.ip_address(value.strip()))
            except ValueError:
                pass
        out.add(value)
    return out

"""The lab certificate authority and one server certificate per DC (SANs: DNS name and IP)."""

from __future__ import annotations

import os
from pathlib import Path

from . import faketime
from .proc import run

# Certificates start a day in the past so that a DC or client running behind (a negative
# clock skew fault) still sees them as valid.
_BACKDATE = "-1d"


def _openssl(args: list[str], what: str) -> None:
    run(["openssl", *args], env=faketime.env(_BACKDATE), what=what)


def make_ca(pki_dir: Path, lab_name: str) -> Path:
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = pki_dir / "ca.key", pki_dir / "ca.pem"
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_pem),
              "-days", "3651", "-subj", f"/O=adlab/CN=adlab test CA {lab_name}",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign",
              "-addext", "subjectKeyIdentifier=hash"], "create lab CA")
    os.chmod(ca_key, 0o600)
    os.chmod(ca_pem, 0o644)
    return ca_pem


def make_server_cert(pki_dir: Path, host: str, fqdn: str, ip: str) -> tuple[Path, Path]:
    """Key and certificate for one DC; Samba refuses a key file readable by others, hence 0600."""
    key, csr, cert, ext = (pki_dir / f"{host}.{suffix}" for suffix in ("key", "csr", "pem", "ext"))
    ext.write_text(
        f"subjectAltName=DNS:{fqdn},IP:{ip}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n")
    _openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
              "-subj", f"/CN={fqdn}"], f"create {host} key")
    os.chmod(key, 0o600)
    _openssl(["x509", "-req", "-in", str(csr), "-CA", str(pki_dir / "ca.pem"), "-CAkey", str(pki_dir / "ca.key"),
              "-CAcreateserial", "-out", str(cert), "-days", "826", "-sha256", "-extfile", str(ext)],
             f"sign {host} certificate")
    csr.unlink()
    return key, cert

"""Kerberos (GSSAPI) bind from a keytab: the credential store handed to MIT krb5.

The exporter gets its ticket from the keytab itself (MIT's ``client_keytab`` credential
store) into a MEMORY credential cache of its own: no password on disk, no ``kinit`` cron
job, no shared ``/tmp/krb5cc_*`` file that another process could read or overwrite, and
the ticket is renewed from the keytab when it expires. The krb5 configuration (realm, KDC)
comes from the usual place: ``/etc/krb5.conf`` or ``KRB5_CONFIG``.

ldap3 2.9.1 has no SASL signing or sealing layer, so the bind is only offered over LDAPS or
StartTLS; TLS protects the session, and ldap3 sends the TLS channel binding.
"""

from __future__ import annotations

from pathlib import Path


def credential_store(keytab: Path, cache_name: str) -> dict[str, str]:
    """The MIT credential store for gss_acquire_cred_from: a private MEMORY cache fed from the keytab."""
    return {"client_keytab": str(keytab), "ccache": f"MEMORY:{cache_name}"}

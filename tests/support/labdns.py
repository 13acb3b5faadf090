"""Test helper: make a lab DC's A record dynamic (aged) for a while, as Windows DCs register them.

Samba stores every record static (timestamp 0); AD-integrated zones accept a dnsRecord value
with an aging timestamp written over LDAP, which is what a dynamic update leaves behind.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager

import ldap3

EPOCH_1601 = 11_644_473_600


def admin_connection(info, dc) -> ldap3.Connection:
    password = open(info.admin_password_file).read().strip()
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=info.ca_file, valid_names=[dc.fqdn])
    server = ldap3.Server(dc.ip, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE, connect_timeout=5)
    return ldap3.Connection(server, user=info.admin.upn, password=password, auto_bind=True, raise_exceptions=True,
                            receive_timeout=10, check_names=False)


@contextmanager
def dynamic_dc_record(info, dc_name: str, age_days: float, write_on: str = "dc1") -> Iterator[float]:
    """Give ``dc_name``'s own A record an aging timestamp ``age_days`` old; yields it as Unix time.

    The original values are written back on exit.
    """
    target, writer = info.dcs[dc_name], info.dcs[write_on]
    conn = admin_connection(info, writer)
    try:
        base = f"CN=MicrosoftDNS,DC=DomainDnsZones,{info.domain_dn}"
        conn.search(base, f"(&(objectClass=dnsNode)(name={target.fqdn.split('.')[0]}))", attributes=["dnsRecord"])
        (entry,) = [e for e in conn.response if e["type"] == "searchResEntry"]
        dn, original = entry["dn"], list(entry["raw_attributes"]["dnsRecord"])
        address = bytes(int(x) for x in target.ip.split("."))
        (mine,) = [v for v in original if v[2:4] == b"\x01\x00" and v[24:28] == address]
        hours = int((time.time() + EPOCH_1601) // 3600) - int(age_days * 24)
        aged = mine[:20] + hours.to_bytes(4, "little") + mine[24:]
        conn.modify(dn, {"dnsRecord": [(ldap3.MODIFY_REPLACE, [aged if v == mine else v for v in original])]})
        try:
            yield float(hours * 3600 - EPOCH_1601)
        finally:
            conn.modify(dn, {"dnsRecord": [(ldap3.MODIFY_REPLACE, original)]})
    finally:
        conn.unbind()

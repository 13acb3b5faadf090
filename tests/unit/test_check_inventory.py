"""Reading the topology: this domain's DCs, and every DC of the forest by DSA GUID."""

from __future__ import annotations

import uuid

from ad_health_exporter.checks.inventory.read import _read_topology
from ad_health_exporter.ldap import Entry
from support.builders import context
from support.directory import FakeDc, FakeDirectory, root_dse

DOMAIN_NC = "DC=lab,DC=example"
CHILD_NC = "DC=child,DC=lab,DC=example"
CONFIG_NC = f"CN=Configuration,{DOMAIN_NC}"
SITES = f"CN=Sites,{CONFIG_NC}"
SITE = "Default-First-Site-Name"
DC1_GUID = uuid.UUID("3417a2d1-8edb-4162-a366-36fe25a6c1db")
CDC_GUID = uuid.UUID("9b5f5264-bc11-4353-84f7-6e2d43d37083")
SERVERS = "(objectClass=server)"
DSAS = "(objectClass=nTDSDSA)"


def server_dn(name: str) -> str:
    return f"CN={name},CN=Servers,CN={SITE},{SITES}"


def forest_root() -> FakeDc:
    """The forest root lab.example with a child domain child.lab.example, as its DC answers."""
    # GONE: a server object left over without an nTDSDSA: not a DC any more.
    servers = [
        Entry(server_dn(name), {"dnshostname": [host.encode()]})
        for name, host in (("DC1", "dc1.lab.example"), ("CDC", "cdc.child.lab.example."), ("GONE", "gone.lab.example"))
    ]
    dsas = [
        Entry(f"CN=NTDS Settings,{server_dn(name)}", {
            "objectguid": [guid.bytes_le], "options": [b"1"], "msds-hasdomainncs": [nc.encode()],
            "msds-hasmasterncs": [nc.encode(), CONFIG_NC.encode()],
        })
        for name, guid, nc in (("DC1", DC1_GUID, DOMAIN_NC), ("CDC", CDC_GUID, CHILD_NC))
    ]
    head = Entry(DOMAIN_NC, {"fsmoroleowner": [f"CN=NTDS Settings,{server_dn('DC1')}".encode()]})
    return FakeDc(
        answers={SERVERS: servers, DSAS: dsas},
        objects={DOMAIN_NC: head},
        root=root_dse(defaultNamingContext=DOMAIN_NC, configurationNamingContext=CONFIG_NC,
                      rootDomainNamingContext=DOMAIN_NC, schemaNamingContext=f"CN=Schema,{CONFIG_NC}"),
    )


def test_forest_root_lists_its_own_dcs_and_knows_every_dc_of_the_forest() -> None:
    directory = FakeDirectory({"dc1.lab.example": forest_root()})
    ctx = context(None, directory)
    with directory.connect("dc1.lab.example") as conn:
        inv = _read_topology(ctx, conn, DOMAIN_NC)
    # What it asked: the domain NC's head, and the servers and DSAs under CN=Sites.
    assert [r.dn for r in directory.reads] == [DOMAIN_NC]
    assert {(s.base, s.filter_) for s in directory.searches} <= {(SITES, SERVERS), (SITES, DSAS)}
    assert inv.hosts == ("dc1.lab.example",)
    assert inv.pdc is not None and inv.pdc.host == "dc1.lab.example" and inv.pdc.global_catalog
    assert inv.forest == inv.domain == "lab.example"
    assert inv.forest_dcs == {DC1_GUID: "dc1.lab.example", CDC_GUID: "cdc.child.lab.example"}
    assert inv.forest_hosts == ("cdc.child.lab.example", "dc1.lab.example")

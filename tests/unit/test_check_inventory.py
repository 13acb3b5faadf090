"""Reading the topology: this domain's DCs, and every DC of the forest by DSA GUID."""

from __future__ import annotations

import uuid

from ad_health_exporter.checks.base import CheckContext
from ad_health_exporter.checks.inventory.read import _read_topology
from ad_health_exporter.config import BindConfig, DomainConfig, Secret
from ad_health_exporter.ldap import Entry, RootDSE

DOMAIN_NC = "DC=lab,DC=example"
CHILD_NC = "DC=child,DC=lab,DC=example"
CONFIG_NC = f"CN=Configuration,{DOMAIN_NC}"
SITES = f"CN=Sites,{CONFIG_NC}"
SITE = "Default-First-Site-Name"
DC1_GUID = uuid.UUID("3417a2d1-8edb-4162-a366-36fe25a6c1db")
CDC_GUID = uuid.UUID("9b5f5264-bc11-4353-84f7-6e2d43d37083")


def server_dn(name: str) -> str:
    return f"CN={name},CN=Servers,CN={SITE},{SITES}"


class ForestRootConn:
    """The forest root lab.example with a child domain child.lab.example, as its DC answers."""

    host = "dc1.lab.example"

    def root_dse(self, attributes=()) -> RootDSE:
        return RootDSE.from_entry(Entry("", {
            "defaultnamingcontext": [DOMAIN_NC.encode()],
            "configurationnamingcontext": [CONFIG_NC.encode()],
            "rootdomainnamingcontext": [DOMAIN_NC.encode()],
            "schemanamingcontext": [f"CN=Schema,{CONFIG_NC}".encode()],
        }))

    def read(self, dn, attributes, filter_="(objectClass=*)"):
        assert dn == DOMAIN_NC
        return Entry(dn, {"fsmoroleowner": [f"CN=NTDS Settings,{server_dn('DC1')}".encode()]})

    def search(self, base, filter_, attributes, scope="subtree", page_size=None):
        assert base == SITES
        if filter_ == "(objectClass=server)":
            # GONE: a server object left over without an nTDSDSA: not a DC any more.
            for name, host in (("DC1", "dc1.lab.example"), ("CDC", "cdc.child.lab.example."), ("GONE", "gone.lab.example")):
                yield Entry(server_dn(name), {"dnshostname": [host.encode()]})
            return
        assert filter_ == "(objectClass=nTDSDSA)"
        for name, guid, nc in (("DC1", DC1_GUID, DOMAIN_NC), ("CDC", CDC_GUID, CHILD_NC)):
            yield Entry(f"CN=NTDS Settings,{server_dn(name)}", {
                "objectguid": [guid.bytes_le], "options": [b"1"], "msds-hasdomainncs": [nc.encode()],
                "msds-hasmasterncs": [nc.encode(), CONFIG_NC.encode()],
            })


def test_forest_root_lists_its_own_dcs_and_knows_every_dc_of_the_forest() -> None:
    domain = DomainConfig(name="lab.example", bind=BindConfig("m", Secret("x"), "t"))
    ctx = CheckContext(domain=domain, directory=None, inventory=None, settings=None)  # type: ignore[arg-type]
    inv = _read_topology(ctx, ForestRootConn(), DOMAIN_NC)
    assert inv.hosts == ("dc1.lab.example",)
    assert inv.pdc is not None and inv.pdc.host == "dc1.lab.example" and inv.pdc.global_catalog
    assert inv.forest == inv.domain == "lab.example"
    assert inv.forest_dcs == {DC1_GUID: "dc1.lab.example", CDC_GUID: "cdc.child.lab.example"}
    assert inv.forest_hosts == ("cdc.child.lab.example", "dc1.lab.example")

"""The topology the inventory check reads: forest, domain, DCs and their reachability.

Every other check stands on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .ldap import RootDSE


@dataclass(frozen=True)
class DomainController:
    host: str  # DNS host name, lower case
    name: str  # the server object's name (usually the NetBIOS name)
    site: str
    dsa_guid: uuid.UUID  # objectGUID of its nTDSDSA object: the name replication and _msdcs use
    dsa_dn: str
    server_dn: str
    computer_dn: str | None  # serverReference: the DC's computer account
    global_catalog: bool
    read_only: bool
    pdc: bool
    naming_contexts: tuple[str, ...] = ()  # NCs it holds a writable or partial replica of
    # nTDSDSA options DISABLE_INBOUND_REPL / DISABLE_OUTBOUND_REPL, as the DC itself holds them when it
    # could be read (with outbound replication off, its partners never learn of the change).
    inbound_replication_disabled: bool = False
    outbound_replication_disabled: bool = False


@dataclass(frozen=True)
class Reachability:
    up: bool
    error: str | None = None
    address: str | None = None
    root_dse: RootDSE | None = None


@dataclass(frozen=True)
class Inventory:
    domain: str  # configured DNS name, lower case
    forest: str  # forest root domain's DNS name, lower case
    domain_dn: str
    forest_dn: str
    configuration_dn: str
    schema_dn: str
    domain_controllers: tuple[DomainController, ...]
    reachability: dict[str, Reachability] = field(default_factory=dict)
    read_from: str | None = None  # the DC the topology was read from
    topology_error: str | None = None  # set when the topology is the previous run's, re-used
    # Every DC of the forest, all domains, by its nTDSDSA objectGUID: the names of replication
    # partners and forest-wide locator targets outside this domain.
    forest_dcs: dict[uuid.UUID, str] = field(default_factory=dict)

    def dc(self, host: str) -> DomainController | None:
        host = host.lower().rstrip(".")
        return next((d for d in self.domain_controllers if d.host == host), None)

    def by_dsa_guid(self, guid: uuid.UUID) -> DomainController | None:
        return next((d for d in self.domain_controllers if d.dsa_guid == guid), None)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(d.host for d in self.domain_controllers)

    @property
    def pdc(self) -> DomainController | None:
        return next((d for d in self.domain_controllers if d.pdc), None)

    @property
    def forest_hosts(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.forest_dcs.values())))

    def up_hosts(self) -> tuple[str, ...]:
        return tuple(h for h in self.hosts if self.reachability.get(h, Reachability(False)).up)

    def read_order(self) -> tuple[str, ...]:
        """DCs to read directory data from, best first: the one the topology came from (if it
        answered), the other DCs that answered, then the rest, which may have come back since."""
        up = self.up_hosts()
        first = (self.read_from,) if self.read_from in up else ()
        return tuple(dict.fromkeys(first + up + self.hosts))

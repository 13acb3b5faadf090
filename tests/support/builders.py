"""The things a unit test runs a check in: a configured domain, its DCs, an inventory of them and
the check's context. Every builder has keyword defaults for the lab domain ``lab.example``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

from ad_health_exporter.checks.base import CheckContext, DirectoryAccess
from ad_health_exporter.config import BindConfig, DomainConfig, LdapConfig, Secret, TlsConfig
from ad_health_exporter.topology import DomainController, Inventory, Reachability

from .directory import FakeDirectory

S = TypeVar("S")

DOMAIN = "lab.example"
DOMAIN_DN = "DC=lab,DC=example"
CONFIG_DN = f"CN=Configuration,{DOMAIN_DN}"
SCHEMA_DN = f"CN=Schema,{CONFIG_DN}"
SITE = "Default-First-Site-Name"


def domain_config(
    name: str = DOMAIN,
    *,
    user: str = f"monitor@{DOMAIN}",
    password: str = "x",
    password_source: str = "test",
    tls: TlsConfig | None = None,
    ldap: LdapConfig | None = None,
    domain_controllers: tuple[str, ...] = (),
) -> DomainConfig:
    return DomainConfig(
        name=name,
        bind=BindConfig(user, Secret(password), password_source),
        domain_controllers=domain_controllers,
        tls=tls or TlsConfig(),
        ldap=ldap or LdapConfig(),
    )


def settings_of(domain: DomainConfig, check: str, kind: type[S]) -> S:
    """A check's own section of a configured domain, as that check's settings type."""
    value = domain.settings[check]
    assert isinstance(value, kind), f"{check}: {value!r} is no {kind.__name__}"
    return value


def dc(
    host: str,
    *,
    guid: uuid.UUID | None = None,
    site: str = SITE,
    gc: bool = True,
    rodc: bool = False,
    pdc: bool = False,
    computer_account: bool = True,
    naming_contexts: tuple[str, ...] = (),
) -> DomainController:
    """A DC of lab.example named after its host (dc1.lab.example is DC1), its objects where AD puts them.

    Without ``guid`` its DSA GUID follows from its host name, so a test's DCs keep theirs between runs.
    """
    name = host.split(".")[0].upper()
    server = f"CN={name},CN=Servers,CN={site},CN=Sites,{CONFIG_DN}"
    return DomainController(
        host=host,
        name=name,
        site=site,
        dsa_guid=guid or uuid.uuid5(uuid.NAMESPACE_DNS, host),
        dsa_dn=f"CN=NTDS Settings,{server}",
        server_dn=server,
        computer_dn=f"CN={name},OU=Domain Controllers,{DOMAIN_DN}" if computer_account else None,
        global_catalog=gc,
        read_only=rodc,
        pdc=pdc,
        naming_contexts=naming_contexts,
    )


def inventory(
    *dcs: DomainController,
    addresses: str | Mapping[str, str] | None = None,
    down: Mapping[str, str] | None = None,
    forest: str = DOMAIN,
    others: Mapping[uuid.UUID, str] | None = None,
) -> Inventory:
    """lab.example with ``dcs``, the topology read from the first, every DC answering LDAP.

    ``addresses``: one address for every DC, or each DC's own (a DC without one is down).
    ``down``: DCs that do not answer, with the error. ``others``: other domains' DCs by DSA GUID.
    """
    down = down or {}

    def reach(host: str) -> Reachability:
        if host in down:
            return Reachability(False, down[host])
        if isinstance(addresses, str):
            return Reachability(True, address=addresses)
        if addresses is not None:
            return Reachability(host in addresses, address=addresses.get(host))
        return Reachability(True)

    return Inventory(
        domain=DOMAIN,
        forest=forest,
        domain_dn=DOMAIN_DN,
        forest_dn=DOMAIN_DN,
        configuration_dn=CONFIG_DN,
        schema_dn=SCHEMA_DN,
        domain_controllers=dcs,
        reachability={d.host: reach(d.host) for d in dcs},
        read_from=dcs[0].host if dcs else None,
        forest_dcs={**{d.dsa_guid: d.host for d in dcs}, **(others or {})},
    )


def context(
    settings: S,
    directory: DirectoryAccess | None = None,
    *,
    inventory: Inventory | None = None,
    domain: DomainConfig | None = None,
    interval: float = 60.0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.time,
) -> CheckContext[S]:
    """A check's context; its run's time limit is its interval unless ``timeout`` says otherwise,
    as the scheduler has it."""
    return CheckContext(
        domain=domain or domain_config(),
        directory=directory if directory is not None else FakeDirectory(),
        inventory=inventory,
        settings=settings,
        interval=interval,
        timeout=interval if timeout is None else timeout,
        clock=clock,
    )

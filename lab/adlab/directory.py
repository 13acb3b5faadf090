"""Objects written to and read from a DC's directory through its local sam.ldb (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import faketime, ldif
from .config import DOMAIN, DOMAIN_DN, SITE
from .errors import LabError
from .passwords import unicode_pwd
from .samba import CONFIG_DN, SambaTools

UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)


def filetime_to_datetime(filetime: int) -> datetime:
    return _EPOCH_1601 + timedelta(microseconds=filetime // 10)


@dataclass(frozen=True)
class ComputerObject:
    name: str                # NetBIOS name without $
    spns: tuple[str, ...]
    enabled: bool
    description: str

    @property
    def sam_account_name(self) -> str:
        return f"{self.name}$"

    @property
    def dns_host_name(self) -> str:
        return f"{self.name.lower()}.{DOMAIN}"

    @property
    def dn(self) -> str:
        return f"CN={self.name},CN=Computers,{DOMAIN_DN}"

    @property
    def user_account_control(self) -> int:
        return UF_WORKSTATION_TRUST_ACCOUNT | (0 if self.enabled else UF_ACCOUNTDISABLE)


def user_dn(name: str) -> str:
    return f"CN={name},CN=Users,{DOMAIN_DN}"


def add_user(tools: SambaTools, dc: str, name: str, password: str, description: str) -> None:
    """An ordinary, enabled domain user (member of Domain Users only)."""
    tools.run(dc, ["ldbadd", "-H", str(tools.cfg.sam_ldb(dc))], what=f"create user {name} on {dc}",
              input=ldif.add(user_dn(name), [
                  ("objectClass", ["user"]),
                  ("sAMAccountName", [name]),
                  ("userPrincipalName", [f"{name}@{DOMAIN}"]),
                  ("description", [description]),
                  ("userAccountControl", [str(UF_NORMAL_ACCOUNT)]),
                  ("unicodePwd", [unicode_pwd(password)]),
              ]))


def add_computers(tools: SambaTools, dc: str, computers: list[tuple[ComputerObject, str]],
                  age_days: int = 0) -> None:
    """Computer accounts shaped like joined machines, in one ldbadd: (object, password) pairs.

    age_days > 0 creates them that many days in the past. Over LDAP pwdLastSet can only be
    written as 0 or -1; a write through the local database under libfaketime stamps pwdLastSet,
    whenCreated and the replication metadata with the faked time, and replicates like any other.
    """
    text = "".join(ldif.add(c.dn, [
        ("objectClass", ["computer"]),
        ("sAMAccountName", [c.sam_account_name]),
        ("dNSHostName", [c.dns_host_name]),
        ("description", [c.description]),
        ("userAccountControl", [str(c.user_account_control)]),
        ("servicePrincipalName", list(c.spns)),
        ("unicodePwd", [unicode_pwd(password)]),
    ]) for c, password in computers)
    tools.run(dc, ["ldbadd", "-H", str(tools.cfg.sam_ldb(dc))], input=text,
              env=faketime.env(f"-{age_days}d") if age_days else None,
              what=f"create computer accounts on {dc}")


def add_spn(tools: SambaTools, dc: str, dn: str, spn: str) -> None:
    tools.ldb_modify(dc, ldif.modify(dn, [("add", "servicePrincipalName", [spn])]),
                     what=f"add SPN {spn} to {dn} on {dc}")


def computers(tools: SambaTools, dc: str, names: list[str]) -> dict[str, dict]:
    """Attributes of the named computer accounts as this DC holds them, keyed by sAMAccountName."""
    expr = "(&(objectClass=computer)(|" + "".join(f"(sAMAccountName={n}$)" for n in names) + "))"
    found = tools.ldb_search(dc, DOMAIN_DN, expr, ["sAMAccountName", "dNSHostName", "servicePrincipalName",
                                                    "userAccountControl", "pwdLastSet"])
    return {ldif.first(e, "sAMAccountName") or "": e for e in found}


def holders_of_spn(tools: SambaTools, dc: str, spn: str) -> list[str]:
    found = tools.ldb_search(dc, DOMAIN_DN, f"(servicePrincipalName={spn})", ["sAMAccountName"])
    return sorted(ldif.first(e, "sAMAccountName") or "" for e in found)


@dataclass(frozen=True)
class DCObjects:
    sam_account_name: str
    computer_dn: str
    server_dn: str
    ntds_dn: str
    dsa_guid: str


def dc_objects(tools: SambaTools, dc: str) -> DCObjects:
    """The DC's computer, server and nTDSDSA objects as its own directory holds them."""
    server_dn = f"CN={dc.upper()},CN=Servers,CN={SITE},CN=Sites,{CONFIG_DN}"
    ntds = tools.ldb_search(dc, f"CN=NTDS Settings,{server_dn}", "(objectClass=nTDSDSA)", ["objectGUID"],
                            scope="base")
    comp = tools.ldb_search(dc, DOMAIN_DN, f"(sAMAccountName={dc.upper()}$)", ["sAMAccountName"])
    if not ntds or not comp:
        raise LabError(f"{dc}: its nTDSDSA or computer object is missing from its own directory")
    return DCObjects(sam_account_name=f"{dc.upper()}$", computer_dn=ldif.first(comp[0], "dn") or "",
                     server_dn=server_dn, ntds_dn=f"CN=NTDS Settings,{server_dn}",
                     dsa_guid=ldif.first(ntds[0], "objectGUID") or "")

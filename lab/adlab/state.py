"""LabInfo: what a running lab is made of (the content of lab.json), and its JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LabError


@dataclass(frozen=True)
class DCInfo:
    name: str                 # short name: dc1, dc2
    fqdn: str                 # dc1.lab.example (also the TLS certificate's DNS name)
    ip: str
    netns: str
    site: str
    sam_account_name: str     # DC1$
    computer_dn: str
    server_dn: str            # CN=DC1,CN=Servers,CN=<site>,CN=Sites,CN=Configuration,...
    ntds_dn: str              # CN=NTDS Settings,<server_dn>
    dsa_guid: str             # objectGUID of the nTDSDSA object
    ldap_url: str             # ldap://<ip>:389 (StartTLS or signed binds only)
    ldaps_url: str            # ldaps://<ip>:636
    dns_server: str           # <ip>:53
    ntp_server: str           # <ip>:123 (chronyd beside the DC)
    samba_pid: int | None     # None while the DC is stopped
    chronyd_pid: int | None
    clock_skew: str | None    # e.g. "+7m" while skewed, else None
    clock_skew_seconds: int
    smb_conf: str
    log_file: str
    # Samba runs with `server services = -kdc` (stop_kdc): LDAP answers, Kerberos does not.
    kdc_stopped: bool = False


@dataclass(frozen=True)
class AccountInfo:
    user: str                 # sAMAccountName
    upn: str
    dn: str
    password_file: str        # 0600, the password without a trailing newline


@dataclass(frozen=True)
class ComputerInfo:
    name: str                 # NetBIOS name, e.g. PC-HEALTHY
    sam_account_name: str     # PC-HEALTHY$
    dn: str
    dns_host_name: str
    spns: tuple[str, ...]     # servicePrincipalName values as injected (the duplicate SPN excluded)
    enabled: bool
    user_account_control: int
    password_age_days: int    # age of the machine password when the lab came up
    pwd_last_set: str         # ISO 8601 UTC, read back with ldbsearch
    pwd_last_set_filetime: int
    password_file: str
    description: str


@dataclass(frozen=True)
class DuplicateSpnInfo:
    spn: str
    accounts: tuple[str, ...]  # sAMAccountNames that both hold the SPN on every DC
    dns: tuple[str, ...]
    written_on: dict[str, str]  # sAMAccountName -> DC the SPN was written on while partitioned


@dataclass(frozen=True)
class DnsRecordInfo:
    fqdn: str                 # owner name, e.g. _ldap._tcp.dc._msdcs.lab.example
    zone: str
    name: str                 # owner name relative to the zone, as given to samba-tool dns
    type: str                 # A or SRV
    address: str | None       # A data
    target: str | None        # SRV target
    port: int | None          # SRV port
    target_addresses: tuple[str, ...]  # A records of the SRV target (empty: the target does not exist)
    description: str


@dataclass(frozen=True)
class FaultsInfo:
    injected: bool
    computers: dict[str, ComputerInfo] = field(default_factory=dict)  # role -> computer
    duplicate_spn: DuplicateSpnInfo | None = None
    stale_dc_address: DnsRecordInfo | None = None   # extra A of a live DC pointing at a ghost address
    old_dc_address: DnsRecordInfo | None = None     # A of a decommissioned DC (ghost address)
    stale_srv: tuple[DnsRecordInfo, ...] = ()        # SRV records naming old/non-existent DCs
    ghost_hosts: dict[str, str] = field(default_factory=dict)  # olddc/ghostdc -> FQDN


@dataclass(frozen=True)
class LabInfo:
    name: str
    subnet: str
    state_dir: str
    realm: str
    domain: str
    netbios: str
    forest_dn: str
    domain_dn: str
    configuration_dn: str
    schema_dn: str
    naming_contexts: tuple[str, ...]
    site: str
    bridge: str
    bridge_ip: str
    client_netns: str
    client_ip: str
    ghost_netns: str
    ghost_addresses: tuple[str, ...]
    dns_servers: tuple[str, ...]
    dcs: dict[str, DCInfo]
    ca_file: str
    admin: AccountInfo
    admin_password_file: str
    monitor: AccountInfo
    monitor_password_file: str
    faults: FaultsInfo
    cut_links: tuple[str, ...]   # lab members whose link is cut (cut_link), e.g. ("dc2", "ghost")
    created: str
    up_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabInfo:
        try:
            return _decode(cls, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(f"lab.json does not match this version of adlab: {exc}") from None

    def dc(self, name: str) -> DCInfo:
        try:
            return self.dcs[name]
        except KeyError:
            raise LabError(f"unknown DC {name!r}: this lab has {', '.join(self.dcs)}") from None


def _decode(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        return _decode(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        missing = [n for n in names if n not in value and _required(tp, n)]
        if missing:
            raise KeyError(f"{tp.__name__} lacks {', '.join(sorted(missing))}")
        return tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in names})
    if origin is tuple:
        (item, *_rest) = typing.get_args(tp)
        return tuple(_decode(item, v) for v in value)
    if origin is dict:
        _key, item = typing.get_args(tp)
        return {k: _decode(item, v) for k, v in value.items()}
    if tp is float and isinstance(value, int):
        return float(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise TypeError(f"expected {tp.__name__}, got {value!r}")
    return value


def _required(tp: Any, name: str) -> bool:
    f = next(f for f in dataclasses.fields(tp) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def write(path: Path, info: LabInfo) -> None:
    """Atomic replace, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(info.to_json())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read(path: Path) -> LabInfo:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"no running lab here: {path} does not exist (run `python3 -m adlab up`)") from None
    except json.JSONDecodeError as exc:
        raise LabError(f"{path} is not valid JSON: {exc}") from None
    return LabInfo.from_dict(data)

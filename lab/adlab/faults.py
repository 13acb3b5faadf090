"""The standing faults `up` injects, and the real queries that prove each one is in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import directory, net, passwords, probes
from .config import DC_NAMES, DOMAIN, DOMAIN_DN, LabConfig
from .directory import ComputerObject
from .errors import LabError
from .samba import SambaTools
from .state import ComputerInfo, DnsRecordInfo, DuplicateSpnInfo, FaultsInfo

DUPLICATE_SPN = f"http/dupsvc.{DOMAIN}"
OLD_DC = f"olddc.{DOMAIN}"      # a decommissioned DC: A record at a ghost address
GHOST_DC = f"ghostdc.{DOMAIN}"  # a DC that no longer exists at all: no A record


@dataclass(frozen=True)
class ComputerSpec:
    role: str
    name: str
    description: str
    host_spns: bool = True
    enabled: bool = True
    password_age_days: int = 0

    def obj(self) -> ComputerObject:
        fqdn = f"{self.name.lower()}.{DOMAIN}"
        spns = ((f"HOST/{self.name}", f"HOST/{fqdn}") if self.host_spns else ()) + \
            (f"RestrictedKrbHost/{fqdn}",)
        return ComputerObject(self.name, spns, self.enabled, self.description)


COMPUTERS = (
    ComputerSpec("healthy", "PC-HEALTHY", "adlab control: fresh password, all SPNs, enabled"),
    ComputerSpec("missing_host_spn", "PC-NOHOSTSPN", "adlab fault: enabled, has dNSHostName, no HOST/ SPNs",
                 host_spns=False),
    ComputerSpec("password_90d", "PC-PWD90D", "adlab fault: machine password 90 days old",
                 password_age_days=90),
    ComputerSpec("password_200d", "PC-PWD200D", "adlab fault: machine password 200 days old",
                 password_age_days=200),
    ComputerSpec("disabled", "PC-DISABLED", "adlab fault: disabled computer account", enabled=False),
    ComputerSpec("duplicate_spn_a", "PC-DUPSPN-A", f"adlab fault: holds {DUPLICATE_SPN} (written on dc1)"),
    ComputerSpec("duplicate_spn_b", "PC-DUPSPN-B", f"adlab fault: holds {DUPLICATE_SPN} (written on dc2)"),
)
# Which account gets the duplicate SPN on which DC while dc2 is partitioned.
DUPLICATE_WRITES = (("duplicate_spn_a", "dc1"), ("duplicate_spn_b", "dc2"))


@dataclass(frozen=True)
class DnsSpec:
    role: str
    zone: str
    name: str
    type: str
    data: str
    description: str

    @property
    def fqdn(self) -> str:
        return self.zone if self.name == "@" else f"{self.name}.{self.zone}"


def dns_specs(cfg: LabConfig) -> tuple[DnsSpec, ...]:
    stale_ip, old_ip = cfg.ghost_ips
    msdcs = f"_msdcs.{DOMAIN}"
    specs = [
        DnsSpec("stale_dc_address", DOMAIN, "dc1", "A", stale_ip,
                "second A record of live dc1 pointing at a ghost address"),
        DnsSpec("old_dc_address", DOMAIN, "olddc", "A", old_ip, "A record of a decommissioned DC"),
    ]
    for target, what in ((OLD_DC, "decommissioned DC with a dead address"),
                         (GHOST_DC, "DC without any A record")):
        specs += [
            DnsSpec("stale_srv", msdcs, "_ldap._tcp.dc", "SRV", f"{target} 389 0 100", f"DC locator SRV naming {what}"),
            DnsSpec("stale_srv", DOMAIN, "_ldap._tcp", "SRV", f"{target} 389 0 100", f"LDAP SRV naming {what}"),
            DnsSpec("stale_srv", DOMAIN, "_kerberos._tcp", "SRV", f"{target} 88 0 100", f"KDC SRV naming {what}"),
        ]
    return tuple(specs)


def inject(cfg: LabConfig, tools: SambaTools, progress: Callable[[str], None]) -> None:
    """Create every standing fault on the running two-DC domain (passwords go to secrets/computers)."""
    for age in sorted({spec.password_age_days for spec in COMPUTERS}):
        batch = []
        for spec in (s for s in COMPUTERS if s.password_age_days == age):
            password = passwords.generate()
            passwords.write_password(cfg.secrets_dir / "computers" / f"{spec.name}.password", password)
            batch.append((spec.obj(), password))
        # An aged account is created in the past as a whole: a machine that joined `age` days ago
        # and never changed its password since (pwdLastSet = whenCreated).
        directory.add_computers(tools, "dc1", batch, age_days=age)
    progress("fault computer accounts created on dc1 (passwords aged with libfaketime)")

    for spec in dns_specs(cfg):
        # Over RPC to dc1's address: the way an administrator adds records.
        tools.tool("dc1", ["dns", "add", cfg.dc_ip("dc1"), spec.zone, spec.name, spec.type, spec.data],
                   what=f"add DNS {spec.fqdn} {spec.type} {spec.data}")
    progress("stale A and SRV records added on dc1")

    # dc2 must hold both accounts before the partition.
    tools.replicate("dc2", "dc1")
    _duplicate_spn(cfg, tools)
    progress(f"duplicate SPN {DUPLICATE_SPN} written on both sides of a partition and replicated")


def _duplicate_spn(cfg: LabConfig, tools: SambaTools) -> None:
    """Each DC refuses a duplicate it can see, so write the SPN on both sides of a partition."""
    by_role = {spec.role: spec for spec in COMPUTERS}
    net.cut(cfg, "dc2")
    try:
        for role, dc in DUPLICATE_WRITES:
            directory.add_spn(tools, dc, by_role[role].obj().dn, DUPLICATE_SPN)
    finally:
        net.heal(cfg, "dc2")
    tools.replicate("dc2", "dc1")
    tools.replicate("dc1", "dc2")


def verify(cfg: LabConfig, tools: SambaTools, ca_file: str, monitor_upn: str,
           monitor_password_file: str) -> FaultsInfo:
    """Read every fault back on every DC; raise LabError naming whatever is not as injected."""
    problems: list[str] = []
    computers = _verify_computers(cfg, tools, problems)
    dup_accounts = tuple(sorted(spec.obj().sam_account_name for spec in COMPUTERS
                                if spec.role in dict(DUPLICATE_WRITES)))
    for dc in DC_NAMES:
        holders = directory.holders_of_spn(tools, dc, DUPLICATE_SPN)
        if tuple(holders) != dup_accounts:
            problems.append(f"{dc}: {DUPLICATE_SPN} held by {holders}, expected {list(dup_accounts)}")
        over_ldaps = probes.ldaps_search(cfg, cfg.dc_ip(dc), monitor_upn, monitor_password_file, ca_file,
                                         DOMAIN_DN, f"(servicePrincipalName={DUPLICATE_SPN})",
                                         ["sAMAccountName"])
        if len(over_ldaps) != 2:
            problems.append(f"{dc}: LDAPS search as monitor finds {len(over_ldaps)} holders of {DUPLICATE_SPN}")
    records = _verify_dns(cfg, problems)
    if problems:
        raise LabError("standing faults are not all in place:\n  " + "\n  ".join(problems))
    by_role = {spec.role: spec for spec in COMPUTERS}
    dup = DuplicateSpnInfo(
        spn=DUPLICATE_SPN, accounts=dup_accounts,
        dns=tuple(sorted(by_role[r].obj().dn for r, _ in DUPLICATE_WRITES)),
        written_on={by_role[r].obj().sam_account_name: dc for r, dc in DUPLICATE_WRITES})
    return FaultsInfo(
        injected=True, computers=computers, duplicate_spn=dup,
        stale_dc_address=next(r for role, r in records if role == "stale_dc_address"),
        old_dc_address=next(r for role, r in records if role == "old_dc_address"),
        stale_srv=tuple(r for role, r in records if role == "stale_srv"),
        ghost_hosts={"olddc": OLD_DC, "ghostdc": GHOST_DC})


def _verify_computers(cfg: LabConfig, tools: SambaTools, problems: list[str]) -> dict[str, ComputerInfo]:
    names = [spec.name for spec in COMPUTERS]
    result: dict[str, ComputerInfo] = {}
    now = time.time()
    for dc in DC_NAMES:
        held = directory.computers(tools, dc, names)
        for spec in COMPUTERS:
            obj = spec.obj()
            entry = held.get(obj.sam_account_name)
            if entry is None:
                problems.append(f"{dc}: computer {obj.sam_account_name} missing")
                continue
            spns = {str(v).lower() for v in entry.get("serviceprincipalname", [])}
            want = {s.lower() for s in obj.spns}
            if spec.role in dict(DUPLICATE_WRITES):
                want.add(DUPLICATE_SPN.lower())
            if spns != want:
                problems.append(f"{dc}: {obj.sam_account_name} SPNs {sorted(spns)}, expected {sorted(want)}")
            uac = int(str(entry.get("useraccountcontrol", ["0"])[0]))
            if uac != obj.user_account_control:
                problems.append(f"{dc}: {obj.sam_account_name} userAccountControl {uac:#x}, "
                                f"expected {obj.user_account_control:#x}")
            filetime = int(str(entry.get("pwdlastset", ["0"])[0]))
            set_at = directory.filetime_to_datetime(filetime)
            age_days = (now - set_at.timestamp()) / 86400
            if abs(age_days - spec.password_age_days) > 0.05:
                problems.append(f"{dc}: {obj.sam_account_name} password is {age_days:.2f} days old, "
                                f"expected {spec.password_age_days}")
            if dc == "dc1":
                result[spec.role] = ComputerInfo(
                    name=spec.name, sam_account_name=obj.sam_account_name, dn=obj.dn,
                    dns_host_name=obj.dns_host_name, spns=obj.spns, enabled=obj.enabled,
                    user_account_control=obj.user_account_control,
                    password_age_days=spec.password_age_days,
                    pwd_last_set=set_at.strftime("%Y-%m-%dT%H:%M:%SZ"), pwd_last_set_filetime=filetime,
                    password_file=str(cfg.secrets_dir / "computers" / f"{spec.name}.password"),
                    description=spec.description)
    return result


def _verify_dns(cfg: LabConfig, problems: list[str]) -> list[tuple[str, DnsRecordInfo]]:
    records: list[tuple[str, DnsRecordInfo]] = []
    target_addresses: dict[str, tuple[str, ...]] = {}
    for dc in DC_NAMES:
        server = cfg.dc_ip(dc)
        for spec in dns_specs(cfg):
            status, answers = probes.dig(cfg, server, spec.fqdn, spec.type)
            want = spec.data
            if spec.type == "SRV":
                target, port, prio, weight = spec.data.split()
                want = f"{prio} {weight} {port} {target}."
            if want not in answers:
                problems.append(f"{dc} DNS: {spec.fqdn} {spec.type} lacks {want!r} (status {status}, {answers})")
        for target in (OLD_DC, GHOST_DC):
            status, answers = probes.dig(cfg, server, target, "A")
            target_addresses[target] = tuple(sorted(answers))
        if target_addresses[OLD_DC] != (cfg.ghost_ips[1],):
            problems.append(f"{dc} DNS: {OLD_DC} A is {target_addresses[OLD_DC]}, expected {cfg.ghost_ips[1]}")
        if target_addresses[GHOST_DC]:
            problems.append(f"{dc} DNS: {GHOST_DC} should have no A record, has {target_addresses[GHOST_DC]}")
        status, answers = probes.dig(cfg, server, f"dc1.{DOMAIN}", "A")
        if sorted(answers) != sorted([cfg.dc_ip("dc1"), cfg.ghost_ips[0]]):
            problems.append(f"{dc} DNS: dc1.{DOMAIN} A is {answers}, expected dc1's address and {cfg.ghost_ips[0]}")
    for spec in dns_specs(cfg):
        if spec.type == "SRV":
            target, port, _prio, _weight = spec.data.split()
            info = DnsRecordInfo(fqdn=spec.fqdn, zone=spec.zone, name=spec.name, type="SRV", address=None,
                                 target=target, port=int(port), target_addresses=target_addresses[target],
                                 description=spec.description)
        else:
            info = DnsRecordInfo(fqdn=spec.fqdn, zone=spec.zone, name=spec.name, type="A", address=spec.data,
                                 target=None, port=None, target_addresses=(), description=spec.description)
        records.append((spec.role, info))
    return records

"""Names and addresses of one lab instance, derived from its name and subnet (pure, no I/O)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

DEFAULT_NAME = "adlab"
DEFAULT_SUBNET = "10.99.0.0/24"

REALM = "LAB.EXAMPLE"
DOMAIN = "lab.example"
NETBIOS = "LAB"
DOMAIN_DN = "DC=lab,DC=example"
SITE = "Default-First-Site-Name"

# Host part of each address inside the subnet: the same for every instance so that
# "dc1 is .11" holds in any lab.
BRIDGE_HOST = 1
CLIENT_HOST = 2
DC_HOSTS = {"dc1": 11, "dc2": 12}
GHOST_HOSTS = (250, 251)

DC_NAMES = tuple(DC_HOSTS)
# Everything cut_link/heal_link accepts: the DCs, the ghost and the client namespace.
LINK_ROLES = DC_NAMES + ("ghost", "client")

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# Linux interface names hold 15 characters; the longest suffix used is "-dc1"/"-dc2".
_MAX_NAME = 10
# Interface suffix per role: short, because "<name>-<suffix>" must fit in 15 characters.
_IF_SUFFIX = {"dc1": "dc1", "dc2": "dc2", "ghost": "gh", "client": "cl"}


@dataclass(frozen=True)
class LabConfig:
    """Everything that follows from (name, subnet, state_dir); no state, no side effects."""

    name: str
    subnet: ipaddress.IPv4Network
    state_dir: Path

    @classmethod
    def build(cls, name: str = DEFAULT_NAME, subnet: str = DEFAULT_SUBNET,
              state_dir: str | Path | None = None) -> LabConfig:
        if not isinstance(name, str) or len(name) > _MAX_NAME or not _NAME_RE.match(name):
            raise LabError(
                f"lab name {name!r} is invalid: use 1-{_MAX_NAME} characters a-z, 0-9 and inner '-', "
                "starting with a letter (interface names derived from it must fit in 15 characters)")
        try:
            net = ipaddress.ip_network(subnet, strict=True)
        except ValueError as exc:
            raise LabError(f"lab subnet {subnet!r} is invalid: {exc}") from None
        if not isinstance(net, ipaddress.IPv4Network):
            raise LabError(f"lab subnet {subnet!r} must be IPv4")
        if net.prefixlen > 24:
            raise LabError(f"lab subnet {subnet} is too small: need at least a /24 "
                           "(the lab uses host numbers .1 to .251)")
        if not net.is_private:
            raise LabError(f"lab subnet {subnet} is not a private range: the lab only uses private addresses")
        path = Path(state_dir) if state_dir is not None else Path("/tmp") / name
        return cls(name=name, subnet=net, state_dir=path.absolute())

    # -- addresses -------------------------------------------------------------------------
    def host(self, number: int) -> str:
        return str(self.subnet.network_address + number)

    @property
    def prefixlen(self) -> int:
        return self.subnet.prefixlen

    @property
    def bridge_ip(self) -> str:
        return self.host(BRIDGE_HOST)

    @property
    def client_ip(self) -> str:
        return self.host(CLIENT_HOST)

    def dc_ip(self, dc: str) -> str:
        return self.host(DC_HOSTS[self.check_dc(dc)])

    @property
    def ghost_ips(self) -> tuple[str, ...]:
        return tuple(self.host(n) for n in GHOST_HOSTS)

    def role_ips(self, role: str) -> tuple[str, ...]:
        if role in DC_HOSTS:
            return (self.dc_ip(role),)
        if role == "ghost":
            return self.ghost_ips
        if role == "client":
            return (self.client_ip,)
        raise LabError(f"unknown lab member {role!r}: expected one of {', '.join(LINK_ROLES)}")

    # -- names -----------------------------------------------------------------------------
    @property
    def bridge(self) -> str:
        return f"{self.name}-br"

    def netns(self, role: str) -> str:
        self.role_ips(role)  # validates the role
        return f"{self.name}-{role}"

    def host_veth(self, role: str) -> str:
        self.role_ips(role)
        return f"{self.name}-{_IF_SUFFIX[role]}"

    @property
    def roles(self) -> tuple[str, ...]:
        return LINK_ROLES

    @property
    def all_netns(self) -> tuple[str, ...]:
        return tuple(self.netns(r) for r in LINK_ROLES)

    @staticmethod
    def check_dc(dc: str) -> str:
        if dc not in DC_HOSTS:
            raise LabError(f"unknown DC {dc!r}: expected one of {', '.join(DC_NAMES)}")
        return dc

    @staticmethod
    def fqdn(host: str) -> str:
        return f"{host}.{DOMAIN}"

    # -- files -----------------------------------------------------------------------------
    @property
    def lab_json(self) -> Path:
        return self.state_dir / "lab.json"

    @property
    def marker(self) -> Path:
        # Written first by `up`; `down` only ever deletes a state directory that carries it.
        return self.state_dir / ".adlab"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def admin_password_file(self) -> Path:
        return self.secrets_dir / "admin.password"

    @property
    def monitor_password_file(self) -> Path:
        return self.secrets_dir / "monitor.password"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki_dir / "ca.pem"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def empty_conf(self) -> Path:
        return self.state_dir / "empty.conf"

    def dc_dir(self, dc: str) -> Path:
        return self.state_dir / self.check_dc(dc)

    def smb_conf(self, dc: str) -> Path:
        return self.dc_dir(dc) / "etc" / "smb.conf"

    def sam_ldb(self, dc: str) -> Path:
        return self.dc_dir(dc) / "private" / "sam.ldb"

    def krb5_conf(self, dc: str) -> Path:
        return self.dc_dir(dc) / "private" / "krb5.conf"

    def netns_etc(self, role: str) -> Path:
        return Path("/etc/netns") / self.netns(role)

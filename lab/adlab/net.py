"""The lab network: a host bridge, one namespace per member joined by a veth pair, and link cuts."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

from .config import DC_NAMES, DOMAIN, LabConfig
from .errors import LabError
from .proc import clean_env, kill_netns_processes, run

NS_IFACE = "eth0"
# Policy-routing preferences of the "cut" rules; the local table is moved behind them (to 100)
# so that they see packets addressed to the namespace's own addresses.
_CUT_PREFS = {10: "tcp", 11: "udp", 12: "icmp"}
_LOCAL_PREF = 100


def _ip_json(*args: str) -> list[dict]:
    cp = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, env=clean_env())
    if cp.returncode != 0 or not cp.stdout.strip():
        return []
    return json.loads(cp.stdout)


def netns_list() -> set[str]:
    cp = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, env=clean_env())
    return {line.split()[0] for line in cp.stdout.splitlines() if line.strip()}


def link_exists(name: str) -> bool:
    return bool(_ip_json("link", "show", "dev", name))


def check_subnet_free(cfg: LabConfig) -> None:
    """Refuse a subnet that an interface or route on the host already uses (other than this lab's)."""
    ours = {cfg.bridge} | {cfg.host_veth(r) for r in cfg.roles}
    for link in _ip_json("-4", "addr", "show"):
        if link.get("ifname") in ours:
            continue
        for addr in link.get("addr_info", []):
            net = ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", strict=False)
            if net.overlaps(cfg.subnet):
                raise LabError(f"subnet {cfg.subnet} is already in use on this host: interface "
                               f"{link['ifname']} has {addr['local']}/{addr['prefixlen']}; "
                               "choose another LAB_SUBNET")
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst, dev = route.get("dst", ""), route.get("dev")
        if dev in ours or dst in ("", "default") or route.get("type") in ("local", "broadcast"):
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if net.overlaps(cfg.subnet):
            raise LabError(f"subnet {cfg.subnet} overlaps host route {dst} (dev {dev}); "
                           "choose another LAB_SUBNET")


def _resolv_conf(cfg: LabConfig, role: str) -> str:
    servers = [cfg.dc_ip(dc) for dc in DC_NAMES]
    if role in DC_NAMES:
        # A DC asks itself first so that it still resolves lab names while its link is cut.
        servers.remove(cfg.dc_ip(role))
        servers.insert(0, cfg.dc_ip(role))
    lines = [f"search {DOMAIN}"] + [f"nameserver {s}" for s in servers] + ["options timeout:1 attempts:2"]
    return "\n".join(lines) + "\n"


def _disable_ipv6_on_host(ifname: str) -> None:
    # The lab is IPv4 only; without this the kernel sends router solicitations and DAD probes.
    path = Path(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6")
    if path.exists():
        path.write_text("1\n")


def create(cfg: LabConfig) -> None:
    run(["ip", "link", "add", "name", cfg.bridge, "type", "bridge"], what="create bridge")
    _disable_ipv6_on_host(cfg.bridge)
    run(["ip", "addr", "add", f"{cfg.bridge_ip}/{cfg.prefixlen}", "dev", cfg.bridge], what="address bridge")
    run(["ip", "link", "set", cfg.bridge, "up"], what="bridge up")
    for role in cfg.roles:
        _create_member(cfg, role)


def _create_member(cfg: LabConfig, role: str) -> None:
    ns, veth = cfg.netns(role), cfg.host_veth(role)
    etc = cfg.netns_etc(role)
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text(_resolv_conf(cfg, role))
    run(["ip", "netns", "add", ns], what=f"create namespace {ns}")
    for key in ("all", "default"):
        run(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"], netns=ns, what="disable IPv6")
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", NS_IFACE, "netns", ns],
        what=f"create veth {veth}")
    _disable_ipv6_on_host(veth)
    run(["ip", "link", "set", veth, "master", cfg.bridge, "up"], what=f"attach {veth}")
    for ip in cfg.role_ips(role):
        run(["ip", "-n", ns, "addr", "add", f"{ip}/{cfg.prefixlen}", "dev", NS_IFACE], what=f"address {ns}")
    run(["ip", "-n", ns, "link", "set", "lo", "up"], what=f"lo up in {ns}")
    run(["ip", "-n", ns, "link", "set", NS_IFACE, "up"], what=f"eth0 up in {ns}")
    run(["ip", "-n", ns, "rule", "add", "pref", str(_LOCAL_PREF), "lookup", "local"], what="move local rule")
    run(["ip", "-n", ns, "rule", "del", "pref", "0", "lookup", "local"], what="move local rule")


def cut(cfg: LabConfig, role: str) -> None:
    """Silently drop every TCP/UDP/ICMP packet arriving at the member: peers see timeouts, not refusals.

    ARP still answers, as behind a firewall or a dead WAN link, so the failure mode is a timeout
    rather than "no route to host"; the member's own loopback traffic is unaffected.
    """
    ns = cfg.netns(role)
    if is_cut(cfg, role):
        return
    for pref, proto in _CUT_PREFS.items():
        run(["ip", "-n", ns, "rule", "add", "pref", str(pref), "iif", NS_IFACE, "ipproto", proto,
             "blackhole"], what=f"cut {role}")


def heal(cfg: LabConfig, role: str) -> None:
    ns = cfg.netns(role)
    for pref in _CUT_PREFS:
        run(["ip", "-n", ns, "rule", "del", "pref", str(pref)], check=False, what=f"heal {role}")


def is_cut(cfg: LabConfig, role: str) -> bool:
    ns = cfg.netns(role)
    if ns not in netns_list():
        return False
    return any(r.get("priority") in _CUT_PREFS for r in _ip_json("-n", ns, "rule", "show"))


def leftovers(cfg: LabConfig) -> list[str]:
    """What of this lab's network still exists on the host."""
    found = sorted(netns_list() & set(cfg.all_netns))
    found += [link for link in [cfg.bridge, *(cfg.host_veth(r) for r in cfg.roles)] if link_exists(link)]
    found += [str(cfg.netns_etc(r)) for r in cfg.roles if cfg.netns_etc(r).exists()]
    return found


def destroy(cfg: LabConfig) -> list[str]:
    """Remove every namespace, link and /etc/netns entry of this lab; never raises. Returns problems."""
    problems: list[str] = []
    present = netns_list()
    for role in cfg.roles:
        ns = cfg.netns(role)
        if ns in present:
            stuck = kill_netns_processes(ns)
            if stuck:
                problems.append(f"processes {stuck} in {ns} survived SIGKILL")
            cp = run(["ip", "netns", "del", ns], check=False)
            if cp.returncode != 0:
                problems.append(f"ip netns del {ns}: {cp.stderr.strip()}")
    for link in [*(cfg.host_veth(r) for r in cfg.roles), cfg.bridge]:
        if link_exists(link):
            cp = run(["ip", "link", "del", link], check=False)
            # A veth vanishes by itself shortly after its namespace end is destroyed.
            if cp.returncode != 0 and link_exists(link):
                problems.append(f"ip link del {link}: {cp.stderr.strip()}")
    for role in cfg.roles:
        shutil.rmtree(cfg.netns_etc(role), ignore_errors=True)
    return problems

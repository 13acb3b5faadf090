"""Lab: bring the two-DC domain up, change it on demand (faults), and tear it down."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from . import chrony, directory, faketime, faults, keys, net, passwords, pki, probes, state
from .config import DC_NAMES, DEFAULT_NAME, DEFAULT_SUBNET, DOMAIN, DOMAIN_DN, NETBIOS, REALM, SITE, LabConfig
from .errors import LabError
from .proc import netns_pids, owned_by, run, terminate
from .samba import CONFIG_DN, DNS_NAMING_CONTEXTS, KDC_PORT, NAMING_CONTEXTS, READY_PORTS, SCHEMA_DN, SambaTools
from .state import AccountInfo, DCInfo, FaultsInfo, LabInfo

log = logging.getLogger("adlab")

MONITOR_USER = "monitor"


class Lab:
    """One lab instance, identified by its name; see README.md for the whole API."""

    def __init__(self, name: str = DEFAULT_NAME, subnet: str = DEFAULT_SUBNET,
                 state_dir: str | Path | None = None) -> None:
        self.cfg = LabConfig.build(name, subnet, state_dir)
        self._info: LabInfo | None = None
        # Daemons this process started: kept so that they can be reaped once stopped.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    @classmethod
    def load(cls, name: str = DEFAULT_NAME, state_dir: str | Path | None = None) -> Lab:
        """Attach to a running lab through its lab.json."""
        path = LabConfig.build(name, DEFAULT_SUBNET, state_dir).lab_json
        info = state.read(path)
        lab = cls(info.name, info.subnet, info.state_dir)
        lab._info = info
        return lab

    # -- context manager -----------------------------------------------------------------------
    def __enter__(self) -> LabInfo:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- state -----------------------------------------------------------------------------------
    @property
    def info(self) -> LabInfo:
        """The lab as lab.json describes it now (re-read: another process may have changed it)."""
        if self.cfg.lab_json.exists() or self._info is None:
            self._info = state.read(self.cfg.lab_json)
        return self._info

    def _save(self, info: LabInfo) -> LabInfo:
        state.write(self.cfg.lab_json, info)
        self._info = info
        return info

    def _update_dc(self, dc: str, **changes: object) -> LabInfo:
        info = self.info
        dcs = dict(info.dcs)
        dcs[dc] = dataclasses.replace(dcs[dc], **changes)
        return self._save(dataclasses.replace(info, dcs=dcs))

    def _secrets(self) -> tuple[str, ...]:
        found = []
        for path in [self.cfg.admin_password_file, self.cfg.monitor_password_file,
                     *self.cfg.secrets_dir.glob("computers/*.password")]:
            with contextlib.suppress(OSError):
                found.append(path.read_text())
        return tuple(found)

    def _tools(self) -> SambaTools:
        return SambaTools(self.cfg, self._secrets())

    @contextlib.contextmanager
    def _exclusive(self, what: str) -> Iterator[None]:
        """One up/down per lab at a time. An abstract socket name: the kernel frees it when its
        holder dies (even by kill -9), and it leaves no file behind."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 30
        while True:
            try:
                sock.bind("\0adlab-lock:" + hashlib.sha256(str(self.cfg.state_dir).encode()).hexdigest())
                break
            except OSError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise LabError(
                        f"cannot {what} lab {self.cfg.name}: another up/down of it is still running"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            sock.close()

    # -- up --------------------------------------------------------------------------------------
    def up(self, faults: bool = True, keep_on_failure: bool = False) -> LabInfo:
        """Build the lab from scratch (removing any earlier run of the same name) and return it."""
        started = time.monotonic()
        with self._exclusive("bring up"):
            self._teardown(keep_state=False)
            net.check_subnet_free(self.cfg)
            self._check_state_dir_free()
            try:
                info = self._build(faults, started)
            except BaseException as exc:
                if keep_on_failure:
                    raise
                self._teardown(keep_state=True)
                if isinstance(exc, LabError):
                    raise LabError(f"{exc}\nThe lab was torn down; logs are kept in {self.cfg.state_dir} "
                                   "(`down` removes them).") from None
                raise
        log.info("lab %s is up in %.1f s", self.cfg.name, info.up_seconds)
        return info

    def _step(self, started: float, message: str, *args: object) -> None:
        log.info("[%5.1fs] " + message, time.monotonic() - started, *args)

    def _check_state_dir_free(self) -> None:
        # Anything still there after the teardown of our own state is someone else's.
        cfg = self.cfg
        if cfg.state_dir.exists() and any(cfg.state_dir.iterdir()):
            raise LabError(f"state directory {cfg.state_dir} exists and is not an adlab state directory "
                           f"(no {cfg.marker.name} file): move it away or pass another state_dir")

    def _prepare_state_dir(self) -> None:
        cfg = self.cfg
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        cfg.marker.write_text(f"adlab state directory of lab {cfg.name}\n")
        cfg.log_dir.mkdir(exist_ok=True)
        cfg.empty_conf.write_text("")
        passwords.write_password(cfg.admin_password_file, passwords.generate())
        passwords.write_password(cfg.monitor_password_file, passwords.generate())

    def _build(self, with_faults: bool, started: float) -> LabInfo:
        cfg = self.cfg
        self._prepare_state_dir()
        net.create(cfg)
        self._step(started, "network: bridge %s %s/%d, namespaces %s", cfg.bridge, cfg.bridge_ip,
                   cfg.prefixlen, ", ".join(cfg.all_netns))
        chronyd = {dc: self._start_chronyd(dc, None) for dc in DC_NAMES}
        tools = self._tools()
        # Key generation runs while dc1 provisions: both are mostly waiting on subprocesses.
        with ThreadPoolExecutor(max_workers=1) as pool:
            certs_job = pool.submit(self._make_certs)
            tools.provision("dc1", cfg.admin_password_file.read_text())
            certs = certs_job.result()
        self._step(started, "dc1 provisioned; lab CA and DC certificates in %s", cfg.pki_dir)
        tools.configure("dc1", *certs["dc1"], cfg.ca_file)
        samba = {"dc1": self._start_samba("dc1", None)}
        self._step(started, "dc1 answers (samba pid %d)", samba["dc1"])
        tools.join("dc2", "dc1")
        self._step(started, "dc2 joined")
        tools.configure("dc2", *certs["dc2"], cfg.ca_file)
        samba["dc2"] = self._start_samba("dc2", None)
        self._step(started, "dc2 answers (samba pid %d)", samba["dc2"])
        for dc in DC_NAMES:
            tools.kcc(dc)
        tools.register_dns("dc2")
        # dnsRecord is one multi-valued attribute per name, replicated last-writer-wins: dc1 must
        # hold dc2's SRV records before it adds its own (the stale ones), or one side's are lost.
        tools.replicate("dc1", "dc2", ncs=DNS_NAMING_CONTEXTS)
        directory.add_user(tools, "dc1", MONITOR_USER, cfg.monitor_password_file.read_text(),
                           "adlab: least-privilege account of the exporter")
        self._step(started, "KCC run on both DCs, dc2 registered in DNS, monitor user created")
        if with_faults:
            # Replicates both ways itself (around the partition that makes the duplicate SPN).
            faults.inject(cfg, tools, lambda msg: self._step(started, "%s", msg))
        else:
            tools.replicate("dc2", "dc1")
            tools.replicate("dc1", "dc2")
        tools = self._tools()  # now knows the computer passwords for redaction too
        self._wait_dns_converged(tools)
        self._wait_replication_healthy(tools)
        self._step(started, "DNS converged, replication healthy both ways")

        monitor = AccountInfo(user=MONITOR_USER, upn=f"{MONITOR_USER}@{DOMAIN}",
                              dn=directory.user_dn(MONITOR_USER), password_file=str(cfg.monitor_password_file))
        self._verify_base(monitor)
        fault_info = (faults.verify(cfg, self._tools(), str(cfg.ca_file), monitor.upn, monitor.password_file)
                      if with_faults else FaultsInfo(injected=False))
        self._step(started, "verified: LDAPS as monitor, NTP on both DCs%s",
                   ", every standing fault on both DCs" if with_faults else "")

        dcs = {dc: self._dc_info(tools, dc, samba[dc], chronyd[dc], None) for dc in DC_NAMES}
        admin = AccountInfo(user="Administrator", upn=f"Administrator@{DOMAIN}",
                            dn=directory.user_dn("Administrator"), password_file=str(cfg.admin_password_file))
        info = LabInfo(
            name=cfg.name, subnet=str(cfg.subnet), state_dir=str(cfg.state_dir), realm=REALM, domain=DOMAIN,
            netbios=NETBIOS, forest_dn=DOMAIN_DN, domain_dn=DOMAIN_DN, configuration_dn=CONFIG_DN,
            schema_dn=SCHEMA_DN, naming_contexts=NAMING_CONTEXTS, site=SITE, bridge=cfg.bridge,
            bridge_ip=cfg.bridge_ip, client_netns=cfg.netns("client"), client_ip=cfg.client_ip,
            ghost_netns=cfg.netns("ghost"), ghost_addresses=cfg.ghost_ips,
            dns_servers=tuple(cfg.dc_ip(dc) for dc in DC_NAMES), dcs=dcs, ca_file=str(cfg.ca_file),
            admin=admin, admin_password_file=str(cfg.admin_password_file), monitor=monitor,
            monitor_password_file=str(cfg.monitor_password_file), faults=fault_info, cut_links=(),
            created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            up_seconds=round(time.monotonic() - started, 1))
        return self._save(info)

    def _make_certs(self) -> dict[str, tuple[Path, Path]]:
        pki.make_ca(self.cfg.pki_dir, self.cfg.name)
        return {dc: pki.make_server_cert(self.cfg.pki_dir, dc, self.cfg.fqdn(dc), self.cfg.dc_ip(dc))
                for dc in DC_NAMES}

    def _dc_info(self, tools: SambaTools, dc: str, samba_pid: int, chronyd_pid: int,
                 skew: str | None) -> DCInfo:
        cfg = self.cfg
        objs = directory.dc_objects(tools, dc)
        ip = cfg.dc_ip(dc)
        return DCInfo(
            name=dc, fqdn=cfg.fqdn(dc), ip=ip, netns=cfg.netns(dc), site=SITE,
            sam_account_name=objs.sam_account_name, computer_dn=objs.computer_dn, server_dn=objs.server_dn,
            ntds_dn=objs.ntds_dn, dsa_guid=objs.dsa_guid, ldap_url=f"ldap://{ip}:389",
            ldaps_url=f"ldaps://{ip}:636", dns_server=f"{ip}:53", ntp_server=f"{ip}:123",
            samba_pid=samba_pid, chronyd_pid=chronyd_pid, clock_skew=skew,
            clock_skew_seconds=faketime.offset_seconds(skew) if skew else 0,
            smb_conf=str(cfg.smb_conf(dc)), log_file=str(cfg.dc_dir(dc) / "log" / "samba.log"))

    def _verify_base(self, monitor: AccountInfo) -> None:
        """The exporter's view: LDAPS with certificate checks as the monitor user, both DCs in the
        locator SRV records of both DNS servers, and NTP."""
        for dc in DC_NAMES:
            dsas = probes.ldaps_search(self.cfg, self.cfg.dc_ip(dc), monitor.upn, monitor.password_file,
                                       str(self.cfg.ca_file), f"CN=Sites,{CONFIG_DN}", "(objectClass=nTDSDSA)",
                                       ["dn"])
            if len(dsas) != len(DC_NAMES):
                raise LabError(f"{dc}: monitor sees {len(dsas)} nTDSDSA objects over LDAPS, "
                               f"expected {len(DC_NAMES)}")
            missing = self._locator_gaps(dc)
            if missing:
                raise LabError(f"{dc} DNS: " + "; ".join(missing))
            stratum, leap, offset = chrony.wait_answering(self.cfg, dc, self.cfg.netns("client"))
            if leap == 3 or abs(offset) > 5:
                raise LabError(f"{dc}: NTP answer unusable (stratum {stratum}, leap {leap}, offset {offset:.3f} s)")

    def _locator_gaps(self, dc: str) -> list[str]:
        """Locator SRV records on this DC's DNS server that lack one of the lab's DCs."""
        gaps = []
        for name in (f"_ldap._tcp.dc._msdcs.{DOMAIN}", f"_ldap._tcp.{DOMAIN}", f"_kerberos._tcp.{DOMAIN}"):
            _status, answers = probes.dig(self.cfg, self.cfg.dc_ip(dc), name, "SRV")
            gaps += [f"{name} SRV does not name {self.cfg.fqdn(other)}" for other in DC_NAMES
                     if not any(a.endswith(f" {self.cfg.fqdn(other)}.") for a in answers)]
        return gaps

    def _wait_dns_converged(self, tools: SambaTools, timeout: float = 90) -> None:
        """Both DNS servers name both DCs. Samba's own registration of a joined DC runs at its
        first start, concurrently with `up`, and may land after the last replication."""
        deadline = time.monotonic() + timeout
        while True:
            gaps = {dc: self._locator_gaps(dc) for dc in DC_NAMES}
            if not any(gaps.values()):
                return
            if time.monotonic() > deadline:
                raise LabError("DNS did not converge: " + "; ".join(f"{dc}: {', '.join(g)}"
                                                                  for dc, g in gaps.items() if g))
            for dc in (d for d, g in gaps.items() if g):
                log.info("%s DNS lacks %s: registering and replicating", dc, ", ".join(gaps[dc]))
                tools.register_dns(dc)
                for src in (s for s in DC_NAMES if s != dc):
                    tools.replicate(dc, src, ncs=DNS_NAMING_CONTEXTS)
            time.sleep(1)

    def _wait_replication_healthy(self, tools: SambaTools, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            report = {dc: tools.showrepl_summary(dc) for dc in DC_NAMES}
            if all(ok for ok, _ in report.values()):
                return
            if time.monotonic() > deadline:
                bad = "; ".join(f"{dc}: {out[-300:]}" for dc, (ok, out) in report.items() if not ok)
                raise LabError(f"replication not healthy after {timeout:.0f} s: {bad}")
            # A failure counter only resets on the next successful pull: pull now, don't wait 15 s.
            for dc, (ok, _) in report.items():
                if not ok:
                    for src in DC_NAMES:
                        if src != dc:
                            tools.replicate(dc, src)
            time.sleep(1)

    # -- daemons ---------------------------------------------------------------------------------
    def _start_samba(self, dc: str, skew: str | None, kdc: bool = True) -> int:
        popen = self._tools().start(dc, skew)
        self._children[popen.pid] = popen
        # Without its KDC the DC never answers on 88: waiting for it would only time out.
        ports = READY_PORTS if kdc else tuple(p for p in READY_PORTS if p != KDC_PORT)
        self._tools().wait_ready(dc, lambda: popen.poll() is None, ports=ports)
        return popen.pid

    def _start_chronyd(self, dc: str, skew: str | None) -> int:
        popen = chrony.start(self.cfg, dc, skew)
        self._children[popen.pid] = popen
        return popen.pid

    def _stop_pid(self, pid: int | None, dc: str, program: str) -> None:
        if pid and owned_by(pid, self.cfg.netns(dc), program):
            terminate(pid, popen=self._children.pop(pid, None))

    def _samba_running(self, dc: str, pid: int | None) -> bool:
        return owned_by(pid, self.cfg.netns(dc), "samba")

    def _chronyd_running(self, dc: str, pid: int | None) -> bool:
        return owned_by(pid, self.cfg.netns(dc), "chronyd")

    def _stop_samba(self, dc: str, pid: int | None, keep: Sequence[int]) -> None:
        self._stop_pid(pid, dc, "samba")
        # Whatever of samba's tree outlived its parent (smbd, winbindd, workers): everything left
        # in the DC's namespace except what we keep (its chronyd).
        for leftover in netns_pids(self.cfg.netns(dc)):
            if leftover not in keep:
                terminate(leftover, timeout=5)

    # -- on-demand faults ------------------------------------------------------------------------
    def stop_dc(self, dc: str) -> LabInfo:
        d = self.info.dc(dc)
        self._stop_samba(dc, d.samba_pid, keep=[d.chronyd_pid] if d.chronyd_pid else [])
        log.info("%s stopped", dc)
        return self._update_dc(dc, samba_pid=None)

    def start_dc(self, dc: str) -> LabInfo:
        """Start the DC's samba (under its clock skew, if any) and wait until it answers."""
        d = self.info.dc(dc)
        if self._samba_running(dc, d.samba_pid):
            return self.info
        pid = self._start_samba(dc, d.clock_skew, kdc=not d.kdc_stopped)
        log.info("%s started (samba pid %d)", dc, pid)
        return self._update_dc(dc, samba_pid=pid)

    def cut_link(self, member: str) -> LabInfo:
        """Silently drop all traffic to the member (dc1, dc2, ghost, client): peers time out."""
        net.cut(self.cfg, member)
        info = self.info
        log.info("%s link cut", member)
        return self._save(dataclasses.replace(info, cut_links=tuple(sorted({*info.cut_links, member}))))

    def heal_link(self, member: str) -> LabInfo:
        net.heal(self.cfg, member)
        info = self.info
        log.info("%s link healed", member)
        return self._save(dataclasses.replace(info, cut_links=tuple(m for m in info.cut_links if m != member)))

    def skew_clock(self, dc: str, offset: str) -> LabInfo:
        """Restart the DC's samba and chronyd with their clocks shifted by offset (e.g. "+7m")."""
        seconds = faketime.offset_seconds(offset)
        return self._restart_with_clock(dc, offset, seconds)

    def unskew_clock(self, dc: str) -> LabInfo:
        return self._restart_with_clock(dc, None, 0)

    def _restart_with_clock(self, dc: str, skew: str | None, seconds: int) -> LabInfo:
        d = self.info.dc(dc)
        was_running = self._samba_running(dc, d.samba_pid)
        self._stop_pid(d.chronyd_pid, dc, "chronyd")
        self._stop_samba(dc, d.samba_pid, keep=[])
        chronyd_pid = self._start_chronyd(dc, skew)
        samba_pid = self._start_samba(dc, skew, kdc=not d.kdc_stopped) if was_running else None
        chrony.wait_answering(self.cfg, dc, self.cfg.netns(dc))
        log.info("%s clock %s", dc, f"skewed by {skew} ({seconds:+d} s)" if skew else "back to real time")
        return self._update_dc(dc, clock_skew=skew, clock_skew_seconds=seconds, samba_pid=samba_pid,
                               chronyd_pid=chronyd_pid)

    def stop_kdc(self, dc: str) -> LabInfo:
        """Restart the DC's samba with `server services = -kdc`: LDAP, DNS and replication still
        answer, Kerberos (88) refuses. Survives stop_dc/start_dc and clock skews until start_kdc."""
        return self._restart_with_kdc(dc, running=False)

    def start_kdc(self, dc: str) -> LabInfo:
        """Undo stop_kdc: restart the DC's samba with every service and wait until 88 answers."""
        return self._restart_with_kdc(dc, running=True)

    def _restart_with_kdc(self, dc: str, running: bool) -> LabInfo:
        d = self.info.dc(dc)
        tools = self._tools()
        tools.set_kdc(dc, running)
        samba_pid: int | None = None
        if self._samba_running(dc, d.samba_pid):
            self._stop_samba(dc, d.samba_pid, keep=[d.chronyd_pid] if d.chronyd_pid else [])
            samba_pid = self._start_samba(dc, d.clock_skew, kdc=running)
            if not running and tools.port_open(dc, KDC_PORT):
                raise LabError(f"{dc}: samba restarted without its KDC, but port {KDC_PORT} still accepts "
                               f"connections; see {self.cfg.smb_conf(dc)}")
        log.info("%s KDC %s", dc, "running" if running else "stopped (LDAP still answers)")
        return self._update_dc(dc, kdc_stopped=not running, samba_pid=samba_pid)

    def replicate(self, dst: str, src: str) -> None:
        """samba-tool drs replicate <dst> <src> for every naming context (dst pulls from src)."""
        self.cfg.check_dc(dst)
        self.cfg.check_dc(src)
        self.info  # noqa: B018 - fails clearly when the lab is not up
        self._tools().replicate(dst, src)
        log.info("replicated %s <- %s", dst, src)

    def disable_replication(self, dc: str, direction: str) -> tuple[str, ...]:
        """Switch the DC's inbound or outbound replication off (nTDSDSA options 0x2 / 0x4); returns the
        directions now disabled. Its links stop moving; undo with enable_replication."""
        self.info  # noqa: B018 - fails clearly when the lab is not up
        disabled = keys.set_replication(self._tools(), dc, direction, enabled=False)
        log.info("%s %s replication disabled", dc, direction)
        return disabled

    def enable_replication(self, dc: str, direction: str) -> tuple[str, ...]:
        self.info  # noqa: B018 - fails clearly when the lab is not up
        disabled = keys.set_replication(self._tools(), dc, direction, enabled=True)
        log.info("%s %s replication enabled", dc, direction)
        return disabled

    def replication_disabled(self, dc: str) -> tuple[str, ...]:
        """Directions ("inbound", "outbound") whose replication is off on the DC, as it holds them."""
        self.cfg.check_dc(dc)
        return keys.disabled_directions(self._tools(), dc)

    def reset_computer_password(self, dc: str, computer: str) -> int:
        """A new random password for a (non-DC) computer account, written on this DC only; returns the
        key version (msDS-KeyVersionNumber) that DC holds now. secrets/computers/ gets the password."""
        self.cfg.check_dc(dc)
        self.info  # noqa: B018 - fails clearly when the lab is not up
        kvno = keys.reset_computer_password(self._tools(), dc, computer)
        log.info("%s$ password reset on %s: key version %d there", computer.rstrip("$").upper(), dc, kvno)
        return kvno

    def key_version(self, dc: str, sam_account_name: str) -> int:
        """msDS-KeyVersionNumber of an account as this DC holds it (read from its own database)."""
        self.cfg.check_dc(dc)
        return keys.key_version(self._tools(), dc, sam_account_name)[0]

    def run(self, member: str, argv: Sequence[str], *, admin: bool = False, check: bool = False,
            timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside a lab namespace (dc1, dc2, client, ghost); output is captured.

        On a DC, samba-tool reads that DC's smb.conf (SMB_CONF_PATH). admin=True exports
        PASSWD_FILE=<admin password file>, so `samba-tool ... -U 'LAB\\Administrator'` needs no
        password on its command line.
        """
        if not argv:
            raise LabError("run: no command given")
        self.info  # noqa: B018 - fails clearly when the lab is not up
        tools = self._tools()
        env = tools.admin_env() if admin else None
        if member in DC_NAMES:
            return tools.run(member, argv, env=env, check=check, timeout=timeout, input=input,
                             what=f"{argv[0]} on {member}")
        return run(argv, netns=self.cfg.netns(member), env=env, check=check, timeout=timeout, input=input,
                   secrets=self._secrets(), what=f"{argv[0]} on {member}")

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict[str, dict[str, object]]:
        """Live facts per member, read from the processes, the kernel and the DCs themselves."""
        info = self.info
        tools = self._tools()
        report: dict[str, dict[str, object]] = {}
        for dc, d in info.dcs.items():
            samba_up = self._samba_running(dc, d.samba_pid)
            entry: dict[str, object] = {
                "samba": f"running (pid {d.samba_pid})" if samba_up else "stopped",
                "chronyd": (f"running (pid {d.chronyd_pid})" if self._chronyd_running(dc, d.chronyd_pid)
                            else "stopped"),
                "link": "cut" if net.is_cut(self.cfg, dc) else "up",
                "clock_skew": d.clock_skew or "none",
                "kdc": "stopped (server services = -kdc)" if d.kdc_stopped else "on",
            }
            try:
                _stratum, leap, offset = chrony.probe(self.cfg, dc, d.netns, timeout=1.0)
                entry["ntp_offset_s"] = round(offset, 3)
            except LabError:
                entry["ntp_offset_s"] = "no answer"
            if samba_up:
                ok, out = tools.showrepl_summary(dc)
                entry["replication"] = "ALL GOOD" if ok else "failing: " + " ".join(out.split())[:300]
            report[dc] = entry
        for member in ("ghost", "client"):
            report[member] = {"link": "cut" if net.is_cut(self.cfg, member) else "up",
                              "netns": self.cfg.netns(member)}
        return report

    # -- down ------------------------------------------------------------------------------------
    def down(self, keep_state: bool = False) -> list[str]:
        """Stop and remove everything of this lab; never raises. Returns what could not be removed."""
        try:
            with self._exclusive("tear down"):
                problems = self._teardown(keep_state=keep_state)
        except LabError as exc:
            return [str(exc)]
        for p in problems:
            log.warning("down: %s", p)
        return problems

    def _teardown(self, keep_state: bool) -> list[str]:
        cfg = self.cfg
        problems: list[str] = []
        try:
            info = state.read(cfg.lab_json) if cfg.lab_json.exists() else None
        except LabError:
            info = None
        # Graceful stop by PID first; then net.destroy kills whatever still runs in the namespaces.
        for dc, d in (info.dcs.items() if info else ()):
            with contextlib.suppress(Exception):
                self._stop_pid(d.samba_pid, dc, "samba")
                self._stop_pid(d.chronyd_pid, dc, "chronyd")
        for pid, popen in list(self._children.items()):
            if popen.poll() is None:
                terminate(pid, popen=popen)
        self._children.clear()
        problems += net.destroy(cfg)
        problems += self._remove_state(keep_state)
        self._info = None
        return problems

    def _remove_state(self, keep_state: bool) -> list[str]:
        cfg = self.cfg
        if not cfg.state_dir.exists():
            return []
        if not cfg.marker.exists():
            if any(cfg.state_dir.iterdir()):
                return [f"{cfg.state_dir} is not an adlab state directory (no {cfg.marker.name}): left alone"]
            cfg.state_dir.rmdir()
            return []
        if keep_state:
            # Logs stay for a post-mortem; nothing that would let `load` attach to a dead lab.
            cfg.lab_json.unlink(missing_ok=True)
            shutil.rmtree(cfg.secrets_dir, ignore_errors=True)
            return []
        shutil.rmtree(cfg.state_dir, ignore_errors=True)
        return [f"could not remove {cfg.state_dir}"] if cfg.state_dir.exists() else []

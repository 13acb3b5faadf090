"""Samba AD DCs of the lab: provision, join, configure, start, and the tools run against them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import faketime, ldif
from .config import DOMAIN, DOMAIN_DN, NETBIOS, REALM, LabConfig
from .errors import LabError
from .proc import run, spawn

CONFIG_DN = f"CN=Configuration,{DOMAIN_DN}"
SCHEMA_DN = f"CN=Schema,{CONFIG_DN}"
DNS_NAMING_CONTEXTS = (f"DC=DomainDnsZones,{DOMAIN_DN}", f"DC=ForestDnsZones,{DOMAIN_DN}")
NAMING_CONTEXTS = (DOMAIN_DN, CONFIG_DN, SCHEMA_DN, *DNS_NAMING_CONTEXTS)
# Ports a DC must answer on before it counts as started: LDAP, LDAPS, DNS, Kerberos.
KDC_PORT = 88
READY_PORTS = (389, 636, 53, KDC_PORT)
# What stop_kdc adds to a DC's [global] section: every service but the KDC (Samba's +/- syntax).
NO_KDC_LINE = "\tserver services = -kdc\n"

_PORT_WAIT = """
import socket, sys
pending = []
for port in sys.argv[2:]:
    try:
        socket.create_connection((sys.argv[1], int(port)), timeout=1).close()
    except OSError:
        pending.append(port)
print(" ".join(pending))
sys.exit(1 if pending else 0)
"""


@dataclass(frozen=True)
class SambaTools:
    """Runs Samba's programs for one lab; every error message has the lab's secrets redacted."""

    cfg: LabConfig
    secrets: tuple[str, ...] = ()

    # -- generic runners ---------------------------------------------------------------------
    def dc_env(self, dc: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            # samba-tool reads this instead of /etc/samba/smb.conf: the DC's own configuration.
            "SMB_CONF_PATH": str(self.cfg.smb_conf(dc)),
            # Keep the host's /etc/krb5.conf and credential caches out of the lab.
            "KRB5_CONFIG": str(self.cfg.krb5_conf(dc)),
            "KRB5CCNAME": "MEMORY:adlab",
        }
        env.update(extra or {})
        return env

    def admin_args(self) -> list[str]:
        return ["-U", f"{NETBIOS}\\Administrator"]

    def admin_env(self) -> dict[str, str]:
        return {"PASSWD_FILE": str(self.cfg.admin_password_file)}

    def run(self, dc: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            input: str | None = None, check: bool = True, timeout: float = 180,
            what: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(argv, netns=self.cfg.netns(dc), env=self.dc_env(dc, env), input=input, check=check,
                   timeout=timeout, secrets=self.secrets, what=what or f"{argv[0]} on {dc}")

    def tool(self, dc: str, args: Sequence[str], *, auth: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
        """samba-tool inside the DC's namespace, authenticated as Administrator.

        The password comes from the 0600 file through PASSWD_FILE, never from the command line.
        """
        argv = ["samba-tool", *args]
        if auth:
            argv += self.admin_args()
            kwargs["env"] = {**self.admin_env(), **(kwargs.get("env") or {})}
        kwargs.setdefault("what", f"samba-tool {' '.join(args[:2])} on {dc}")
        return self.run(dc, argv, **kwargs)

    # -- provision and join ------------------------------------------------------------------
    def _options(self, dc: str) -> list[str]:
        d = self.cfg.dc_dir(dc)
        opts = {
            "netbios name": dc.upper(),
            "interfaces": "lo eth0",
            "bind interfaces only": "yes",
            "pid directory": d / "run",
            "ncalrpc dir": d / "run" / "ncalrpc",
            "winbindd socket directory": d / "run" / "winbindd",
            "ntp signd socket directory": d / "run" / "ntp_signd",
            # %m is not expanded for the AD DC: one fixed file.
            "log file": d / "log" / "samba.log",
            "logging": "file",
        }
        return [f"--option={key} = {value}" for key, value in opts.items()]

    def provision(self, dc: str, admin_password: str) -> None:
        self.cfg.dc_dir(dc).mkdir(parents=True, exist_ok=True)
        # -s <empty file>: otherwise provision copies the host's /etc/samba/smb.conf shares.
        self.run(dc, ["samba-tool", "domain", "provision", "-s", str(self.cfg.empty_conf),
                      f"--targetdir={self.cfg.dc_dir(dc)}", f"--realm={REALM}", f"--domain={NETBIOS}",
                      "--server-role=dc", "--dns-backend=SAMBA_INTERNAL", "--use-rfc2307",
                      f"--host-name={dc}", f"--host-ip={self.cfg.dc_ip(dc)}",
                      f"--adminpass={admin_password}", *self._options(dc)],
                 # No krb5.conf exists yet for this DC.
                 env={"KRB5_CONFIG": str(self.cfg.empty_conf)}, what=f"provision {dc}")

    def join(self, dc: str, server_dc: str) -> None:
        self.cfg.dc_dir(dc).mkdir(parents=True, exist_ok=True)
        self.run(dc, ["samba-tool", "domain", "join", DOMAIN, "DC", "-s", str(self.cfg.empty_conf),
                      f"--targetdir={self.cfg.dc_dir(dc)}", f"--server={self.cfg.dc_ip(server_dc)}",
                      *self.admin_args(), "--dns-backend=SAMBA_INTERNAL", *self._options(dc)],
                 env={"KRB5_CONFIG": str(self.cfg.krb5_conf(server_dc)), **self.admin_env()},
                 what=f"join {dc}")

    def configure(self, dc: str, key: Path, cert: Path, ca: Path) -> None:
        """Lab settings on top of what provision/join wrote."""
        conf = self.cfg.smb_conf(dc)
        text = conf.read_text()
        # Provision copies the namespace's resolver (the DC itself) as forwarder: a loop, and
        # the lab must never forward names anywhere else.
        text = re.sub(r"^\s*dns forwarder\s*=.*\n", "", text, flags=re.M)
        extra = {
            # Pull every 15 s (default 300 s) so replication faults show within ~30 s.
            "dreplsrv:periodic_interval": "15",
            "kccsrv:periodic_interval": "60",
            "tls enabled": "yes",
            "tls keyfile": key,
            "tls certfile": cert,
            "tls cafile": ca,
        }
        (self.cfg.dc_dir(dc) / "log").mkdir(exist_ok=True)
        lines = "".join(f"\t{k} = {v}\n" for k, v in extra.items())
        text = text.replace("[global]\n", "[global]\n" + lines, 1)
        conf.write_text(text)

    # -- daemons -----------------------------------------------------------------------------
    def start(self, dc: str, skew: str | None) -> subprocess.Popen[bytes]:
        return spawn(["samba", "-s", str(self.cfg.smb_conf(dc)), "-F", "--no-process-group"],
                     netns=self.cfg.netns(dc), env=faketime.env(skew),
                     log_path=self.cfg.log_dir / f"{dc}-samba.out")

    def set_kdc(self, dc: str, running: bool) -> None:
        """Turn the DC's KDC on or off in its smb.conf; takes effect at samba's next start."""
        conf = self.cfg.smb_conf(dc)
        text = conf.read_text().replace(NO_KDC_LINE, "")
        if not running:
            text = text.replace("[global]\n", "[global]\n" + NO_KDC_LINE, 1)
        conf.write_text(text)

    def port_open(self, dc: str, port: int) -> bool:
        """Whether the DC accepts a TCP connection on port (checked from its own namespace)."""
        cp = run([sys.executable, "-c", _PORT_WAIT, self.cfg.dc_ip(dc), str(port)],
                 netns=self.cfg.netns(dc), check=False, timeout=30)
        return cp.returncode == 0

    def wait_ready(self, dc: str, popen_alive: Callable[[], bool], timeout: float = 90,
                   ports: Sequence[int] = READY_PORTS) -> None:
        """Wait until the DC answers on every one of ports (checked from its own namespace)."""
        deadline = time.monotonic() + timeout
        pending = " ".join(map(str, ports))
        while time.monotonic() < deadline:
            if not popen_alive():
                raise LabError(f"samba on {dc} exited during start-up; see {self.cfg.log_dir}/{dc}-samba.out "
                               f"and {self.cfg.dc_dir(dc)}/log/samba.log")
            cp = run([sys.executable, "-c", _PORT_WAIT, self.cfg.dc_ip(dc), *pending.split()],
                     netns=self.cfg.netns(dc), check=False, timeout=30)
            if cp.returncode == 0:
                return
            pending = cp.stdout.strip() or pending
            time.sleep(0.3)
        raise LabError(f"samba on {dc} did not answer on port(s) {pending} within {timeout:.0f} s; "
                       f"see {self.cfg.dc_dir(dc)}/log/samba.log")

    def register_dns(self, dc: str) -> None:
        """Add the DC's own A/NS/CNAME/SRV records now rather than at Samba's next periodic run.

        The run at a joined DC's first start may fail (GSS-TSIG "tsig verify failure" over
        nsupdate), leaving it out of the locator SRVs; RPC updates with the machine account work.
        """
        self.run(dc, ["samba_dnsupdate", "--use-samba-tool"], timeout=120, what=f"register {dc} in DNS")

    # -- local database access ------------------------------------------------------------------
    def ldb_search(self, dc: str, base: str, expression: str, attrs: Iterable[str] = (),
                   scope: str = "sub", env: Mapping[str, str] | None = None) -> list[dict]:
        cp = self.run(dc, ["ldbsearch", "-H", str(self.cfg.sam_ldb(dc)), "-b", base, "-s", scope,
                           expression, *attrs], env=env, what=f"ldbsearch on {dc}")
        return ldif.parse(cp.stdout)

    def ldb_modify(self, dc: str, text: str, env: Mapping[str, str] | None = None,
                   what: str | None = None) -> None:
        self.run(dc, ["ldbmodify", "-H", str(self.cfg.sam_ldb(dc))], input=text, env=env,
                 what=what or f"ldbmodify on {dc}")

    # -- replication ---------------------------------------------------------------------------
    def kcc(self, dc: str, attempts: int = 10, delay: float = 2.0) -> None:
        """Run the DC's KCC now; retried because a KCC run of its own (at start-up or periodic)
        makes the request fail with NT_STATUS_DS_BUSY."""
        for attempt in range(attempts):
            cp = self.tool(dc, ["drs", "kcc", self.cfg.dc_ip(dc)], check=attempt == attempts - 1,
                           what=f"drs kcc on {dc}")
            if cp.returncode == 0:
                return
            time.sleep(delay)

    def replicate_nc(self, dst: str, src: str, nc: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # The destination by address: a stale A record may give its name a second (dead) address.
        # The source is looked up by name in the destination's own directory.
        return self.tool(dst, ["drs", "replicate", self.cfg.dc_ip(dst), src.upper(), nc],
                         check=check, timeout=120, what=f"drs replicate {dst} <- {src} {nc}")

    def replicate(self, dst: str, src: str, ncs: Iterable[str] = NAMING_CONTEXTS,
                  attempts: int = 6, delay: float = 2.0) -> None:
        """Pull every NC from src into dst; retries because a peer's first syncs after a restart
        or a healed link fail (WERR 64/29) before they succeed."""
        for nc in ncs:
            for attempt in range(attempts):
                cp = self.replicate_nc(dst, src, nc, check=False)
                if cp.returncode == 0:
                    break
                if attempt == attempts - 1:
                    raise LabError(f"replication {dst} <- {src} of {nc} still fails after {attempts} attempts: "
                                   f"{(cp.stdout + cp.stderr).strip()[-400:]}")
                time.sleep(delay)

    def showrepl_summary(self, dc: str) -> tuple[bool, str]:
        cp = self.tool(dc, ["drs", "showrepl", "--summary", self.cfg.dc_ip(dc)], check=False,
                       timeout=60)
        out = cp.stdout + cp.stderr
        return cp.returncode == 0 and "[ALL GOOD]" in out, out.strip()

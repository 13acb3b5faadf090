"""chronyd beside each DC: Samba is no NTP server (a Windows DC is), so the lab adds one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from . import faketime
from .config import LabConfig
from .errors import LabError
from .proc import run, spawn

# A plain 48-byte SNTP client request (mode 3, version 3) as ntplib and monitoring tools send.
# Prints "<stratum> <leap> <offset seconds>".
_PROBE = """
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[2]))
t1 = time.time()
s.sendto(b"\\x1b" + 47 * b"\\0", (sys.argv[1], 123))
data, _ = s.recvfrom(512)
t4 = time.time()
stratum, leap = data[1], data[0] >> 6
def ts(off):
    sec, frac = struct.unpack("!II", data[off:off + 8])
    return sec - 2208988800 + frac / 2**32
t2, t3 = ts(32), ts(40)
print(stratum, leap, ((t2 - t1) + (t3 - t4)) / 2)
"""


def conf_path(cfg: LabConfig, dc: str) -> Path:
    return cfg.dc_dir(dc) / "chrony" / "chrony.conf"


def write_config(cfg: LabConfig, dc: str) -> Path:
    path = conf_path(cfg, dc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# NTP server beside {dc}: serves its own (possibly faked) clock, follows no source.\n"
        "local stratum 8\n"
        f"allow {cfg.subnet}\n"
        f"bindaddress {cfg.dc_ip(dc)}\n"
        # No command socket and no command port: nothing to collide with a host chronyd.
        "cmdport 0\n"
        "bindcmdaddress /\n"
        f"pidfile {path.parent / 'chronyd.pid'}\n")
    return path


def start(cfg: LabConfig, dc: str, skew: str | None) -> subprocess.Popen[bytes]:
    """-x: never touch the clock (the namespace shares the host's); -d: foreground."""
    return spawn(["chronyd", "-x", "-d", "-u", "root", "-f", str(write_config(cfg, dc))],
                 netns=cfg.netns(dc), env=faketime.env(skew),
                 log_path=cfg.log_dir / f"{dc}-chronyd.out")


def probe(cfg: LabConfig, dc: str, from_netns: str, timeout: float = 2.0) -> tuple[int, int, float]:
    """(stratum, leap, offset s) of the DC's NTP answer, asked from inside a lab namespace."""
    cp = run([sys.executable, "-c", _PROBE, cfg.dc_ip(dc), str(timeout)], netns=from_netns,
             check=False, timeout=timeout + 10)
    if cp.returncode != 0:
        raise LabError(f"NTP on {dc} ({cfg.dc_ip(dc)}:123) did not answer: {cp.stderr.strip()[-200:]}")
    stratum, leap, offset = cp.stdout.split()
    return int(stratum), int(leap), float(offset)


def wait_answering(cfg: LabConfig, dc: str, from_netns: str, timeout: float = 20.0) -> tuple[int, int, float]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe(cfg, dc, from_netns, timeout=1.0)
        except LabError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)

"""Running commands (optionally inside a network namespace) and managing daemons by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import LabError

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing from the caller's venv, preload or Kerberos setup leaks in."""
    env = {"PATH": _PATH, "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/root")}
    if extra:
        env.update(extra)
    return env


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    # `ip netns exec` execs the command, so the PID we get is the command's own, and it
    # bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for it.
    return (["ip", "netns", "exec", netns] if netns else []) + [str(a) for a in argv]


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: Sequence[str], *, netns: str | None = None, env: Mapping[str, str] | None = None,
        input: str | None = None, timeout: float = 180, check: bool = True,
        secrets: Iterable[str] = (), what: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; on failure raise LabError with the redacted command and output."""
    full = in_netns(netns, argv)
    secrets = tuple(secrets)
    try:
        cp = subprocess.run(full, input=input, capture_output=True, text=True, timeout=timeout,
                            env=clean_env(env), stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        raise LabError(redact(f"{what or 'command'} timed out after {timeout:.0f} s: {' '.join(full)}\n"
                              f"{_tail(out)}", secrets)) from None
    except FileNotFoundError as exc:
        raise LabError(f"{what or 'command'}: {exc.filename} is not installed (see lab/packages.txt)") from None
    if check and cp.returncode != 0:
        raise LabError(redact(f"{what or 'command'} failed (exit {cp.returncode}): {' '.join(full)}\n"
                              f"{_tail(cp.stdout + cp.stderr)}", secrets))
    return cp


def spawn(argv: Sequence[str], *, netns: str | None, env: Mapping[str, str] | None,
          log_path: Path) -> subprocess.Popen[bytes]:
    """Start a daemon in the foreground of its own session, output appended to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # Own session: a Ctrl-C or kill of the CLI's process group leaves the lab running;
        # `down` (or the next `up`) stops it by PID and by namespace.
        return subprocess.Popen(in_netns(netns, argv), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=clean_env(env), start_new_session=True)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # Field 3 (after the parenthesised command name) is the state; Z/X = dead, awaiting reap.
    state = stat[stat.rfind(b")") + 2:][:1]
    return state not in (b"Z", b"X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def in_netns_of(pid: int, netns: str) -> bool:
    """True if pid runs in the named network namespace (compares namespace inodes)."""
    try:
        mine = os.stat(f"/proc/{pid}/ns/net")
        named = os.stat(f"/run/netns/{netns}")
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def owned_by(pid: int | None, netns: str, program: str) -> bool:
    """True if pid is alive, is `program` and runs in netns: guards against PID reuse.

    (Samba rewrites its command line to "samba: root process", so the command line cannot
    identify the instance; the namespace can.)
    """
    if not pid or not pid_alive(pid) or not in_netns_of(pid, netns):
        return False
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == program


def _wait_dead(pid: int, wait: float, popen: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def terminate(pid: int, *, timeout: float = 10.0,
              popen: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM, wait up to timeout, then SIGKILL; reaps it when it is our child."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_dead(pid, wait, popen):
            break
    if popen is not None:
        try:
            popen.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def netns_pids(netns: str) -> list[int]:
    cp = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                        env=clean_env())
    if cp.returncode != 0:
        return []
    return [int(p) for p in cp.stdout.split() if p.isdigit()]


def kill_netns_processes(netns: str, *, grace: float = 5.0) -> list[int]:
    """Stop everything still running in a namespace: SIGTERM, then SIGKILL after grace."""
    pids = [p for p in netns_pids(netns) if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 3.0)
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            break
    return pids

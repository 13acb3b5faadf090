"""Growing the lab directory to many computer accounts, and caching the result.

Adds go through Samba's own Python bindings (``samba.samdb.SamDB``) on dc1's local sam.ldb,
inside dc1's namespace while samba runs, 1000 adds per transaction: the full module stack
(RID allocation, SPN and sAMAccountName uniqueness, replication metadata) without a network
round trip per object. dc2's link is cut while adding (otherwise it slows every add), then
healed, and dc2 catches up by replication.

Samba's add cost grows with the directory, so a populated lab is kept as a tarball of its
stopped state directory and restored on later runs (same lab name and subnet only: the
directory, certificates and smb.conf name its addresses and paths).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import net
from .config import DC_NAMES, DOMAIN, DOMAIN_DN, LabConfig
from .errors import LabError
from .proc import clean_env, in_netns, run
from .samba import SambaTools

PREFIX = "BENCH-"
OU_DN = f"OU=Bench,{DOMAIN_DN}"
DEFAULT_CACHE_DIR = Path("/var/tmp/adlab-bench")

# Runs with Debian's python3 (python3-samba) inside dc1's namespace.
# argv: sam.ldb smb.conf have target batch prefix ou_dn domain, where have is count()'s answer.
# Accounts look like joined machines: UAC 4096, dNSHostName, 2-4 SPNs, pwdLastSet -1 (Samba
# stores "now" without deriving keys; a real password costs ~17 ms more per account).
_POPULATE = r'''
import sys, time
import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

sam_ldb, smb_conf, have, target, batch, prefix, ou_dn, domain = sys.argv[1:9]
have, target, batch = int(have), int(target), int(batch)
lp = LoadParm()
lp.load(smb_conf)
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)

def name(i):
    return "%s%06d" % (prefix, i)

# Accounts are added in order and committed per batch, so those present are 1..have; with
# none yet, the OU may be missing.
if have == 0:
    try:
        db.search(base=ou_dn, scope=ldb.SCOPE_BASE, attrs=["ou"])
    except ldb.LdbError as exc:
        if exc.args[0] != ldb.ERR_NO_SUCH_OBJECT:
            raise
        db.add({"dn": ou_dn, "objectClass": "organizationalUnit", "description": "adlab bench computers"})
print("present %d target %d" % (have, target), flush=True)

started = time.monotonic()
done = 0
i = have + 1
while i <= target:
    end = min(i + batch - 1, target)
    t0 = time.monotonic()
    db.transaction_start()
    try:
        while i <= end:
            n = name(i)
            fqdn = "%s.%s" % (n.lower(), domain)
            spns = ["HOST/" + fqdn, "HOST/" + n, "RestrictedKrbHost/" + fqdn, "WSMAN/" + fqdn][: 2 + i % 3]
            db.add({
                "dn": "CN=%s,%s" % (n, ou_dn),
                "objectClass": "computer",
                "sAMAccountName": n + "$",
                "userAccountControl": "4096",
                "dNSHostName": fqdn,
                "servicePrincipalName": spns,
                "pwdLastSet": "-1",
            })
            i += 1
            done += 1
        db.transaction_commit()
    except BaseException:
        db.transaction_cancel()
        raise
    elapsed = time.monotonic() - started
    print("added %d total %d batch %.1fs rate %.1f/s" % (done, end, time.monotonic() - t0, done / elapsed),
          flush=True)
print("done %d added in %.1fs" % (done, time.monotonic() - started), flush=True)
'''

_COUNT = r'''
import sys
import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
lp = LoadParm()
lp.load(sys.argv[2])
db = SamDB(url=sys.argv[1], session_info=system_session(), lp=lp)
ou, prefix = sys.argv[3], sys.argv[4]
def exists(i):
    try:
        return bool(db.search(base="CN=%s%06d,%s" % (prefix, i, ou), scope=ldb.SCOPE_BASE, attrs=["cn"]))
    except ldb.LdbError as exc:
        if exc.args[0] == ldb.ERR_NO_SUCH_OBJECT:
            return False
        raise
lo, hi = 0, 1
while exists(hi):
    lo, hi = hi, hi * 2
while hi - lo > 1:
    mid = (lo + hi) // 2
    lo, hi = (mid, hi) if exists(mid) else (lo, mid)
print(lo)
'''

Progress = Callable[[str], None]


def _samba_python(cfg: LabConfig, dc: str, script: str, *args: str) -> list[str]:
    """argv that runs script with Debian's python3 (python3-samba) on the DC's sam.ldb and smb.conf.

    Run it in the DC's namespace with the DC's environment (SambaTools.run / dc_env).
    """
    return ["/usr/bin/python3", "-I", "-c", script, str(cfg.sam_ldb(dc)), str(cfg.smb_conf(dc)), *args]


def count(cfg: LabConfig, dc: str = "dc1") -> int:
    """How many bench computer accounts the DC holds (they are always 1..n)."""
    cp = SambaTools(cfg).run(dc, _samba_python(cfg, dc, _COUNT, OU_DN, PREFIX), check=False, timeout=300,
                             what=f"counting bench computers on {dc}")
    if cp.returncode != 0:
        raise LabError(f"counting bench computers on {dc} failed: {cp.stderr.strip()[-500:]}")
    return int(cp.stdout.strip() or 0)


def populate(lab, target: int, *, batch: int = 1000, progress: Progress = print, log_path: Path | None = None,
             have: int | None = None) -> int:
    """Add bench computers on dc1 until it holds ``target`` of them; dc2 then catches up.

    ``have`` is how many dc1 holds, if the caller has just counted them (else counted here).
    Returns how many were added. Progress lines ("added N total M ... rate R/s") go to
    ``progress`` and, if given, to ``log_path`` as they come.
    """
    cfg: LabConfig = lab.cfg
    if target < 0:
        raise LabError(f"number of computers must not be negative, got {target}")
    if have is None:
        have = count(cfg, "dc1")
    if have >= target:
        progress(f"dc1 already holds {have} bench computers (wanted {target})")
        _wait_caught_up(lab, have, progress)
        return 0
    # Streamed line by line, so not SambaTools.run; the same namespace and environment.
    argv = in_netns(cfg.netns("dc1"), _samba_python(cfg, "dc1", _POPULATE, str(have), str(target), str(batch),
                                                    PREFIX, OU_DN, DOMAIN))
    env = clean_env(lab._tools().dc_env("dc1"))
    lab.cut_link("dc2")
    try:
        if log_path:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "a") if log_path else None
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                progress(line)
                if out:
                    out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
                    out.flush()
            rc = proc.wait()
        finally:
            if out:
                out.close()
        if rc != 0:
            raise LabError(f"populating dc1 failed (exit {rc}); see the lines above")
    finally:
        lab.heal_link("dc2")
    _wait_caught_up(lab, target, progress)
    return target - have


def _wait_caught_up(lab, n: int, progress: Progress, timeout: float = 7200) -> None:
    """Wait until dc2 holds the n-th bench computer (objects replicate in USN order)."""
    if n == 0:
        return
    cfg: LabConfig = lab.cfg
    tools = lab._tools()
    dn = f"CN={PREFIX}{n:06d},{OU_DN}"
    started = time.monotonic()
    last_pull = 0.0
    while True:
        cp = tools.run("dc2", ["ldbsearch", "-H", str(cfg.sam_ldb("dc2")), "-s", "base", "-b", dn, "cn"],
                       check=False, timeout=120)
        if cp.returncode == 0 and "# returned 1 records" in cp.stdout:
            progress(f"dc2 caught up after {time.monotonic() - started:.0f}s")
            return
        if time.monotonic() - started > timeout:
            raise LabError(f"dc2 did not receive {dn} within {timeout:.0f}s")
        if time.monotonic() - last_pull > 60:
            # A healed link is retried on dreplsrv's next period; a manual pull starts it now.
            with contextlib.suppress(LabError):
                tools.replicate_nc("dc2", "dc1", DOMAIN_DN, check=False)
            last_pull = time.monotonic()
        time.sleep(5)


def cache_path(cfg: LabConfig, n: int, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    subnet = str(cfg.subnet).replace("/", "_")
    return cache_dir / f"{cfg.name}-{subnet}-{n}.tar.zst"


def _compressor() -> list[str]:
    if shutil.which("zstd"):
        return ["-I", "zstd -T0 -3"]
    return ["-z"]


def snapshot(lab, path: Path, progress: Progress = print) -> Path:
    """Stop both DCs, archive the lab's state directory (daemons' sockets and logs left out), restart them."""
    cfg: LabConfig = lab.cfg
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    for dc in DC_NAMES:
        lab.stop_dc(dc)
    try:
        started = time.monotonic()
        compress = _compressor() if path.name.endswith(".zst") else []
        run(["tar", *compress, "-cf", str(tmp), "--warning=no-file-ignored", "--exclude=./logs",
             "-C", str(cfg.state_dir), "."], timeout=3600, what=f"archive {cfg.state_dir}")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        progress(f"saved {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - started:.0f}s")
    finally:
        tmp.unlink(missing_ok=True)
        for dc in DC_NAMES:
            lab.start_dc(dc)
    return path


def restore(lab, path: Path, progress: Progress = print) -> None:
    """Replace the lab (same name and subnet) with the archived one and start its daemons."""
    cfg: LabConfig = lab.cfg
    if not path.exists():
        raise LabError(f"no lab archive at {path}")
    problems = lab.down()
    if problems:
        raise LabError(f"cannot restore over lab {cfg.name}: {'; '.join(problems)}")
    started = time.monotonic()
    net.check_subnet_free(cfg)
    net.create(cfg)
    try:
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        compress = _compressor() if path.name.endswith(".zst") else []
        run(["tar", *compress, "-xf", str(path), "-C", str(cfg.state_dir)], timeout=3600,
            what=f"unpack {path}")
        cfg.log_dir.mkdir(exist_ok=True)
        info = lab.info
        for member in info.cut_links:
            lab.heal_link(member)
        for dc in DC_NAMES:
            # Starts chronyd without skew (samba is stopped in the archive), then samba.
            lab.unskew_clock(dc)
            lab.start_dc(dc)
    except BaseException:
        lab.down()
        raise
    progress(f"restored {path} in {time.monotonic() - started:.0f}s")


def ensure(lab, n: int, *, cache_dir: Path = DEFAULT_CACHE_DIR, progress: Progress = print,
           log_path: Path | None = None, faults: bool = False) -> None:
    """A running lab with exactly-or-more n bench computers: reuse, restore from cache, or grow and cache."""
    cfg: LabConfig = lab.cfg
    running = cfg.lab_json.exists()
    have = -1
    if running:
        try:
            have = count(cfg)
        except LabError as exc:
            progress(f"lab {cfg.name} does not answer ({exc}); not reusing it")
            running = False
    if have == n:
        progress(f"lab {cfg.name} is running with {n} bench computers")
        return
    exact = cache_path(cfg, n, cache_dir)
    if exact.exists():
        restore(lab, exact, progress)
        return
    # Start from the largest cached or running state below n, else from a fresh lab.
    below = sorted((k, p) for k, p in _cached(cfg, cache_dir) if k < n)
    grow_running = running and 0 <= have < n and (not below or below[-1][0] <= have)
    if grow_running:
        progress(f"growing the running lab from {have}")
    elif below:
        restore(lab, below[-1][1], progress)
    else:
        progress(f"building lab {cfg.name} ({cfg.subnet}) from scratch")
        lab.up(faults=faults)
    # The running lab was just counted; a restored or new one is counted by populate.
    populate(lab, n, progress=progress, log_path=log_path, have=have if grow_running else None)
    snapshot(lab, exact, progress)


def _cached(cfg: LabConfig, cache_dir: Path) -> list[tuple[int, Path]]:
    prefix = cache_path(cfg, 0, cache_dir).name.rsplit("-", 1)[0] + "-"
    found = []
    for p in cache_dir.glob(prefix + "*.tar.zst") if cache_dir.exists() else ():
        with contextlib.suppress(ValueError):
            found.append((int(p.name[len(prefix):].split(".")[0]), p))
    return found

"""Kerberos check: every DC's KDC asked on its own for a TGT and for service tickets.

Per DC, one worker process (``worker.py``, where the reasons for a process are) gets the DC's
address, the monitoring identity and the SPNs on stdin, and answers in JSON lines; this module
turns its lines into typed results. The process is killed when the DC's time is up, so a KDC
that hangs costs its own DC's part and nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import Secret
from ...ldap.resolver import ResolveError
from ...topology import Inventory
from ..base import CheckContext, CheckError, CheckFailed, for_each_dc
from ..spn.settings import SpnSettings
from . import targets as t
from .model import (
    NAME,
    KdcProbe,
    KerberosResult,
    TicketProbe,
    describe_error,
    kdc_error,
)
from .settings import KerberosSettings
from .worker import GSSAPI_MISSING, KRB5_MISSING, NO_ANSWER

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("worker.py")
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class WorkerRequest:
    realm: str
    kdcs: tuple[str, ...]
    principal: str
    enterprise: bool
    spns: tuple[str, ...]
    request_timeout: int
    password: Secret | None = None  # shown as ******** in repr; revealed only on the worker's stdin
    keytab: str | None = None

    def to_json(self) -> bytes:
        return json.dumps({
            "realm": self.realm, "kdcs": list(self.kdcs), "principal": self.principal,
            "enterprise": self.enterprise, "spns": list(self.spns), "request_timeout": self.request_timeout,
            "password": self.password.reveal() if self.password is not None else None, "keytab": self.keytab,
        }).encode()


@dataclass(frozen=True)
class WorkerOutput:
    lines: tuple[dict[str, Any], ...]
    timed_out: bool = False  # stopped by the parent: before "ready" (startup) or after (the KDC's time)
    exit_code: int | None = 0
    kdc_seconds: float | None = None  # how long the KDC had when the worker was stopped

    @property
    def started(self) -> bool:
        return any(line.get("kind") == "ready" for line in self.lines)


@dataclass(frozen=True)
class Limits:
    kdc: float  # from the worker's "ready" on: the KDC's time for the AS exchange and every service ticket
    total: float  # the whole probe, starting Python and the Kerberos libraries included

    @property
    def startup(self) -> float:
        # Starting may take what the KDC does not need, up to 30 s, leaving the KDC a second at least.
        return max(0.1, min(_STARTUP_AT_MOST, self.total - min(_KDC_AT_LEAST, self.kdc)))


_STARTUP_AT_MOST = 30.0
_KDC_AT_LEAST = 1.0


Runner = Callable[[WorkerRequest, Limits], WorkerOutput]


def spawn_worker(request: WorkerRequest, limits: Limits) -> WorkerOutput:
    """Run one DC's probe in a child process, killed when its time is up; its stderr is dropped
    unread (the worker reports on stdout, and nothing else of the child's may reach a log).

    The KDC's time starts at the worker's "ready" line, so a host slow to start Python is never
    taken for a KDC slow to answer.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
    # The child imports this very package, wherever it was imported from.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=env, close_fds=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    timed_out = False
    began = time.monotonic()
    ready_at: float | None = None
    try:
        # A few hundred bytes: the pipe takes them whether or not the child reads yet.
        proc.stdin.write(request.to_json())
        proc.stdin.close()
        deadline = began + limits.startup
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if not selector.select(remaining):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
                if ready_at is None and b'"kind": "ready"' in out:
                    ready_at = time.monotonic()
                    deadline = min(ready_at + limits.kdc, began + limits.total)
    except OSError:
        pass  # the child went away: what it wrote says what it got to
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    kdc_seconds = time.monotonic() - ready_at if timed_out and ready_at is not None else None
    return WorkerOutput(parse_lines(out), timed_out, None if timed_out else proc.returncode, kdc_seconds)


def parse_lines(out: bytes) -> tuple[dict[str, Any], ...]:
    lines: list[dict[str, Any]] = []
    for raw in out.decode("utf-8", errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line cut by the kill
        if isinstance(line, dict):
            lines.append(line)
    return tuple(lines)


def interpret(host: str, address: str | None, spns: Sequence[str], output: WorkerOutput, timeout: float) -> KdcProbe:
    """One DC's probe from its worker's lines (pure)."""
    late = f"no answer within {output.kdc_seconds or timeout:.3g}s"
    fatal = next((line for line in output.lines if line.get("kind") == "fatal"), None)
    as_line = next((line for line in output.lines if line.get("kind") == "as"), None)
    if as_line is None:
        if fatal is not None:
            return KdcProbe(host, address, None, reason=str(fatal.get("message")))
        if output.timed_out and not output.started:
            return KdcProbe(host, address, None, reason="the Kerberos probe did not start in time (is this host "
                                                        "overloaded?)")
        if output.timed_out:
            return KdcProbe(host, address, False, reason=late)
        return KdcProbe(host, address, None, reason=f"the Kerberos probe exited with status {output.exit_code}")
    seconds = as_line.get("seconds") if isinstance(as_line.get("seconds"), (int, float)) else None
    code = as_line.get("code")
    if code != 0:
        refused = kdc_error(code if isinstance(code, int) else None)
        message = str(as_line.get("message") or "no answer")
        if refused is None and code in NO_ANSWER:
            return KdcProbe(host, address, False, reason=message)
        if refused is None:
            # A keytab that cannot be read, say: the KDC may be fine, this probe could not ask it.
            return KdcProbe(host, address, None, reason=f"the Kerberos library failed: {message}")
        return KdcProbe(host, address, True, seconds, refused,
                        f"the KDC refused a TGT: {describe_error(refused)}")
    by_spn = {line.get("spn"): line for line in output.lines if line.get("kind") == "ticket"}
    ended = fatal.get("message") if fatal else late if output.timed_out else "the probe ended early"
    tickets = tuple(_ticket(spn, by_spn.get(spn), str(ended)) for spn in spns)
    return KdcProbe(host, address, True, seconds, tickets=tickets)


def _ticket(spn: str, line: dict[str, Any] | None, ended: str) -> TicketProbe:
    if line is None:
        return TicketProbe(spn, False, reason=f"not asked: {ended}")
    code = line.get("code")
    message = line.get("message")
    if code == 0:
        kvno, etype = line.get("kvno"), line.get("etype")
        return TicketProbe(spn, True, reason=message, kvno=kvno if isinstance(kvno, int) else None,
                           etype=etype if isinstance(etype, int) else None)
    refused = kdc_error(code if isinstance(code, int) else None)
    if refused is not None:
        return TicketProbe(spn, False, kdc_error=refused, reason=describe_error(refused))
    return TicketProbe(spn, False, reason=str(message or "no answer"))


def _addresses(ctx: CheckContext[KerberosSettings], inventory: Inventory, host: str) -> tuple[str, ...]:
    """The address LDAP last answered on, else every address the name resolves to."""
    reach = inventory.reachability.get(host)
    if reach is not None and reach.address:
        return (reach.address,)
    return tuple(ctx.directory.resolver.addresses(host))


def bindings_missing() -> str | None:
    if importlib.util.find_spec("krb5") is None:
        return KRB5_MISSING
    if importlib.util.find_spec("gssapi") is None:
        return GSSAPI_MISSING
    return None


def run(ctx: CheckContext[KerberosSettings], runner: Runner = spawn_worker) -> KerberosResult:
    inventory = ctx.require_inventory()
    cfg = ctx.settings
    realm = inventory.domain.upper()
    if not cfg.enabled:
        return KerberosResult(inventory.domain, realm, "", (), (), enabled=False)
    missing = bindings_missing()
    if missing:
        raise CheckError(f"the Kerberos probe cannot run: {missing}")
    who = t.identity(ctx.domain.bind, cfg, realm)
    shown = f"{who.principal} (enterprise name)" if who.enterprise else who.principal
    names = t.read_host_names(ctx, inventory, shown)
    spn_settings = ctx.domain.settings.get("spn")
    goals = t.spn_targets(
        inventory, spn_settings if isinstance(spn_settings, SpnSettings) else SpnSettings(),
        names.host_names.items(), cfg.spns,
    )
    spns = tuple(g.spn for g in goals)
    # Within the run's hard limit, so the DCs that answered are still reported: the KDC gets
    # kerberos.timeout from the moment its worker is ready, starting the worker what the run has left.
    budget = ctx.timeout * 0.9
    limit = min(cfg.timeout, budget)
    limits = Limits(kdc=limit, total=budget - 0.2)

    def probe(host: str) -> KdcProbe:
        try:
            kdcs = _addresses(ctx, inventory, host)
        except ResolveError as exc:
            return KdcProbe(host, None, None, reason=f"cannot resolve {host}: {exc}")
        request = WorkerRequest(
            realm=realm, kdcs=kdcs, principal=who.principal, enterprise=who.enterprise, spns=spns,
            request_timeout=max(1, int(limit // 3)), password=who.password,
            keytab=str(who.keytab) if who.keytab else None,
        )
        return interpret(host, kdcs[0] if kdcs else None, spns, runner(request, limits), limit)

    outcome = for_each_dc(inventory.hosts, probe, timeout=budget)
    dcs = tuple(value or KdcProbe(host, None, None, reason=error or "no result") for host, (value, error) in
                outcome.items())
    for dc in dcs:
        if dc.reason:
            log.debug("kerberos probe of a DC failed",
                      extra={"domain": ctx.domain.name, "domain_controller": dc.host, "reason": dc.reason})
    result = KerberosResult(inventory.domain, realm, shown, goals, dcs,
                            notes=(names.note,) if names.note else ())
    if dcs and not any(dc.tgt for dc in dcs):
        first = next(dc for dc in dcs if dc.reason)
        raise CheckFailed(f"no KDC issued a TGT to {shown} ({len(dcs)} tried); {first.host}: {first.reason}", result)
    return result


__all__ = ["NAME", "Runner", "WorkerOutput", "WorkerRequest", "interpret", "run", "spawn_worker"]

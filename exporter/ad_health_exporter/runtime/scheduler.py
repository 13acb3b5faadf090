"""Runs each check on its own interval, in worker threads, with a hard time limit.

Scrapes read the latest state and never wait on AD, so the load on the DCs depends on
the configured intervals only, never on how many Prometheus servers scrape.

A Python thread cannot be killed: a run that overstays its limit is recorded as failed
at the limit, left to end on its own (its sockets have their own timeouts), and its late
result is discarded. No new run of that check starts while it still runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..checks.base import CheckError, CheckFailed
from ..ldap import LdapError
from .store import ResultStore, RunRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    domain: str
    check: str
    interval: float
    timeout: float
    run: Callable[[], object]
    after: tuple[str, ...] = ()  # checks of the same domain whose first run this one waits for


@dataclass(frozen=True)
class Execution:
    record: RunRecord
    result: object | None  # what to expose: the result, a failed run's partial result, or None
    straggler: threading.Thread | None  # the worker, if it overstayed the time limit


def execute(job: Job, clock: Callable[[], float] = time.time) -> Execution:
    """Run ``job.run`` once in a worker thread, bounded by ``job.timeout``."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = job.run()
        except BaseException as exc:  # noqa: BLE001 - any failure of a check is that check's, not the process's
            box["error"] = exc

    started, t0 = clock(), time.monotonic()
    worker = threading.Thread(target=target, name=f"check-{job.domain}-{job.check}", daemon=True)
    worker.start()
    worker.join(job.timeout)
    duration = time.monotonic() - t0
    if worker.is_alive():
        timed_out = RunRecord(started, clock(), duration, False, f"did not finish within {job.timeout:g}s")
        return Execution(timed_out, None, worker)
    if "error" in box:
        exc = box["error"]
        partial = exc.partial if isinstance(exc, CheckFailed) else None
        return Execution(RunRecord(started, clock(), duration, False, _reason(exc)), partial, None)
    return Execution(RunRecord(started, clock(), duration, True), box.get("result"), None)


def _reason(exc: object) -> str:
    if isinstance(exc, (CheckError, LdapError)):
        return str(exc)
    # An unexpected exception is a bug: keep the type so it can be reported.
    return f"internal error {type(exc).__name__}: {exc}"


def record_run(store: ResultStore, job: Job, record: RunRecord, result: object | None) -> None:
    """Store a finished run, and log a check that starts failing, fails otherwise, or recovers."""
    old = store.record(job.domain, job.check, record, result)
    was_ok = old.last is None or old.last.ok
    where = {"domain": job.domain, "check": job.check}
    if not record.ok and (was_ok or (old.last is not None and old.last.error != record.error)):
        log.warning("check failed",
                    extra={**where, "reason": record.error, "duration_seconds": round(record.duration, 3)})
    elif record.ok and not was_ok:
        log.info("check recovered", extra=where)
    else:
        log.debug("check ran", extra={**where, "ok": record.ok, "duration_seconds": round(record.duration, 3)})


class Scheduler:
    """One thread per job, each running its check on the job's interval into ``store``."""

    def __init__(
        self, jobs: list[Job], store: ResultStore | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._jobs = jobs
        self._clock = clock
        self.store = store if store is not None else ResultStore((j.domain, j.check) for j in jobs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for job in self._jobs:
            t = threading.Thread(target=self._loop, args=(job,), name=f"schedule-{job.domain}-{job.check}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, job: Job) -> None:
        for dep in job.after:
            while not self.store.has_run(job.domain, dep):
                if self._stop.wait(0.1):
                    return
        straggler: threading.Thread | None = None
        straggler_since = 0.0
        next_at = time.monotonic()
        while not self._stop.is_set():
            if straggler is not None and straggler.is_alive():
                now = self._clock()
                stuck = RunRecord(
                    now, now, 0.0, False, f"previous run has not finished after {now - straggler_since:.0f}s"
                )
                record_run(self.store, job, stuck, None)
            else:
                done = execute(job, self._clock)
                straggler, straggler_since = done.straggler, done.record.started
                record_run(self.store, job, done.record, done.result)
            next_at += job.interval
            now = time.monotonic()
            if next_at < now:  # a run longer than the interval: start the next one a full interval on
                next_at = now + job.interval
            if self._stop.wait(next_at - now):
                return


def run_once(jobs: list[Job], store: ResultStore | None = None, clock: Callable[[], float] = time.time) -> ResultStore:
    """Run every job once, in order, each bounded by its timeout (for the ``check`` command).

    Each run is stored before the next starts, so a later job that reads ``store`` (through
    the closure it was built with) sees the inventory of this pass.
    """
    store = store if store is not None else ResultStore((j.domain, j.check) for j in jobs)
    for job in jobs:
        done = execute(job, clock)
        record_run(store, job, done.record, done.result)
    return store

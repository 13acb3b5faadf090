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
from dataclasses import dataclass, replace
from typing import Callable

from .checks.base import CheckFailed

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
class RunRecord:
    started: float  # Unix time
    finished: float
    duration: float
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class JobState:
    domain: str
    check: str
    last: RunRecord | None = None
    last_success: RunRecord | None = None
    # What the metrics show: the latest successful result, or a newer partial result of a
    # failed run. A failed run without a partial result keeps the older result visible
    # (alerts keep firing) while ad_check_success says the check is failing.
    result: object | None = None


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
        return Execution(RunRecord(started, clock(), duration, False, f"did not finish within {job.timeout:g}s"), None, worker)
    if "error" in box:
        exc = box["error"]
        partial = exc.partial if isinstance(exc, CheckFailed) else None
        return Execution(RunRecord(started, clock(), duration, False, _reason(exc)), partial, None)
    return Execution(RunRecord(started, clock(), duration, True), box.get("result"), None)


def _reason(exc: object) -> str:
    from .checks.base import CheckError
    from .ldap import LdapError

    if isinstance(exc, (CheckError, LdapError)):
        return str(exc)
    # An unexpected exception is a bug: keep the type so it can be reported.
    return f"internal error {type(exc).__name__}: {exc}"


class Scheduler:
    def __init__(self, jobs: list[Job], clock: Callable[[], float] = time.time) -> None:
        self._jobs = jobs
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], JobState] = {(j.domain, j.check): JobState(j.domain, j.check) for j in jobs}
        self._first_done: dict[tuple[str, str], threading.Event] = {key: threading.Event() for key in self._states}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- reading ------------------------------------------------------------------------------

    def states(self) -> list[JobState]:
        with self._lock:
            return list(self._states.values())

    def state(self, domain: str, check: str) -> JobState | None:
        with self._lock:
            return self._states.get((domain, check))

    def result(self, domain: str, check: str) -> object | None:
        state = self.state(domain, check)
        return None if state is None else state.result

    def ready(self) -> bool:
        """True once every check has finished at least one run, successful or not."""
        return all(e.is_set() for e in self._first_done.values())

    # -- running ------------------------------------------------------------------------------

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

    def _record(self, job: Job, record: RunRecord, result: object | None) -> None:
        key = (job.domain, job.check)
        with self._lock:
            old = self._states[key]
            new = replace(old, last=record)
            if record.ok:
                new = replace(new, last_success=record, result=result)
            elif result is not None:
                new = replace(new, result=result)
            self._states[key] = new
        self._first_done[key].set()
        was_ok = old.last is None or old.last.ok
        if not record.ok and (was_ok or old.last.error != record.error):
            log.warning(
                "check failed",
                extra={"domain": job.domain, "check": job.check, "reason": record.error, "duration_seconds": round(record.duration, 3)},
            )
        elif record.ok and not was_ok:
            log.info("check recovered", extra={"domain": job.domain, "check": job.check})
        else:
            log.debug("check ran", extra={"domain": job.domain, "check": job.check, "ok": record.ok, "duration_seconds": round(record.duration, 3)})

    def _loop(self, job: Job) -> None:
        for dep in job.after:
            event = self._first_done.get((job.domain, dep))
            while event is not None and not event.is_set():
                if self._stop.wait(0.1):
                    return
        straggler: threading.Thread | None = None
        straggler_since = 0.0
        next_at = time.monotonic()
        while not self._stop.is_set():
            if straggler is not None and straggler.is_alive():
                now = self._clock()
                self._record(
                    job,
                    RunRecord(now, now, 0.0, False, f"previous run has not finished after {now - straggler_since:.0f}s"),
                    None,
                )
            else:
                done = execute(job, self._clock)
                straggler, straggler_since = done.straggler, done.record.started
                self._record(job, done.record, done.result)
            next_at += job.interval
            now = time.monotonic()
            if next_at < now:  # a run longer than the interval: start the next one a full interval on
                next_at = now + job.interval
            if self._stop.wait(next_at - now):
                return


def run_once(
    jobs: list[Job],
    clock: Callable[[], float] = time.time,
    on_start: Callable[[Scheduler], None] | None = None,
) -> Scheduler:
    """Run every job once, in order, each bounded by its timeout (for the ``check`` command)."""
    scheduler = Scheduler(jobs, clock)
    if on_start is not None:
        on_start(scheduler)
    for job in jobs:
        done = execute(job, clock)
        scheduler._record(job, done.record, done.result)
    return scheduler

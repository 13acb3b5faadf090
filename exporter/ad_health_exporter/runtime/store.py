"""The latest run and result of every (domain, check): what scrapes, the status page and
the ``check`` report read, and the one thing the runs write."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace


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


class ResultStore:
    """Immutable JobStates swapped under a lock: a reader never sees half a run."""

    def __init__(self, keys: Iterable[tuple[str, str]]) -> None:
        self._lock = threading.Lock()
        self._states = {(domain, check): JobState(domain, check) for domain, check in keys}
        self._first_done = {key: threading.Event() for key in self._states}

    def record(self, domain: str, check: str, record: RunRecord, result: object | None) -> JobState:
        """Store one finished run; returns the state it replaced."""
        key = (domain, check)
        with self._lock:
            old = self._states[key]
            new = replace(old, last=record)
            if record.ok:
                new = replace(new, last_success=record, result=result)
            elif result is not None:
                new = replace(new, result=result)
            self._states[key] = new
        self._first_done[key].set()
        return old

    def states(self) -> list[JobState]:
        with self._lock:
            return list(self._states.values())

    def state(self, domain: str, check: str) -> JobState | None:
        with self._lock:
            return self._states.get((domain, check))

    def result(self, domain: str, check: str) -> object | None:
        state = self.state(domain, check)
        return None if state is None else state.result

    def has_run(self, domain: str, check: str) -> bool:
        """True once the check has finished a run, successful or not (an unknown check: True)."""
        event = self._first_done.get((domain, check))
        return event is None or event.is_set()

    def ready(self) -> bool:
        """True once every check has finished at least one run, successful or not."""
        return all(e.is_set() for e in self._first_done.values())

"""Scheduler: a check that raises or hangs marks itself failed; the others keep running."""

from __future__ import annotations

import threading
import time

from ad_health_exporter.checks.base import CheckError, CheckFailed
from ad_health_exporter.runtime.scheduler import Job, Scheduler, execute, record_run, run_once
from ad_health_exporter.runtime.store import JobState, ResultStore, RunRecord
from support.wait import wait_until


def state_of(store: ResultStore, check: str) -> JobState:
    state = store.state("d", check)
    assert state is not None, f"no job {check}"
    return state


def last_run(store: ResultStore, check: str) -> RunRecord | None:
    return state_of(store, check).last


def test_execute_success_failure_partial_and_bug() -> None:
    ok = execute(Job("d", "c", 1, 1, lambda: 42))
    assert ok.record.ok and ok.result == 42 and ok.straggler is None

    def fails() -> object:
        raise CheckError("cannot read X")

    bad = execute(Job("d", "c", 1, 1, fails))
    assert not bad.record.ok and bad.record.error == "cannot read X" and bad.result is None

    def partial() -> object:
        raise CheckFailed("half", partial="some")

    half = execute(Job("d", "c", 1, 1, partial))
    assert not half.record.ok and half.result == "some"

    def bug() -> object:
        empty: dict[str, object] = {}
        return empty["missing"]

    crash = execute(Job("d", "c", 1, 1, bug))
    assert not crash.record.ok and (crash.record.error or "").startswith("internal error KeyError")


def test_hung_check_is_failed_at_its_timeout_and_not_restarted_while_hung() -> None:
    release = threading.Event()
    starts: list[float] = []

    def hangs() -> str:
        starts.append(time.monotonic())
        release.wait(30)
        return "late"

    job = Job("d", "slow", interval=0.3, timeout=0.2, run=hangs)
    quick = Job("d", "quick", interval=0.1, timeout=1, run=lambda: "fine")
    s = Scheduler([job, quick])
    s.start()
    try:
        first = wait_until(lambda: last_run(s.store, "slow"), 10, "a first run of slow", interval=0.02)
        assert not first.ok and "did not finish within 0.2s" in (first.error or "")
        assert 0.15 < first.duration < 1.0
        wait_until(lambda: "has not finished" in ((last_run(s.store, "slow") or first).error or ""), 10,
                   "slow's next run to find the first still running", interval=0.02)
        assert len(starts) == 1  # no pile-up of hung runs
        quick_run = last_run(s.store, "quick")
        assert quick_run is not None and quick_run.ok  # the other check is unaffected
        release.set()
        wait_until(lambda: (last_run(s.store, "slow") or first).ok, 5, "slow to succeed", interval=0.02)
        assert s.store.result("d", "slow") == "late"
        assert len(starts) == 2  # a fresh run after the straggler ended; its result counts
    finally:
        release.set()
        s.stop()


def test_failed_run_keeps_last_result_and_partial_replaces_it() -> None:
    outcomes = iter(
        [
            lambda: "v1",
            lambda: (_ for _ in ()).throw(CheckError("down")),
            lambda: (_ for _ in ()).throw(CheckFailed("half", "v2")),
        ]
    )
    job = Job("d", "c", 1, 1, lambda: next(outcomes)())
    store = run_once([job])
    assert store.result("d", "c") == "v1"
    record_run(store, job, execute(job).record, None)
    st = state_of(store, "c")
    assert st.last is not None and st.last_success is not None
    assert not st.last.ok and st.result == "v1" and st.last_success.ok
    done = execute(job)
    record_run(store, job, done.record, done.result)
    latest = last_run(store, "c")
    assert store.result("d", "c") == "v2" and latest is not None and not latest.ok


def test_ready_after_every_check_ran_once_and_dependency_order() -> None:
    order: list[str] = []
    gate = threading.Event()

    def inventory() -> str:
        gate.wait(5)
        order.append("inventory")
        return "inv"

    def dependent() -> str:
        order.append("spn")
        return "x"

    s = Scheduler([Job("d", "spn", 60, 5, dependent, after=("inventory",)), Job("d", "inventory", 60, 5, inventory)])
    s.start()
    try:
        time.sleep(0.2)
        assert not s.store.ready() and order == []
        gate.set()
        wait_until(s.store.ready, 10, "every check to have run once", interval=0.02)
        assert order == ["inventory", "spn"]
    finally:
        s.stop()

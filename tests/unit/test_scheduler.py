"""Scheduler: a check that raises or hangs marks itself failed; the others keep running."""

from __future__ import annotations

import threading
import time

from ad_health_exporter.checks.base import CheckError, CheckFailed
from ad_health_exporter.runtime.scheduler import Job, Scheduler, execute, record_run, run_once


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_execute_success_failure_partial_and_bug() -> None:
    ok = execute(Job("d", "c", 1, 1, lambda: 42))
    assert ok.record.ok and ok.result == 42 and ok.straggler is None

    def fails():
        raise CheckError("cannot read X")

    bad = execute(Job("d", "c", 1, 1, fails))
    assert not bad.record.ok and bad.record.error == "cannot read X" and bad.result is None

    def partial():
        raise CheckFailed("half", partial="some")

    half = execute(Job("d", "c", 1, 1, partial))
    assert not half.record.ok and half.result == "some"

    def bug():
        return {}["missing"]

    crash = execute(Job("d", "c", 1, 1, bug))
    assert not crash.record.ok and crash.record.error.startswith("internal error KeyError")


def test_hung_check_is_failed_at_its_timeout_and_not_restarted_while_hung() -> None:
    release = threading.Event()
    starts = []

    def hangs():
        starts.append(time.monotonic())
        release.wait(30)
        return "late"

    job = Job("d", "slow", interval=0.3, timeout=0.2, run=hangs)
    quick = Job("d", "quick", interval=0.1, timeout=1, run=lambda: "fine")
    s = Scheduler([job, quick])
    s.start()
    try:
        wait_for(lambda: s.store.state("d", "slow").last is not None)
        first = s.store.state("d", "slow").last
        assert not first.ok and "did not finish within 0.2s" in first.error
        assert 0.15 < first.duration < 1.0
        wait_for(lambda: "has not finished" in (s.store.state("d", "slow").last.error or ""))
        assert len(starts) == 1  # no pile-up of hung runs
        assert s.store.state("d", "quick").last.ok  # the other check is unaffected
        release.set()
        wait_for(lambda: s.store.state("d", "slow").last.ok, timeout=5)
        assert s.store.result("d", "slow") == "late"
        assert len(starts) == 2  # a fresh run after the straggler ended; its result counts
    finally:
        release.set()
        s.stop()


def test_failed_run_keeps_last_result_and_partial_replaces_it() -> None:
    outcomes = iter([lambda: "v1", lambda: (_ for _ in ()).throw(CheckError("down")), lambda: (_ for _ in ()).throw(CheckFailed("half", "v2"))])
    job = Job("d", "c", 1, 1, lambda: next(outcomes)())
    store = run_once([job])
    assert store.result("d", "c") == "v1"
    record_run(store, job, execute(job).record, None)
    st = store.state("d", "c")
    assert not st.last.ok and st.result == "v1" and st.last_success.ok
    done = execute(job)
    record_run(store, job, done.record, done.result)
    assert store.result("d", "c") == "v2" and not store.state("d", "c").last.ok


def test_ready_after_every_check_ran_once_and_dependency_order() -> None:
    order: list[str] = []
    gate = threading.Event()

    def inventory():
        gate.wait(5)
        order.append("inventory")
        return "inv"

    def dependent():
        order.append("spn")
        return "x"

    s = Scheduler([Job("d", "spn", 60, 5, dependent, after=("inventory",)), Job("d", "inventory", 60, 5, inventory)])
    s.start()
    try:
        time.sleep(0.2)
        assert not s.store.ready() and order == []
        gate.set()
        wait_for(s.store.ready)
        assert order == ["inventory", "spn"]
    finally:
        s.stop()

"""Polling until a condition holds: every wait in the tests fails the same way, naming what it awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 1.0,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; fail after ``timeout`` s.

    ``detail`` adds to the failure what the test knows of the cause (a process's log, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    extra = f"\n{detail()}" if detail is not None else ""
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}{extra}")

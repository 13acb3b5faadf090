"""Growing delays after failures, per key, so that a refused or unreachable DC is not hammered.

A failed bind counts towards the bind account's lockout threshold on every DC it is tried
on, and every check of a domain connects on its own schedule: without a shared memory of
recent failures, six checks times N DCs would each retry on every run. ``Backoff``
remembers, per key (a DC, or the domain's credential), how many attempts failed in a row
and when the next attempt is allowed: ``initial * 2**(failures-1)``, capped at ``maximum``.
One success resets the key. The clock is injected so tests need not sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    initial: float  # seconds to wait after the first failure
    maximum: float  # the delay never grows beyond this

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        # min() before the power would overflow for a long outage; cap the exponent instead.
        return min(self.maximum, self.initial * 2 ** min(failures - 1, 32))


@dataclass(frozen=True)
class Blocked:
    """Why an attempt is not made now: safe to log (reasons never hold secrets)."""

    failures: int
    retry_in: float  # seconds
    reason: str  # the last failure's reason


@dataclass(frozen=True)
class _State:
    failures: int
    not_before: float
    reason: str


class Backoff:
    def __init__(self, policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[Hashable, _State] = {}

    def blocked(self, key: Hashable) -> Blocked | None:
        """None if an attempt may be made now, else how long to wait and why."""
        with self._lock:
            state = self._state.get(key)
        if state is None:
            return None
        wait = state.not_before - self._clock()
        if wait <= 0:
            return None
        return Blocked(state.failures, wait, state.reason)

    def failed(self, key: Hashable, reason: str) -> float:
        """Record a failed attempt; returns the delay before the next one is allowed."""
        with self._lock:
            old = self._state.get(key)
            failures = (old.failures if old else 0) + 1
            delay = self.policy.delay(failures)
            self._state[key] = _State(failures, self._clock() + delay, reason)
        return delay

    def succeeded(self, key: Hashable) -> bool:
        """Forget the key's failures; True if it had any (it has recovered)."""
        with self._lock:
            return self._state.pop(key, None) is not None

    def failures(self, key: Hashable) -> int:
        with self._lock:
            state = self._state.get(key)
        return state.failures if state else 0

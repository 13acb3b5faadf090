"""What every check shares: its catalogue entry, the context it runs in, its failure types,
its findings, and what it may ask of the directory.

A check is a plain function ``run(ctx) -> Result`` returning a frozen dataclass. It knows
nothing of Prometheus: its ``series`` function turns results into series, and its
``findings`` function turns them into lines of the ``check`` report.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from ..config import CheckSettings, DomainConfig
from ..ldap import Entry, LdapError, RootDSE, Scope
from ..metrics import Series

if TYPE_CHECKING:
    from ..ldap.resolver import Resolver
    from ..topology import Inventory

Severity = Literal["error", "warning", "info"]
S = TypeVar("S")
R = TypeVar("R")
T = TypeVar("T")


class CheckError(Exception):
    """The check could not run; the message says why (safe to log)."""


class CheckFailed(CheckError):
    """The check could not read everything, but has a partial result worth exposing.

    The scheduler marks the run failed (``ad_check_success`` 0) and still serves
    ``partial``: for example the reachability of known DCs when none of them can
    be read for topology.
    """

    def __init__(self, message: str, partial: object) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    subject: str  # the DC, account, SPN or record the finding is about
    message: str
    fix: str | None = None


class DcConnection(Protocol):
    """What a check does with an open connection to one DC (``ldap.Connection`` is one)."""

    host: str
    address: str

    def __enter__(self) -> DcConnection: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    def root_dse(self, attributes: Iterable[str] = ...) -> RootDSE: ...

    def read(self, dn: str, attributes: Iterable[str], filter_: str = ...) -> Entry | None: ...

    def search(
        self, base: str, filter_: str, attributes: Iterable[str], scope: Scope = ..., page_size: int | None = ...
    ) -> Iterator[Entry]: ...


class DirectoryAccess(Protocol):
    """What a check may ask of a domain's directory (``ldap.Directory`` is one)."""

    @property
    def resolver(self) -> Resolver: ...

    def connect(
        self,
        host: str,
        *,
        bind: bool = ...,
        port: int | None = ...,
        address: str | None = ...,
        timeout: float | None = ...,
    ) -> DcConnection: ...


@dataclass
class CheckContext(Generic[S]):
    domain: DomainConfig
    directory: DirectoryAccess
    inventory: Inventory | None
    settings: S
    interval: float = 60.0  # seconds between runs of this check
    timeout: float = 60.0  # the run's hard time limit; phases budget their waits within it
    clock: Callable[[], float] = time.time

    def require_inventory(self) -> Inventory:
        if self.inventory is None:
            raise CheckError(f"no inventory of {self.domain.name} yet: the inventory check has not succeeded")
        return self.inventory


@dataclass(frozen=True)
class Check(Generic[S, R]):
    """A check's entry in the catalogue: all the exporter needs to know to configure,
    schedule, expose and report it."""

    name: str  # the check label, and the key of its interval, timeout and settings section
    interval: float  # default seconds between runs
    run: Callable[[CheckContext[S]], R]
    series: Callable[[str, R], Iterable[Series]]
    findings: Callable[[R], list[Finding]]
    summary: Callable[[R], list[str]]  # lines that describe what was seen, for the report
    settings: CheckSettings[S] | None = None  # None: the check has no section of its own
    needs_inventory: bool = True


def for_each_dc(
    hosts: Iterable[str],
    work: Callable[[str], T],
    *,
    timeout: float,
    describe_error: Callable[[BaseException], str] | None = None,
) -> dict[str, tuple[T | None, str | None]]:
    """Run ``work(host)`` for every DC concurrently; one slow or dead DC costs only its own slot.

    Returns host -> (value, None) or (None, reason). A DC still running after ``timeout``
    seconds is reported as timed out; its thread is left to finish on its own (sockets
    carry their own timeouts), and the other DCs' results are not held back. An LdapError is
    described by its reason alone: the result is keyed by the host already.
    """
    describe = describe_error or _reason
    hosts = list(dict.fromkeys(hosts))
    results: dict[str, tuple[T | None, str | None]] = {}
    if not hosts:
        return results
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(hosts)), thread_name_prefix="dc")
    try:
        futures = {pool.submit(work, h): h for h in hosts}
        done, not_done = concurrent.futures.wait(futures, timeout=timeout)
        for fut in done:
            host = futures[fut]
            exc = fut.exception()
            results[host] = (None, describe(exc)) if exc is not None else (fut.result(), None)
        for fut in not_done:
            results[futures[fut]] = (None, f"no answer within {timeout:g}s")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {h: results[h] for h in hosts}


def _reason(exc: BaseException) -> str:
    return exc.reason if isinstance(exc, LdapError) else str(exc)

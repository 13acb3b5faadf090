"""Wires configuration, the check catalogue, the scheduler, the result store and the collector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.process_collector import ProcessCollector

from .catalogue import CHECKS
from .checks.base import Check, CheckContext
from .config import Config, DomainConfig
from .ldap import Directory
from .runtime.collector import ExporterCollector
from .runtime.scheduler import Job, Scheduler, run_once
from .runtime.store import ResultStore
from .topology import Inventory
from .version import VERSION

Checks = tuple[Check[Any, Any], ...]


def build_jobs(
    config: Config,
    latest: Callable[[str, str], object | None],
    checks: Checks = CHECKS,
    directories: dict[str, Directory] | None = None,
) -> list[Job]:
    """One job per (domain, check). ``latest(domain, check)`` gives a check the newest inventory.

    The checks of a domain share one Directory, so they share its back-off: a DC or a bind
    account that just failed is not tried again by the next check that runs.
    """
    jobs: list[Job] = []
    for domain in config.domains:
        directory = Directory(domain)
        if directories is not None:
            directories[domain.name] = directory
        for check in checks:
            # A DomainConfig built in code (not read from a file) may leave a check's interval out.
            interval = domain.intervals.get(check.name, check.interval)
            timeout = domain.timeouts.get(check.name, interval)
            jobs.append(
                Job(
                    domain=domain.name,
                    check=check.name,
                    interval=interval,
                    timeout=timeout,
                    run=_runner(domain, directory, check, interval, timeout, latest),
                    after=("inventory",) if check.needs_inventory else (),
                )
            )
    return jobs


def _runner(
    domain: DomainConfig,
    directory: Directory,
    check: Check[Any, Any],
    interval: float,
    timeout: float,
    latest: Callable[[str, str], object | None],
) -> Callable[[], object]:
    def run() -> object:
        inventory = latest(domain.name, "inventory")
        ctx = CheckContext(
            domain=domain,
            directory=directory,
            inventory=inventory if isinstance(inventory, Inventory) else None,
            settings=domain.settings.get(check.name, check.settings.default if check.settings else None),
            interval=interval,
            timeout=timeout,
        )
        return check.run(ctx)

    return run


def _store(config: Config, checks: Checks) -> ResultStore:
    return ResultStore((d.name, c.name) for d in config.domains for c in checks)


class Exporter:
    """The long-running service: a scheduler, the store it fills and the Prometheus registry that reads it."""

    def __init__(self, config: Config, checks: Checks = CHECKS) -> None:
        self.config = config
        self.store = _store(config, checks)
        self.directories: dict[str, Directory] = {}
        self.scheduler = Scheduler(build_jobs(config, self.store.result, checks, self.directories), self.store)
        self.prometheus_registry = CollectorRegistry(auto_describe=False)
        self.prometheus_registry.register(ExporterCollector(self.store, checks, VERSION))
        ProcessCollector(registry=self.prometheus_registry)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the checks: no new runs, open LDAP connections unbound, threads joined (bounded)."""
        self.scheduler.stop(timeout=0)  # no new runs from here on
        for directory in self.directories.values():
            directory.close()  # a run in flight fails fast instead of finishing its searches
        self.scheduler.stop(timeout)


def check_once(config: Config, checks: Checks = CHECKS) -> ResultStore:
    """Run every check of every domain once, in order (inventory first), for the report."""
    store = _store(config, checks)
    directories: dict[str, Directory] = {}
    try:
        return run_once(build_jobs(config, store.result, checks, directories), store)
    finally:
        for directory in directories.values():
            directory.close()

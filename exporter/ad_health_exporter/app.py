"""Wires configuration, checks, scheduler and collector together."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.process_collector import ProcessCollector

from .checks.base import CheckContext
from .collector import ExporterCollector
from .config import Config, DomainConfig
from .inventory import Inventory
from .ldap import Directory
from .registry import CHECKS, CheckDefinition
from .scheduler import Job, Scheduler, run_once
from .version import VERSION


def build_jobs(
    config: Config,
    latest: Callable[[str, str], object | None],
    checks: tuple[CheckDefinition, ...] = CHECKS,
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
        for definition in checks:
            jobs.append(
                Job(
                    domain=domain.name,
                    check=definition.name,
                    interval=domain.interval(definition.name),
                    timeout=domain.timeout(definition.name),
                    run=_runner(domain, directory, definition, latest),
                    after=("inventory",) if definition.needs_inventory else (),
                )
            )
    return jobs


def _runner(
    domain: DomainConfig,
    directory: Directory,
    definition: CheckDefinition,
    latest: Callable[[str, str], object | None],
) -> Callable[[], object]:
    def run() -> object:
        inventory = latest(domain.name, "inventory")
        ctx = CheckContext(
            domain=domain,
            directory=directory,
            inventory=inventory if isinstance(inventory, Inventory) else None,
        )
        return definition.run(ctx)

    return run


class Exporter:
    """The long-running service: a scheduler and the registry that reads from it."""

    def __init__(self, config: Config, checks: tuple[CheckDefinition, ...] = CHECKS) -> None:
        self.config = config
        self.directories: dict[str, Directory] = {}
        # Jobs read the newest inventory through self._latest; nothing runs before start().
        self.scheduler = Scheduler(build_jobs(config, self._latest, checks, self.directories))
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ExporterCollector(self.scheduler, checks, VERSION))
        ProcessCollector(registry=self.registry)

    def _latest(self, domain: str, check: str) -> object | None:
        return self.scheduler.result(domain, check)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the checks: no new runs, open LDAP connections unbound, threads joined (bounded)."""
        self.scheduler.stop(timeout=0)  # no new runs from here on
        for directory in self.directories.values():
            directory.close()  # a run in flight fails fast instead of finishing its searches
        self.scheduler.stop(timeout)


def check_once(config: Config, checks: tuple[CheckDefinition, ...] = CHECKS) -> Scheduler:
    """Run every check of every domain once, in order (inventory first), for the report."""
    holder: dict[str, Scheduler] = {}
    directories: dict[str, Directory] = {}
    # run_once records each job before the next starts, so later checks see the inventory.
    jobs = build_jobs(config, lambda d, c: holder["s"].result(d, c), checks, directories)
    try:
        return run_once(jobs, on_start=lambda s: holder.__setitem__("s", s))
    finally:
        for directory in directories.values():
            directory.close()

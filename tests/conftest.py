"""Fixtures: the real Samba AD lab (once per session) and a real exporter process against it; and
the hook that marks the tests that need them. The helpers they use are in ``support``.

Lab tests need root (network namespaces). Outside CI they skip when not root; in CI
(CI=true) they must run, so a lab that cannot come up fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from support.exporter import RunningExporter, start_exporter
from support.lab import IN_CI, LAB_NAME, LAB_SUBNET, exporter_config, lab_unavailable_reason

if TYPE_CHECKING:  # adlab is importable once support is: it sets the path
    from adlab import Lab, LabInfo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.lab)
        if f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.lab)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The running lab, built once for the whole session and always torn down."""
    reason = lab_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"lab tests must run in CI, but: {reason}")
        pytest.skip(reason)
    from adlab import Lab

    instance = Lab(name=LAB_NAME, subnet=LAB_SUBNET)
    # A failed up() has torn the lab down itself and kept its logs in the state directory.
    instance.up()
    try:
        yield instance
    finally:
        instance.down()


@pytest.fixture(scope="session")
def lab_info(lab: Lab) -> LabInfo:
    return lab.info


@pytest.fixture(scope="session")
def exporter(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningExporter]:
    """One exporter process for the whole session, against the lab, with short intervals."""
    work = tmp_path_factory.mktemp("exporter")
    running = start_exporter(exporter_config(lab.info, work / "config.yml"), work / "exporter.log")
    try:
        yield running
    finally:
        running.stop()

"""The package's import graph runs one way, as docs/architecture.md draws it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ad_health_exporter.catalogue import CHECKS

PACKAGE = Path(__file__).resolve().parents[2] / "exporter" / "ad_health_exporter"

# Each top-level part of the package, with the parts it may import (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "logs": set(),
    "formats": set(),
    "metrics": set(),
    "config": {"formats"},
    "ldap": {"config", "formats"},
    "topology": {"ldap"},
    "web": {"config"},
    "checks": {"config", "ldap", "formats", "metrics", "topology"},
    "catalogue": {"checks"},
    "runtime": {"checks", "ldap", "metrics"},
    "app": {"catalogue", "checks", "config", "ldap", "runtime", "topology", "version"},
    "cli": {"app", "catalogue", "config", "logs", "runtime", "version", "web"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_parts(source: str, rel: Path) -> set[str]:
    """The top-level parts of the package that a module (at ``rel`` in it) imports, at any place in it."""
    tree = ast.parse(source)
    depth_of_module = len(rel.parts) - 1  # 0 for a top-level module
    parts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("ad_health_exporter."):
                    parts.add(node.module.split(".")[1])
                continue
            up = node.level - 1  # how many packages above the module's own
            if up < depth_of_module:
                continue  # inside its own top-level part
            if node.module:
                parts.add(node.module.split(".")[0])
            else:
                parts.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ad_health_exporter."):
                    parts.add(alias.name.split(".")[1])
    return parts


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_only(path: Path) -> None:
    part = _part(path)
    assert part in ALLOWED, f"{part}: a new part of the package; place it in docs/architecture.md and here"
    wrong = _imported_parts(path.read_text(), path.relative_to(PACKAGE)) - ALLOWED[part] - {part}
    assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}, which stand above {part}"


def test_every_check_is_a_folder_that_declares_itself() -> None:
    folders = {p.parent.name for p in (PACKAGE / "checks").glob("*/__init__.py")}
    assert folders == {c.name for c in CHECKS}
    assert len({c.name for c in CHECKS}) == len(CHECKS)
    assert CHECKS[0].name == "inventory" and not CHECKS[0].needs_inventory


def test_no_module_is_a_grab_bag() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def test_the_walker_sees_imports_out_of_a_part_and_not_within_it() -> None:
    source = "from ..checks.base import Finding\nfrom .. import metrics\nfrom . import paging\nfrom .x import y\n"
    assert _imported_parts(source, Path("ldap/directory.py")) == {"checks", "metrics"}
    deep = "from ...topology import Inventory\nfrom ..base import Check\nfrom .probe import run\n"
    assert _imported_parts(deep, Path("checks/time/report.py")) == {"topology"}
    assert _imported_parts("from ad_health_exporter.web import pages\n", Path("app.py")) == {"web"}

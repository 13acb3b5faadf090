"""The check catalogue: every check the exporter runs, in the order it runs and reports them.

Configuration (section keys, default intervals, settings), the scheduler, the collector
and the ``check`` report all derive from this tuple. Adding a check is a folder under
``checks/`` that declares its ``CHECK``, plus one line here.
"""

from __future__ import annotations

from typing import Any

from .checks import accounts, dns, inventory, kerberos, keys, locator, replication, spn, time
from .checks.base import Check

# Inventory first: every other check reads the inventory.
CHECKS: tuple[Check[Any, Any], ...] = (
    inventory.CHECK,
    spn.CHECK,
    accounts.CHECK,
    time.CHECK,
    dns.CHECK,
    replication.CHECK,
    keys.CHECK,
    locator.CHECK,
    kerberos.CHECK,
)

BY_NAME: dict[str, Check[Any, Any]] = {c.name: c for c in CHECKS}

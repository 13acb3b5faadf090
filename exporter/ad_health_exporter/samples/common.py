"""Small helpers shared by the samples modules."""

from __future__ import annotations


def flag(value: bool) -> str:
    """Booleans in label values are spelled as the contract says: "true"/"false"."""
    return "true" if value else "false"

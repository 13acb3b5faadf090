"""The single exception type raised by the pure decoders."""

from __future__ import annotations


class DecodeError(ValueError):
    """A value read from a directory could not be decoded.

    Every decoder in :mod:`ad_health_exporter.formats` raises this, and only
    this, on bad input, so a caller can skip one malformed value (and count it)
    without catching unrelated errors.  It subclasses :class:`ValueError` so
    generic handlers still see it.

    The message names the structure, the field and the byte offset (when the
    input is binary) so an operator can find the bad value, e.g.
    ``repsFrom: field other_info_offset at offset 0x24: points to byte 600,
    beyond the 484-byte value``.
    """

    def __init__(
        self,
        structure: str,
        problem: str,
        *,
        field: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.structure = structure
        self.problem = problem
        self.field = field
        self.offset = offset
        where = structure
        if field is not None:
            where += f": field {field}"
        if offset is not None:
            where += f" at offset {offset:#x}"
        super().__init__(f"{where}: {problem}")

"""The bounds a spreadsheet is read within, and the refusal a file gets for being unreadable.

`SheetLimits` holds every bound (the registry's settings fill it: `RegistrySettings.sheet_limits`);
its defaults are those settings' defaults. A file over a bound is a `SheetError` naming the bound
and what was measured, in words an office understands and (in `context`) for a machine.
`ReadClock` bounds the time spent reading: only the time inside the reader counts, not the time
a caller spends with the rows between two reads (an import writes each chunk in between).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from libs.common import refusals

T = TypeVar("T")

MB = 1024 * 1024


class SheetError(refusals.Invalid):
    """A file that cannot be read as a sheet; `reason` says why in words an office understands."""

    def __init__(self, reason: str) -> None:
        super().__init__("file", reason, message=reason)


class OverLimit(SheetError):
    """A file over one of the bounds: `context` names the setting, its value and what was found."""

    def __init__(self, reason: str, *, limit: str, maximum: float, found: float) -> None:
        super().__init__(reason)
        self.context = {"limit": limit, "max": maximum, "found": found}


@dataclass(frozen=True)
class SheetLimits:
    """Every bound of one read. A real survey has up to 100,000 rows and a few dozen columns."""

    max_bytes: int = 50 * MB  # the file as uploaded (an XLSX is compressed)
    max_rows: int = 250_000  # the last row of a sheet or CSV record, header and titles included
    max_columns: int = 200  # the rightmost column (GR) or fields in one CSV record
    max_cells: int = 10_000_000  # rows x columns of the sheet: ~32 bytes each in the reader
    max_unpacked_bytes: int = 500 * MB  # an XLSX's parts unpacked, declared and as read
    max_parts: int = 1000  # entries in an XLSX's zip archive
    max_ratio: int = 100  # unpacked / packed size of one part (over 1 MB unpacked)
    max_line_bytes: int = 1 * MB  # one line of a CSV
    max_seconds: float = 120.0  # time spent reading the file, start to end

    def with_max_bytes(self, max_bytes: int | None) -> SheetLimits:
        if max_bytes is None:
            return self
        return replace(self, max_bytes=max_bytes)


def check_file_size(path: Path, limits: SheetLimits) -> None:
    """Refuse a file over `limits.max_bytes`, or an empty one, before a byte of it is read."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise OverLimit(
            f"the file is {size / 1e6:.1f} MB, over the limit of {limits.max_bytes / 1e6:.1f} MB: "
            "split it into smaller files",
            limit="import_max_bytes",
            maximum=limits.max_bytes,
            found=size,
        )
    if size == 0:
        raise SheetError("the file is empty")


def megabytes(size: float) -> str:
    return f"{size / MB:.1f} MB"


class ReadClock:
    """The time spent inside a reader, against `limits.max_seconds`."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds
        self.spent = 0.0
        self._since: float | None = None

    def check(self) -> None:
        """Refuse once the time spent so far (the current read included) is over the bound."""
        spent = self.spent
        if self._since is not None:
            spent += time.monotonic() - self._since
        if spent > self.max_seconds:
            raise OverLimit(
                f"reading the file took more than {self.max_seconds:g} s, the limit: "
                "split it into smaller files",
                limit="sheet_max_seconds",
                maximum=self.max_seconds,
                found=round(spent, 1),
            )

    def timed(self, items: Iterator[T]) -> Iterator[T]:
        """`items`, each read counted against the bound (the caller's time between is not)."""
        while True:
            self._since = time.monotonic()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                self.spent += time.monotonic() - self._since
                self._since = None
            self.check()
            yield item

"""Reading the offices' spreadsheets (CSV and XLSX) as rows of strings, streamed, within limits.

`iter_sheet(path, filename)` yields the header row first, then every following row as a list of
stripped strings (numbers without a spurious `.0`, dates in ISO form); a blank row comes as `[]`
so a caller that counts rows keeps the office's row numbers. `iter_numbered` yields the same rows
with their row number as the office sees it (the line of a CSV record, the row of an XLSX sheet).
`iter_rows` yields every row from the first, numbered, for a caller that finds the header itself
(an import's header may stand below a title).

Everything a file can get wrong is a `SheetError` whose `.reason` an office understands: a
refusal of the `file` field (422 when a request brings the file, a rejected job when a worker
reads it later). Every read is bounded by `SheetLimits` (the registry's `sheet_*` settings):
the file's size, its rows, columns and cells, what an XLSX unpacks to, and the time spent
reading; a file over one is an `OverLimit` naming the limit and what was measured.

* CSV (`csv_rows`): UTF-8 (with or without BOM) or GB18030 (which covers GBK and GB2312),
  comma or tab, decoded and parsed as it is read: a 50 MB file never sits in memory.
* XLSX (`xlsx_rows`): python-calamine reads the first visible worksheet, once `xlsx_check` has
  read every part calamine will read, streaming from the zip, and found it within the limits,
  without formulas (calamine would hand over the values the office's Excel cached), macros or
  DTDs. Calamine allocates a sheet as one grid in Rust, where running out of memory aborts the
  process: no file reaches it unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from services.registry.sheets.csv_rows import csv_rows
from services.registry.sheets.limits import (
    OverLimit,
    ReadClock,
    SheetError,
    SheetLimits,
    check_file_size,
)
from services.registry.sheets.xlsx_rows import xlsx_rows

__all__ = [
    "SUPPORTED_SUFFIXES",
    "OverLimit",
    "SheetError",
    "SheetLimits",
    "iter_numbered",
    "iter_rows",
    "iter_sheet",
    "sheet_kind",
]

SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


def sheet_kind(filename: str) -> str:
    """`csv` or `xlsx` by the file's name, or a SheetError naming the types accepted."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in (".xls", ".et", ".wps", ".ods", ".numbers"):
        raise SheetError(
            f"unsupported file type {suffix}: save the sheet as .xlsx (Excel 2007 or later) "
            "or as .csv and upload that"
        )
    shown = suffix or "(no extension)"
    raise SheetError(f"unsupported file type {shown}: upload a .csv or .xlsx file")


def iter_sheet(
    path: Path,
    filename: str,
    *,
    max_bytes: int | None = None,
    limits: SheetLimits | None = None,
) -> Iterator[list[str]]:
    """The header row, then each data row (blank rows as `[]`), as lists of strings."""
    for _, cells in iter_numbered(path, filename, max_bytes=max_bytes, limits=limits):
        yield cells


def iter_numbered(
    path: Path,
    filename: str,
    *,
    max_bytes: int | None = None,
    limits: SheetLimits | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for the header row (leading blank rows skipped) and every row after."""
    return _from_header(iter_rows(path, filename, max_bytes=max_bytes, limits=limits))


def iter_rows(
    path: Path,
    filename: str,
    *,
    max_bytes: int | None = None,
    limits: SheetLimits | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row of the sheet, the first included; a blank row as `[]`.

    `limits` bound the read (the defaults when None; `max_bytes` overrides their file size).
    The file's type, size and emptiness are checked at once; what is wrong inside it, an XLSX
    over a limit included, is raised when the first row is asked for."""
    limits = (limits or SheetLimits()).with_max_bytes(max_bytes)
    kind = sheet_kind(filename)
    check_file_size(path, limits)
    clock = ReadClock(limits.max_seconds)
    rows = csv_rows(path, limits) if kind == "csv" else xlsx_rows(path, limits, clock)
    return ((number, _trim(cells) if any(cells) else []) for number, cells in clock.timed(rows))


def _from_header(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    header: tuple[int, list[str]] | None = None
    for number, cells in rows:
        if header is None:
            if not any(cells):
                continue
            if not any(_is_column_name(cell) for cell in cells):
                raise SheetError(
                    f"no header row: row {number} holds data, not column names; "
                    "the first row must name the columns"
                )
            header = (number, cells)
            yield header
            continue
        yield number, cells
    if header is None:
        raise SheetError("the file is empty: it has no header row and no data")


def _is_column_name(cell: str) -> bool:
    """Chinese text, or words without digits: not a number, a date or a code."""
    return bool(_CJK.search(cell)) or (bool(_LETTER.search(cell)) and not _DIGIT.search(cell))


def _trim(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]

"""A provincial platform's export, read for reconciliation: the profile's XLSX or CSV (headings
in Chinese as the export writes them, or the profile's keys; a title row above is skipped) or
JSON Lines (one record per line, keyed as the profile). Bounded as every upload is."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from services.registry.domain.provincial import KEYS, PlatformRow, keys_of_headings, platform_row
from services.registry.sheets import SheetError, SheetLimits, iter_rows
from services.registry.sheets.limits import OverLimit, check_file_size

JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: Rows read before a heading row must have turned up.
HEADING_SEARCH_ROWS = 10


def read_platform_file(path: Path, filename: str, limits: SheetLimits) -> list[PlatformRow]:
    """Every record of the file, or a SheetError (a 422 on `file`) saying what is wrong."""
    if filename.lower().endswith(JSONL_SUFFIXES):
        rows = list(_jsonl_rows(path, limits))
    else:
        rows = list(_sheet_rows(path, filename, limits))
    if not rows:
        raise SheetError("the file holds no records")
    return rows


def _sheet_rows(path: Path, filename: str, limits: SheetLimits) -> Iterator[PlatformRow]:
    keys: list[str | None] | None = None
    for number, cells in iter_rows(path, filename, limits=limits):
        if keys is None:
            found = keys_of_headings(cells)
            if "credit_code" in found and sum(k is not None for k in found) >= 2:
                keys = found
            elif number >= HEADING_SEARCH_ROWS:
                raise SheetError(
                    "no heading row with 法人单位统一社会信用代码 (or credit_code) in the first "
                    f"{HEADING_SEARCH_ROWS} rows: upload the platform's export in the profile"
                )
            continue
        if cells:
            values = {k: cells[i] for i, k in enumerate(keys) if k is not None and i < len(cells)}
            yield platform_row(number, values)
    if keys is None:
        raise SheetError("no heading row with 法人单位统一社会信用代码 (or credit_code)")


def _jsonl_rows(path: Path, limits: SheetLimits) -> Iterator[PlatformRow]:
    check_file_size(path, limits)
    deadline = time.monotonic() + limits.max_seconds
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if time.monotonic() > deadline:
                raise OverLimit(
                    f"reading the file took more than {limits.max_seconds:g} s, the limit",
                    limit="sheet_max_seconds",
                    maximum=limits.max_seconds,
                    found=limits.max_seconds,
                )
            if number > limits.max_rows:
                raise OverLimit(
                    f"more than {limits.max_rows} lines",
                    limit="sheet_max_rows",
                    maximum=limits.max_rows,
                    found=number,
                )
            if len(line) > limits.max_line_bytes:
                raise SheetError(f"line {number} is longer than {limits.max_line_bytes} bytes")
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except ValueError as exc:  # not JSON, or not UTF-8
                raise SheetError(f"line {number} is not a JSON object") from exc
            if not isinstance(values, dict):
                raise SheetError(f"line {number} is not a JSON object")
            if not any(key in values for key in KEYS):
                raise SheetError(f"line {number} has none of the profile's fields")
            yield platform_row(number, values)

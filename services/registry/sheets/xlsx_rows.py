"""XLSX files as rows of strings, read by python-calamine once `xlsx_check` has let them through.

Calamine reads the first visible worksheet (its cells live in Rust, rows are handed over one at a
time); `check_workbook` has found that sheet within the limits and free of formulas and macros
before calamine opens the file, and the sheets calamine lists must be the ones it checked.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import python_calamine

from services.registry.sheets.limits import ReadClock, SheetError, SheetLimits
from services.registry.sheets.xlsx_check import WorkbookPlan, check_workbook


def xlsx_rows(path: Path, limits: SheetLimits, clock: ReadClock) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row of the first visible worksheet, from row 1."""
    plan = check_workbook(path, limits, clock)
    workbook = _open(path)
    try:
        _same_sheets(workbook, plan)
        try:
            sheet = workbook.get_sheet_by_index(plan.index)
            rows = sheet.iter_rows()
        except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException
            raise _unreadable(exc, f"sheet {plan.sheet.name!r} cannot be read") from None
        # iter_rows starts at the sheet's first row (row 1), not at its first used row.
        number = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except BaseException as exc:  # noqa: BLE001
                raise _unreadable(exc, f"sheet {plan.sheet.name!r} cannot be read") from None
            number += 1
            yield number, [_cell(value) for value in row]
    finally:
        workbook.close()


def _open(path: Path) -> Any:
    """The workbook opened as XLSX: calamine guesses the format of a file not named `.xlsx`
    (and would try XLSB and ODS readers this module never checked), so such a file is opened
    through a link that is."""
    try:
        if path.suffix.lower() == ".xlsx":
            return python_calamine.CalamineWorkbook.from_path(str(path))
        with tempfile.TemporaryDirectory(prefix="pb-sheet-") as folder:
            link = Path(folder) / "workbook.xlsx"
            os.symlink(path.resolve(), link)
            return python_calamine.CalamineWorkbook.from_path(str(link))  # open: link may go
    except python_calamine.PasswordError:
        raise SheetError("the workbook is password-protected: remove the password") from None
    except BaseException as exc:  # noqa: BLE001 - calamine raises several kinds for a broken file
        raise _unreadable(exc, "the .xlsx workbook cannot be read") from None


def _unreadable(exc: BaseException, what: str) -> BaseException:
    """A SheetError for what calamine raised, a Rust panic included; anything else (a
    cancellation, an interrupt) goes on as it was."""
    if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":
        return SheetError(f"{what} ({type(exc).__name__})")
    return exc


def _same_sheets(workbook: Any, plan: WorkbookPlan) -> None:
    listed = [
        (
            str(meta.name),
            meta.typ == python_calamine.SheetTypeEnum.WorkSheet,
            meta.visible == python_calamine.SheetVisibleEnum.Visible,
        )
        for meta in workbook.sheets_metadata
    ]
    checked = [(s.name, s.kind == "worksheet", s.visible) for s in plan.sheets]
    if listed != checked:
        raise SheetError(
            "the .xlsx workbook cannot be read: its list of sheets reads differently "
            "from one reader to another; save it again in Excel or WPS"
        )


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()

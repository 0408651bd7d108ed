"""The provincial profile as an XLSX workbook: a title row, the Chinese headings of `PROFILE`,
then one row per organisation, written in write-only mode (rows go to disk as they come)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from libs.common.text import escape_refused
from services.registry.domain.provincial import PROFILE, PROFILE_VERSION, labelled

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Rows above the heading row (the title): a reconciliation finds the heading row by its names.
TITLE_ROWS = 1


class ProfileWorkbook:
    def __init__(self, region_code: str, region_name: str, day: date) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheet: WriteOnlyWorksheet = self.workbook.create_sheet("组织信息")
        for index in range(1, len(PROFILE) + 1):
            self.sheet.column_dimensions[get_column_letter(index)].width = 18
        self.sheet.freeze_panes = f"A{TITLE_ROWS + 2}"
        where = f"{region_name}（{region_code}）" if region_name else region_code
        title = f"两新组织信息（省级平台格式 v{PROFILE_VERSION}）　地区：{where}　日期：{day}"
        self.sheet.append([self._text(title, Font(bold=True))])
        self.sheet.append([self._text(f.heading, Font(bold=True)) for f in PROFILE])
        self.rows = 0

    def _text(self, value: str, font: Font | None = None) -> Cell:
        """Always a text cell (never a formula), with what XML cannot hold escaped."""
        cell = WriteOnlyCell(self.sheet, value=escape_refused(value))
        cell.data_type = "s"
        if font is not None:
            cell.font = font
        return cell

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        for values in records:
            self.rows += 1
            self.sheet.append(
                [self._text(v) if isinstance(v, str) else v for v in labelled(values)]
            )

    def save(self, path: Path) -> None:
        auto_filter = self.sheet.auto_filter  # type: ignore[attr-defined]
        heading = TITLE_ROWS + 1
        auto_filter.ref = f"A{heading}:{get_column_letter(len(PROFILE))}{heading + self.rows}"
        self.workbook.save(path)

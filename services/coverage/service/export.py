"""The gap list as an XLSX workbook (目标对象清单), written row by row in write-only mode.

openpyxl's write-only worksheet writes each appended row to a temporary file at once, so a
province-sized list (100k+ rows) never sits in memory as cells; the caller feeds it chunk by
chunk and saves it to a file, which is then streamed to the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from services.coverage.domain.gaps import Gap, action_label, reason_label

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

KIND_LABELS = {"enterprise": "企业", "social_organization": "社会组织"}

#: (heading, column width) in the order an office's 目标对象清单 has them.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 8),
    ("统一社会信用代码", 22),
    ("组织名称", 40),
    ("所在地区代码", 14),
    ("所在乡镇（街道）代码", 14),
    ("行业代码", 10),
    ("组织类型", 10),
    ("从业人数", 10),
    ("正式党员", 10),
    ("预备党员", 10),
    ("党建指导员", 10),
    ("群团组织", 10),
    ("台账是否完整", 12),
    ("未覆盖原因", 36),
    ("下一步措施", 28),
    ("全部措施", 60),
)
HEADINGS = tuple(heading for heading, _ in COLUMNS)
_TEXT_COLUMNS = frozenset({1, 2, 3, 4, 5})  # given as text even when they look like formulas


class GapWorkbook:
    """One sheet, a heading row, then one row per gap in the order given."""

    def __init__(self, min_full_members: int, title: str = "目标对象清单") -> None:
        self.min_full_members = min_full_members
        self.workbook = Workbook(write_only=True)
        self.sheet: WriteOnlyWorksheet = self.workbook.create_sheet(title)
        for index, (_, width) in enumerate(COLUMNS):
            letter = chr(ord("A") + index)
            self.sheet.column_dimensions[letter].width = width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        self.sheet.append([self._text(h, font=bold) for h in HEADINGS])
        self.rows = 0

    def _text(self, value: str, font: Font | None = None) -> Cell:
        # a name or code beginning with "=" must stay text, never become a formula
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.data_type = "s"
        if font is not None:
            cell.font = font
        return cell

    def append(self, gaps: Sequence[tuple[Gap, str]]) -> None:
        """Add gaps with their township codes, numbering rows on from the last."""
        for gap, township_code in gaps:
            self.rows += 1
            f = gap.facts
            values: list[Any] = [
                self.rows,
                f.credit_code,
                f.name,
                f.region_code,
                township_code,
                f.industry_code or "",
                KIND_LABELS.get(f.kind, f.kind),
                f.staff_count,
                f.full_members,
                f.probationary_members,
                f.instructor_count,
                f.mass_organization_count,
                "是" if f.ledger_complete else "否",
                "；".join(reason_label(r, self.min_full_members) for r in gap.reasons),
                action_label(gap.next_action),
                "；".join(action_label(a) for a in gap.next_actions),
            ]
            self.sheet.append(
                [self._text(str(v)) if i in _TEXT_COLUMNS else v for i, v in enumerate(values)]
            )

    def save(self, path: Path) -> None:
        """Write the workbook out (compressing the sheet: run it off the event loop)."""
        self.workbook.save(path)

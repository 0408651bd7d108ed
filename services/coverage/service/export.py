"""The gap list as an XLSX workbook (目标对象清单), written row by row in write-only mode.

openpyxl's write-only worksheet writes each appended row to a temporary file at once, so a
province-sized list (100k+ rows) never sits in memory as cells; the caller feeds it chunk by
chunk and saves it to a file, which is then streamed to the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from libs.common.divisions import name_of
from libs.common.text import escape_refused
from services.coverage.domain.gaps import Gap, action_label, reason_label

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

KIND_LABELS = {"enterprise": "企业", "social_organization": "社会组织"}
METRIC_LABELS = {"organization": "党的组织覆盖", "work": "党的工作覆盖"}
SCOPE_LABELS = {
    "with_members": "有党员的组织",
    "three_haves": "“三有”组织",
    "all_managed": "纳入管理的全部组织（不含停业、注销、吊销）",
    "all_registered": "在册全部组织（含停业，不含注销、吊销）",
}
THREE_HAVES_LABELS = {True: "是", False: "否", None: "未知"}
STATUS_LABELS = {"operating": "在营", "suspended": "停业", "closed": "注销", "revoked": "吊销"}
#: Where the names of regions and townships come from (the published division data).
NAMES_NOTE = "地区、乡镇（街道）名称取自民政部国家地名信息库统计用区划；村（社区）级仅列代码"


@dataclass(frozen=True)
class ListTitle:
    """What the title block above the table says: which list, where, by which rule, when."""

    region_code: str
    metric: str
    scope: str
    day: date


#: (heading, column width) in the order an office's 目标对象清单 has them.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号", 8),
    ("统一社会信用代码", 22),
    ("组织名称", 40),
    ("所在地区代码", 14),
    ("所在地区", 16),
    ("所在乡镇（街道）代码", 14),
    ("所在乡镇（街道）", 16),
    ("行业代码", 10),
    ("组织类型", 10),
    ("从业人数", 10),
    ("正式党员", 10),
    ("预备党员", 10),
    ("党建指导员", 10),
    ("群团组织", 10),
    ("台账是否完整", 12),
    ("“三有”", 8),
    ("经营状态", 10),
    ("未建党组织原因", 30),
    ("未覆盖原因", 36),
    ("下一步措施", 28),
    ("全部措施", 60),
)
HEADINGS = tuple(heading for heading, _ in COLUMNS)


#: Rows above the heading row: the title, what the list is, the note on codes.
TITLE_ROWS = 3
HEADING_ROW = TITLE_ROWS + 1


def _named(code: str) -> str:
    """古店镇（140212101）, or the code alone where the published data has no name."""
    name = name_of(code)
    return f"{name}（{code}）" if name else code


class GapWorkbook:
    """One sheet: a title block (the list, region, metric, scope and day), a heading row with
    an autofilter, then one row per gap in the order given."""

    def __init__(
        self, min_full_members: int, title: ListTitle, sheet_title: str = "目标对象清单"
    ) -> None:
        self.min_full_members = min_full_members
        self.workbook = Workbook(write_only=True)
        self.sheet: WriteOnlyWorksheet = self.workbook.create_sheet(sheet_title)
        for index, (_, width) in enumerate(COLUMNS, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = f"A{HEADING_ROW + 1}"
        bold = Font(bold=True)
        metric = METRIC_LABELS.get(title.metric, title.metric)
        self.sheet.append([self._text(f"目标对象清单（{metric}）", font=Font(bold=True, size=14))])
        self.sheet.append(
            [
                self._text(
                    f"地区：{_named(title.region_code)}　指标：{metric}（{title.metric}）　"
                    f"口径：{SCOPE_LABELS.get(title.scope, title.scope)}（{title.scope}）　"
                    f"日期：{title.day.isoformat()}"
                )
            ]
        )
        self.sheet.append([self._text(NAMES_NOTE)])
        self.sheet.append([self._text(h, font=bold) for h in HEADINGS])
        self.rows = 0

    def _text(self, value: str, font: Font | None = None) -> Cell:
        """A text cell whatever the text: one beginning with = + - @ stays text, never a
        formula (openpyxl would make it one), and what a sheet's XML cannot hold (U+0000,
        BEL, U+FFFF, ... from data older than the API's checks, or from events) is written
        out as [U+XXXX] rather than breaking the whole workbook."""
        cell = WriteOnlyCell(self.sheet, value=escape_refused(value))
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
                name_of(f.region_code) or "",
                township_code,
                name_of(township_code) or "",
                f.industry_code or "",
                KIND_LABELS.get(f.kind, f.kind),
                f.staff_count,
                f.full_members,
                f.probationary_members,
                f.instructor_count,
                f.mass_organization_count,
                "是" if f.ledger_complete else "否",
                THREE_HAVES_LABELS[f.three_haves],
                STATUS_LABELS.get(f.operating_status, f.operating_status),
                f.no_branch_reason or "",
                "；".join(reason_label(r, self.min_full_members) for r in gap.reasons),
                action_label(gap.next_action),
                "；".join(action_label(a) for a in gap.next_actions),
            ]
            self.sheet.append([self._text(v) if isinstance(v, str) else v for v in values])

    def save(self, path: Path) -> None:
        """Write the workbook out (compressing the sheet: run it off the event loop), with an
        autofilter over the heading row and every gap."""
        last = get_column_letter(len(COLUMNS))
        # set up by Worksheet._setup, which the write-only sheet runs too (not in its stubs);
        # written after the rows when the sheet closes
        auto_filter = self.sheet.auto_filter  # type: ignore[attr-defined]
        auto_filter.ref = f"A{HEADING_ROW}:{last}{HEADING_ROW + self.rows}"
        self.workbook.save(path)

"""A name no API accepts any more can still reach coverage: in an event from before the checks,
or kept in its store. The gap XLSX of its township and of every region above it still opens,
with the name escaped and as text, never a formula."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from services.coverage.service.export import HEADING_ROW, HEADINGS
from tests.coverage.feed import ProducerStream, registered
from tests.coverage.test_gaps_store import fact_row, insert_rows
from tests.coverage.test_rates_api import running
from tests.harness import RunningService, wait_for

__all__ = ["running"]  # the fixture, shared with the rates tests

#: Every character a sheet's XML cannot hold or a reader must not be shown raw, after a
#: leading "=" that would make the cell a formula.
HOSTILE_NAME = '=HYPERLINK("x")\x00\x07\x1b\x0b\x0c\x1f\uffff\ufffe\u202e\u2066大同物流\U0010ffff'
SHOWN_NAME = (
    '=HYPERLINK("x")[U+0000][U+0007][U+001B][U+000B][U+000C][U+001F][U+FFFF][U+FFFE]'
    "[U+202E][U+2066]大同物流[U+10FFFF]"
)
HOSTILE_REASON = "+出资人\x08未同意\u202d"
SHOWN_REASON = "+出资人[U+0008]未同意[U+202D]"


async def _xlsx_rows(service: RunningService, region: str) -> list[list[Any]]:
    response = await service.client.get(
        f"/v1/coverage/{region}/gaps.xlsx", headers=service.as_region(region)
    )
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    column = HEADINGS.index("组织名称")
    rows = []
    for cells in sheet.iter_rows(min_row=HEADING_ROW + 1):
        assert cells[column].data_type == "s"  # text, not a formula
        rows.append([c.value for c in cells])
    return rows


async def test_hostile_text_from_events_is_escaped_in_every_export(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    hostile = registered(1, full_members=4, name=HOSTILE_NAME)
    plain = registered(2, full_members=3)
    await stream.publish(hostile, plain)

    async def both_listed() -> bool:
        found = await service.client.get(
            "/v1/coverage/140212/gaps", headers=service.as_region("140212")
        )
        return found.status_code == 200 and found.json()["total"] == 2

    await wait_for(both_listed, timeout=20)
    name = HEADINGS.index("组织名称")
    for region in ("140212101", "140212", "1402", "14"):
        rows = await _xlsx_rows(service, region)
        by_code = {row[HEADINGS.index("统一社会信用代码")]: row for row in rows}
        assert by_code[hostile.credit_code][name] == SHOWN_NAME, region
        assert by_code[plain.credit_code][name] == plain.name


async def test_hostile_text_already_in_the_store_is_escaped(coverage: RunningService) -> None:
    """Rows written before any check (PostgreSQL never held U+0000; SQLite may have)."""
    sqlite = coverage.runtime.db.engine.dialect.name == "sqlite"
    name = HOSTILE_NAME if sqlite else HOSTILE_NAME.replace("\x00", "")
    shown = SHOWN_NAME if sqlite else SHOWN_NAME.replace("[U+0000]", "")
    await insert_rows(
        coverage.runtime.db,
        [fact_row(1, full_members=4, name=name, no_branch_reason=HOSTILE_REASON)],
    )
    for region in ("140212101", "140212"):
        [row] = await _xlsx_rows(coverage, region)
        assert row[HEADINGS.index("组织名称")] == shown
        assert row[HEADINGS.index("未建党组织原因")] == SHOWN_REASON


async def test_nul_in_a_query_or_path_is_422_on_every_store(coverage: RunningService) -> None:
    headers = coverage.as_region("140212")
    calls = [
        ("/v1/coverage/140212/gaps", {"area_id": "a\x00"}, "area_id"),
        ("/v1/coverage/140212/gaps", {"sort": "\x00name"}, "sort"),
        ("/v1/coverage/140212/gaps.xlsx", {"industry": "I\x00"}, "industry"),
        ("/v1/coverage/140212", {"area": "\x00"}, "area"),
        ("/v1/coverage/1402%0012", {}, "path"),
        ("/v1/projection/organizations/org-1%00", {}, "path"),
    ]
    for path, params, field in calls:
        response = await coverage.client.get(path, params=params, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"] == [
            {"field": field, "reason": "contains a control character (U+0000)"}
        ]

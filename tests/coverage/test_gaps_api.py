"""The gap list, its XLSX export and joint-branch proposals over real HTTP, on both stores."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from services.coverage.service import proposals
from services.coverage.service.export import HEADING_ROW, HEADINGS, XLSX_MEDIA_TYPE
from tests import pages
from tests.coverage.test_gaps_store import fact_row, insert_rows
from tests.harness import SQLITE_ONLY, RunningService

COUNTY = "140212"


def rows() -> list[dict[str, Any]]:
    """A county with a few kinds of gap, one covered organisation and one in another county."""
    return [
        fact_row(1, full_members=4, staff_count=80, name='=HYPERLINK("x")'),
        fact_row(2, full_members=1, industry_code="I6513", latitude=40.0, longitude=113.0),
        fact_row(3, full_members=2, industry_code="I6513", latitude=40.001, longitude=113.0),
        fact_row(
            4, probationary_members=1, industry_code="I6421", latitude=40.0, longitude=113.001
        ),
        fact_row(5, full_members=1, ledger_complete=False, staff_count=None),
        fact_row(6, full_members=1, branch_id="b1", branch_kind="joint"),  # covered
        fact_row(7, instructor_count=1),  # no members: a gap only in the three_haves scope
        fact_row(8, "140212102001", full_members=2, kind="social_organization"),
        fact_row(9, "140213001001", full_members=1),  # another county
    ]


async def get(service: RunningService, path: str, region: str = COUNTY, **params: Any) -> Any:
    return await service.client.get(path, params=params, headers=service.as_region(region))


async def test_the_gap_list_with_reasons_actions_and_filters(coverage: RunningService) -> None:
    await insert_rows(coverage.runtime.db, rows())
    response = await get(coverage, f"/v1/coverage/{COUNTY}/gaps")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metric"] == "organization"
    assert body["scope"] == "with_members"
    assert body["total"] == 6
    by_id = {item["organization_id"][-1]: item for item in body["items"]}
    assert set(by_id) == {"1", "2", "3", "4", "5", "8"}
    assert by_id["1"]["reason"] == "eligible_without_branch"
    assert by_id["1"]["next_action"] == "form_standalone_branch"
    assert by_id["1"]["next_action_label"] == "单独组建党支部（应建尽建）"
    assert by_id["2"]["reason"] == "too_few_full_members"
    assert by_id["2"]["next_actions"] == [
        "join_or_form_joint_branch",
        "assign_instructor",
        "set_up_mass_organization",
    ]
    assert by_id["4"]["reason"] == "probationary_members_only"
    assert by_id["5"]["next_actions"][-1] == "complete_ledger"
    assert body["next_cursor"] is None

    async def ids(**params: Any) -> list[str]:
        found = await get(coverage, f"/v1/coverage/{COUNTY}/gaps", **params)
        assert found.status_code == 200, found.text
        return [item["organization_id"][-1] for item in found.json()["items"]]

    assert await ids(reason="eligible_without_branch") == ["1"]
    assert await ids(next_action="complete_ledger") == ["5"]
    assert await ids(kind="social_organization") == ["8"]
    assert await ids(township="140212102") == ["8"]
    assert await ids(industry="i65") == ["2", "3"]
    assert await ids(size_band="50-299") == ["1"]
    assert await ids(sort="-full_members", limit=2) == ["1", "8"]
    # work coverage, all managed organisations: the one with an instructor is covered
    work = await get(coverage, f"/v1/coverage/{COUNTY}/gaps", metric="work")
    assert work.json()["scope"] == "all_managed"
    assert {i["organization_id"][-1] for i in work.json()["items"]} == {
        "1",
        "2",
        "3",
        "4",
        "5",
        "8",
    }
    assert all("no_instructor_or_mass_organization" in i["reasons"] for i in work.json()["items"])
    three = await ids(scope="three_haves", reason="no_members")
    assert three == ["7"]


async def test_pages_with_a_cursor_cover_the_list_once(coverage: RunningService) -> None:
    await insert_rows(coverage.runtime.db, [fact_row(n, full_members=1 + n % 5) for n in range(23)])
    found = await pages.walk(
        coverage.client,
        f"/v1/coverage/{COUNTY}/gaps",
        coverage.as_region(COUNTY),
        limit=5,
        sort="-full_members",
    )
    seen = [i["organization_id"] for i in found]
    assert len(seen) == len(set(seen)) == 23
    fulls = [1 + int(s[-5:]) % 5 for s in seen]
    assert fulls == sorted(fulls, reverse=True)
    # a cursor is tied to its list: another sort refuses it
    first = (await get(coverage, f"/v1/coverage/{COUNTY}/gaps", limit=5)).json()
    assert (first["total"], len(first["items"])) == (23, 5)
    other = await get(
        coverage, f"/v1/coverage/{COUNTY}/gaps", cursor=first["next_cursor"], sort="name"
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "cursor"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/coverage/1402129/gaps", {}, "region_code"),
        ("/v1/coverage/99/gaps.xlsx", {}, "region_code"),
        ("/v1/coverage/140212/gaps", {"sort": "secret_column"}, "sort"),
        ("/v1/coverage/140212/gaps", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/coverage/140212/gaps", {"limit": 100000}, "limit"),
        ("/v1/coverage/140212/gaps", {"reason": "bored"}, "reason"),
        ("/v1/coverage/140212/gaps.xlsx", {"metric": "both"}, "metric"),
        ("/v1/coverage/140212x/joint-branch-proposals", {}, "region_code"),
        ("/v1/coverage/140212/joint-branch-proposals", {"township": "14"}, "township"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    coverage: RunningService, path: str, params: dict[str, Any], field: str
) -> None:
    response = await get(coverage, path, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


@SQLITE_ONLY
@pytest.mark.parametrize("suffix", ["gaps", "gaps.xlsx", "joint-branch-proposals"])
async def test_outside_the_region_is_403(coverage: RunningService, suffix: str) -> None:
    response = await get(coverage, f"/v1/coverage/140213/{suffix}", region=COUNTY)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    scoped = await coverage.client.get(
        f"/v1/coverage/{COUNTY}/{suffix}",
        headers=coverage.as_region(COUNTY, scopes=("registry:read",)),
    )
    assert scoped.status_code == 403


async def test_the_xlsx_export_has_the_office_headings_and_every_row(
    coverage: RunningService,
) -> None:
    data = rows() + [fact_row(100 + n, full_members=1) for n in range(29)]
    data.append(fact_row(200, full_members=1, three_haves=None, no_branch_reason="=出资人未同意"))
    await insert_rows(coverage.runtime.db, data)
    response = await get(coverage, f"/v1/coverage/{COUNTY}/gaps.xlsx", sort="credit_code")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_MEDIA_TYPE
    disposition = response.headers["content-disposition"]
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date().isoformat()
    assert f'filename="gaps-{COUNTY}-{today}.xlsx"' in disposition
    match = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert match
    assert unquote(match.group(1)) == f"目标对象清单-{COUNTY}-{today}.xlsx"

    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    # the title block: the list, region, metric, scope and day; then the headings, filtered
    assert table[0][0] == "目标对象清单（党的组织覆盖）"
    today_local = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
    for part in (f"新荣区（{COUNTY}）", "organization", "with_members", today_local.isoformat()):
        assert part in str(table[1][0])
    assert "国家地名信息库" in str(table[2][0])
    assert tuple(table[HEADING_ROW - 1]) == HEADINGS
    for heading in ("未覆盖原因", "下一步措施", "未建党组织原因", "“三有”"):
        assert heading in HEADINGS
    body = table[HEADING_ROW:]
    assert sheet.auto_filter.ref == f"A{HEADING_ROW}:U{HEADING_ROW + len(body)}"
    assert sheet.freeze_panes == f"A{HEADING_ROW + 1}"
    assert len(body) == 36  # 6 gaps of rows() and the 30 added
    assert [r[0] for r in body] == list(range(1, 37))
    expected = sorted(
        (r for r in data if _is_org_gap(r)), key=lambda r: (r["credit_code"], r["organization_id"])
    )
    column = {h: i for i, h in enumerate(HEADINGS)}
    assert [r[column["统一社会信用代码"]] for r in body] == [r["credit_code"] for r in expected]
    first = next(r for r in body if r[column["正式党员"]] == 4)
    assert first[column["组织名称"]] == '=HYPERLINK("x")'  # stays text, not a formula
    assert first[column["未覆盖原因"]] == "正式党员3名以上，未单独组建党组织"
    assert first[column["下一步措施"]] == "单独组建党支部（应建尽建）"
    assert first[column["从业人数"]] == 80
    assert first[column["“三有”"]] == "是"
    assert first[column["经营状态"]] == "在营"
    unknown = next(r for r in body if r[column["统一社会信用代码"]] == data[-1]["credit_code"])
    assert unknown[column["“三有”"]] == "未知"
    assert unknown[column["未建党组织原因"]] == "=出资人未同意"  # the office's words, as text
    social = next(r for r in body if r[column["组织类型"]] == "社会组织")
    assert social[column["所在乡镇（街道）代码"]] == "140212102"
    assert social[column["所在乡镇（街道）"]] == "花园屯镇"  # the published name of the code
    # filters apply to the export too
    narrowed = await get(
        coverage, f"/v1/coverage/{COUNTY}/gaps.xlsx", reason="eligible_without_branch"
    )
    narrow_sheet = load_workbook(io.BytesIO(narrowed.content), read_only=True).active
    assert narrow_sheet is not None
    assert len(list(narrow_sheet.iter_rows(values_only=True))) == HEADING_ROW + 1


def _is_org_gap(row: dict[str, Any]) -> bool:
    in_county = row["region_code"].startswith(COUNTY)
    has_members = row["full_members"] + row["probationary_members"] > 0
    return in_county and row["managed"] and has_members and row["branch_id"] is None


async def test_joint_branch_proposals(coverage: RunningService) -> None:
    await insert_rows(coverage.runtime.db, rows())
    response = await get(coverage, f"/v1/coverage/{COUNTY}/joint-branch-proposals")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rules"] == {"min_full_members": 3, "max_organizations": 5, "industry_wide": False}
    assert body["existing_branches"] == []
    # candidates: 2, 3, 4 (rider), 5 in township 101; 8 alone in township 102
    assert body["candidates"] == 5
    assert body["upper_bound"] == 4
    (proposal,) = body["proposals"]
    members = {o["organization_id"][-1]: o["role"] for o in proposal["organizations"]}
    assert members == {"2": "core", "3": "core", "4": "rider", "5": "core"}
    assert proposal["township_code"] == "140212101"
    assert proposal["full_members"] == 4
    assert proposal["probationary_members"] == 1
    assert proposal["sections"] == ["F", "I"]
    assert "正式党员合计4名" in proposal["explanation"]
    (left,) = body["leftovers"]
    assert left["organization"]["organization_id"].endswith("8")
    assert left["reason"] == "township_full_members_below_minimum"
    assert body["covered"] == 4
    one = await get(coverage, f"/v1/coverage/{COUNTY}/joint-branch-proposals", township="140212102")
    assert one.json()["candidates"] == 1
    assert one.json()["proposals"] == []


async def test_proposals_for_too_large_a_region_are_refused(
    coverage: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proposals, "MAX_PROPOSAL_CANDIDATES", 4)  # the county has 5
    await insert_rows(coverage.runtime.db, rows())
    refused = await get(coverage, f"/v1/coverage/{COUNTY}/joint-branch-proposals")
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "region_code"
    assert "township" in error["reason"]
    one = await get(coverage, "/v1/coverage/140212101/joint-branch-proposals")
    assert one.status_code == 200
    assert one.json()["covered"] == 4

"""Imports over real HTTP, on both stores and NATS: matching, reports, idempotency, refusals."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from libs.common.tables import outbox
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.import_tables import organization_sources
from services.registry.store.tables import audit_log, organizations
from tests import pages
from tests.factories import announced, organization
from tests.harness import SQLITE_ONLY, NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.imports_data import (
    MARKET_HEADER,
    credit_code,
    csv_bytes,
    market_row,
    with_bad_check_char,
)

COUNTY = "140212"


@pytest.fixture
async def registry(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    """The registry with a 1 MB import limit, on a copy of its template database."""
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=nats_server.url,
        import_max_bytes=1 << 20,
    )
    async with serve(definition(settings)) as service:
        yield service


async def scalar(service: RunningService, statement: Any) -> Any:
    async with service.runtime.db.read() as session:
        return (await session.execute(statement)).scalar_one()


async def outbox_types(service: RunningService) -> dict[str, int]:
    async with service.runtime.db.read() as session:
        rows = await session.execute(select(outbox.c.type, func.count()).group_by(outbox.c.type))
        return {t: int(n) for t, n in rows}


async def upload(
    service: RunningService,
    source: str,
    data: bytes,
    filename: str = "data.csv",
    region: str = COUNTY,
) -> Any:
    return await service.client.post(
        "/v1/imports",
        data={"source": source},
        files={"file": (filename, data, "application/octet-stream")},
        headers=service.as_region(region),
    )


async def finished(service: RunningService, location: str, **params: Any) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        response = await service.client.get(
            location, params=params, headers=service.as_region(COUNTY)
        )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body if body["status"] in ("done", "rejected", "failed") else None

    result: dict[str, Any] = await wait_for(done, timeout=30)
    return result


async def test_an_import_registers_matches_fills_and_lists_conflicts(
    registry: RunningService,
) -> None:
    headers = registry.as_region(COUNTY)
    known = await registry.client.post(
        "/v1/organizations", json=organization(1, staff_count=12), headers=headers
    )
    assert known.status_code == 201
    rows = [
        market_row(1, 从业人数="30"),  # staff differs from an office's entry: a conflict
        market_row(2),  # new
        market_row(3, 统一社会信用代码=with_bad_check_char(credit_code(3))),
        market_row(2, 企业名称="重复"),  # the same credit code as row 3 of the file
        market_row(4, 行政区划代码="140211001000"),  # outside the caller's county
        market_row(5, 从业人数="十二"),  # a bad optional field: left out, the row goes in
        market_row(6, 行业代码="Z99"),
        [],  # a blank line is skipped, not reported
        market_row(7, 统一社会信用代码=credit_code(7, kind="12")),  # a public institution
    ]
    response = await upload(registry, "market_supervision", csv_bytes(MARKET_HEADER, rows))
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert location == f"/v1/imports/{response.json()['id']}"
    body = await finished(registry, location)
    assert body["status"] == "done"
    assert body["progress"] == {"rows_total": 9, "rows_done": 9, "percent": 100.0}
    assert body["counts"] == {
        "rows": 8,
        "new": 3,
        "matched": 1,
        "matched_by_name": 0,
        "updated": 1,
        "unchanged": 0,
        "conflicts": 1,
        "rejected": 4,
        "provisional": 0,
        "fields_left_out": 2,
    }
    errors = {(e["row"], e["field"]): e["reason"] for e in body["errors"]["items"]}
    assert errors == {
        (4, "credit_code"): "check character does not match",
        (5, "credit_code"): "duplicate of row 3 (same credit code)",
        (6, "region_code"): "region 140211001 is outside your region 140212",
        (10, "credit_code"): errors[(10, "credit_code")],
    }
    left_out = {(e["row"], e["field"]): e["reason"] for e in body["left_out"]["items"]}
    assert left_out == {
        (7, "staff_count"): "not a number",
        (
            8,
            "industry_code",
        ): "not a GB/T 4754 industry code, or a section or division name it lists",
    }
    assert "public institution" in errors[(10, "credit_code")]
    assert body["conflicts"]["total"] == 2  # one row, two fields
    conflicts = {c["field"]: c for c in body["conflicts"]["items"]}
    assert {c["organization_id"] for c in conflicts.values()} == {known.json()["id"]}
    assert {c["row"] for c in conflicts.values()} == {2}
    staff = conflicts["staff_count"]
    assert (staff["ledger_value"], staff["incoming_value"]) == (12, 30)
    assert conflicts["name"]["incoming_value"] == "大同市新荣区导入测试1有限公司"
    # each list of the report continues page by page at its own path, in file order
    for name, path in (("errors", "errors"), ("left_out", "left-out"), ("conflicts", "conflicts")):
        assert body[name]["next"] is None  # all on the first page
        walked = await pages.walk(registry.client, f"{location}/{path}", headers, limit=1)
        assert walked == body[name]["items"]
    first = await registry.client.get(f"{location}/errors", params={"limit": 1}, headers=headers)
    assert first.json()["total"] == 4
    elsewhere = await registry.client.get(
        f"{location}/conflicts", params={"cursor": first.json()["next_cursor"]}, headers=headers
    )
    assert (elsewhere.status_code, elsewhere.json()["errors"][0]["field"]) == (422, "cursor")
    hidden = await registry.client.get(f"{location}/errors", headers=registry.as_region("140211"))
    assert hidden.status_code == 404
    assert body["columns"]["dropped"] == ["法定代表人", "法定代表人身份证号", "联系电话"]
    assert body["columns"]["ignored"] == ["成立日期"]
    assert body["columns"]["header_row"] == 1
    assert "11010519491231002X" not in json.dumps(body)

    filled = await registry.client.get(f"/v1/organizations/{known.json()['id']}", headers=headers)
    assert filled.json()["staff_count"] == 12  # not overwritten
    assert filled.json()["version"] == 2  # the address was empty and is filled
    async with registry.runtime.db.read() as session:
        address, name_key = (
            await session.execute(
                select(organizations.c.address, organizations.c.name_key).where(
                    organizations.c.credit_code == credit_code(1)
                )
            )
        ).one()
        provenance = (
            (
                await session.execute(
                    select(organization_sources).order_by(organization_sources.c.row)
                )
            )
            .mappings()
            .all()
        )
    assert address == "新荣区测试路1号"
    assert name_key == "大同市新荣区测试企业1公司"
    assert [(p["row"], p["matched_by"], p["source"]) for p in provenance] == [
        (2, "credit_code", "market_supervision"),
        (3, "new", "market_supervision"),
        (7, "new", "market_supervision"),
        (8, "new", "market_supervision"),
    ]
    assert "staff_count" not in provenance[2]["values"]  # left out: not what the source said
    assert provenance[0]["values"]["staff_count"] == 30  # what the source said, kept
    assert provenance[0]["import_id"] == body["id"]
    assert await outbox_types(registry) == {
        "pb.registry.organization.registered.v1": 1,  # the office's entry
        "pb.registry.organization.imported.v1": 1,  # the import's files, in one piece
    }
    registered = [e["organization_id"] for e in await announced(registry.runtime.db, "registered")]
    assert registered[1:] == [p["organization_id"] for p in provenance[1:]]
    [updated] = await announced(registry.runtime.db, "updated")
    assert (updated["organization_id"], updated["version"]) == (known.json()["id"], 2)
    actions = await scalar(
        registry,
        select(func.count()).where(audit_log.c.action.like("organization.%import%")),
    )
    assert actions == 2  # the chunk's registrations (one entry, the job's), the one update


async def test_survey_rows_match_by_normalised_name_and_fill_member_counts(
    registry: RunningService,
) -> None:
    headers = registry.as_region(COUNTY)
    known = await registry.client.post(
        "/v1/organizations",
        json=organization(20, name="大同市新荣区（测试）物流有限公司", region_code="140212"),
        headers=headers,
    )
    assert known.status_code == 201
    header = ["单位名称", "所属乡镇（街道）", "正式党员数", "预备党员数", "负责人", "手机号"]
    rows = [
        ["大同市新荣区 测试 物流有限责任公司", "140212101", "3", "1", "李四", "13900001111"],
        ["大同市新荣区无码小店", "140212101", "1", "0", "王五", "13900002222"],
        ["某某公司", "新荣镇", "1", "0", "", ""],
    ]
    response = await upload(registry, "survey", csv_bytes(header, rows, encoding="gbk"))
    body = await finished(registry, response.headers["location"])
    assert body["counts"]["matched_by_name"] == 1
    assert body["counts"]["updated"] == 1
    # No code and no match: provisional files; 新荣镇 is looked up under the county.
    assert (body["counts"]["new"], body["counts"]["provisional"]) == (2, 2)
    assert body["errors"]["total"] == 0
    async with registry.runtime.db.read() as session:
        placed = await session.scalar(
            select(organizations.c.region_code).where(organizations.c.name == "某某公司")
        )
    assert placed == "140212100"
    seen = await registry.client.get(f"/v1/organizations/{known.json()['id']}", headers=headers)
    assert seen.json()["version"] == 2
    async with registry.runtime.db.read() as session:
        members, region = (
            await session.execute(
                select(organizations.c.full_members, organizations.c.region_code).where(
                    organizations.c.id == known.json()["id"]
                )
            )
        ).one()
    assert (members, region) == (3, "140212101")  # the more precise region is taken
    types = await outbox_types(registry)
    assert types["pb.registry.branch.eligible.v1"] == 1
    assert "13900001111" not in json.dumps(body)


async def test_the_same_file_twice_returns_the_first_job_and_changes_nothing(
    registry: RunningService,
) -> None:
    data = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(30, 40)])
    first = await upload(registry, "market_supervision", data, filename="a.csv")
    assert first.status_code == 202
    await finished(registry, first.headers["location"])
    before = await outbox_types(registry)
    again = await upload(registry, "market_supervision", data, filename="renamed.csv")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert await outbox_types(registry) == before
    assert set(before) == {"pb.registry.organization.imported.v1"}
    assert len(await announced(registry.runtime.db, "registered")) == 10
    other_source = await upload(registry, "tax", data)
    assert other_source.status_code == 202  # another source's copy is another job


async def test_missing_columns_reject_the_job_and_name_them(registry: RunningService) -> None:
    data = csv_bytes(["企业名称", "住所"], [["甲有限公司", "某路1号"]])
    response = await upload(registry, "market_supervision", data)
    assert response.status_code == 202
    body = await finished(registry, response.headers["location"])
    assert body["status"] == "rejected"
    assert body["missing_columns"] == ["credit_code"]
    assert "统一社会信用代码" in body["reason"]
    assert await scalar(registry, select(func.count()).select_from(organizations)) == 0


def formula_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(MARKET_HEADER)
    sheet.append(market_row(50))
    sheet.append(market_row(51, 从业人数="=F2+1"))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        (
            "utf16.csv",
            "\n".join([",".join(MARKET_HEADER), ",".join(market_row(60))]).encode("utf-16"),
            "UTF-16",
        ),
        ("broken.csv", b"\x80\xff\xfe\xff\n", "not UTF-8 or GB18030"),
        ("formulas.xlsx", formula_workbook(), "cell F3"),
        (
            "no-header.csv",
            csv_bytes([credit_code(61), "12"], [[credit_code(62), "13"]]),
            "no header row",
        ),
    ],
    ids=["utf16", "garbage", "formulas", "no-header"],
)
async def test_bad_files_are_rejected_whole(
    registry: RunningService, filename: str, data: bytes, reason: str
) -> None:
    response = await upload(registry, "market_supervision", data, filename=filename)
    assert response.status_code == 202
    body = await finished(registry, response.headers["location"])
    assert body["status"] == "rejected"
    assert reason in body["reason"]
    assert await scalar(registry, select(func.count()).select_from(organizations)) == 0
    assert await outbox_types(registry) == {}


async def test_a_file_that_turns_bad_halfway_changes_nothing(registry: RunningService) -> None:
    good = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(100, 4200)])
    data = good + ",".join(market_row(9999)).encode("gbk") + b"\n"
    response = await upload(registry, "market_supervision", data)
    body = await finished(registry, response.headers["location"])
    assert body["status"] == "rejected"
    assert "line 4102" in body["reason"]
    assert await scalar(registry, select(func.count()).select_from(organizations)) == 0


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [("data.xls", b"anything", "unsupported file type .xls"), ("empty.csv", b"", "empty")],
)
async def test_files_refused_at_the_door(
    registry: RunningService, filename: str, data: bytes, reason: str
) -> None:
    response = await upload(registry, "market_supervision", data, filename=filename)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["errors"][0]["reason"]


@SQLITE_ONLY
async def test_a_file_over_the_limit_is_413(registry: RunningService) -> None:
    data = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(12_000)])
    assert len(data) > 1 << 20
    response = await upload(registry, "market_supervision", data)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_bytes"] == 1 << 20


async def test_bad_requests_and_scope(registry: RunningService) -> None:
    bad = await upload(registry, "police", b"a,b\n")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "source"
    reader = registry.as_region(COUNTY, scopes=("registry:read",))
    denied = await registry.client.post(
        "/v1/imports", data={"source": "tax"}, files={"file": ("a.csv", b"x")}, headers=reader
    )
    assert denied.status_code == 403
    response = await upload(
        registry, "tax", csv_bytes(MARKET_HEADER, [market_row(70)]), region="140212101"
    )
    location = response.headers["location"]
    other = await registry.client.get(location, headers=registry.as_region("140211"))
    assert other.status_code == 404
    missing = await registry.client.get(
        "/v1/imports/00000000-0000-0000-0000-000000000000", headers=registry.as_region(COUNTY)
    )
    assert missing.status_code == 404


async def test_imports_are_listed_newest_first_by_subtree_and_filters(
    registry: RunningService,
) -> None:
    jobs = []
    for n in (80, 81):
        response = await upload(
            registry, "market_supervision", csv_bytes(MARKET_HEADER, [market_row(n)])
        )
        assert response.status_code == 202, response.text
        jobs.append(await finished(registry, response.headers["location"]))
    headers = registry.as_region(COUNTY)
    listed = await pages.walk(registry.client, "/v1/imports", headers, limit=1)
    assert [j["id"] for j in listed] == [jobs[1]["id"], jobs[0]["id"]]
    assert [j["errors"] for j in listed] == [None, None]  # the report is read one by one
    assert listed[0]["counts"] == jobs[1]["counts"]
    done = await pages.walk(
        registry.client, "/v1/imports", headers, status="done", source="market_supervision"
    )
    assert len(done) == 2
    assert await pages.walk(registry.client, "/v1/imports", headers, source="tax") == []
    township = await pages.walk(registry.client, "/v1/imports", registry.as_region("140212101"))
    assert township == []  # the county's jobs are not a township's
    outside = await registry.client.get(
        "/v1/imports", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

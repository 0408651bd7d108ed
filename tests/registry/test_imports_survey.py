"""What survey teams and registration offices really bring, imported over real HTTP on both stores
and NATS: townships in words, a title above the header, bad optional fields, duplicates within a
file, businesses without a credit code (provisional files), 三有 columns, 注销/吊销."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.import_tables import organization_sources
from services.registry.store.tables import organizations
from tests.factories import announced, organization
from tests.harness import NatsServer, RunningService, serve, wait_for
from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row
from tests.registry.test_imports_api import upload

BOZHOU = "520304"  # 播州区, 遵义市
ZUNYI = "5203"
LONGKENG = "520304005"  # 龙坑街道
SANCHA = "520304102"  # 三岔镇
SANHE_BOZHOU = "520304104"  # 三合镇 of 播州区; 遵义市 has another under 520382


@pytest.fixture
async def registry(nats_server: NatsServer, database_url: str) -> AsyncIterator[RunningService]:
    settings = RegistrySettings(database_url=database_url, nats_url=nats_server.url)
    async with serve(definition(settings)) as service:
        yield service


async def finished(service: RunningService, location: str, region: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        response = await service.client.get(location, headers=service.as_region(region))
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body if body["status"] in ("done", "rejected", "failed") else None

    result: dict[str, Any] = await wait_for(done, timeout=30)
    return result


async def report(
    service: RunningService, source: str, data: bytes, region: str, filename: str = "a.csv"
) -> dict[str, Any]:
    response = await upload(service, source, data, filename=filename, region=region)
    assert response.status_code == 202, response.text
    body = await finished(service, response.headers["location"], region)
    assert body["status"] == "done", body
    return body


async def stored(service: RunningService, *where: Any) -> list[dict[str, Any]]:
    async with service.runtime.db.read() as session:
        rows = await session.execute(
            select(organizations).where(*where).order_by(organizations.c.name)
        )
        return [dict(r) for r in rows.mappings()]


def rejected(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    return {e["row"]: (e["field"], e["reason"]) for e in body["errors"]["items"]}


def left_out(body: dict[str, Any]) -> dict[tuple[int, str], str]:
    return {(e["row"], e["field"]): e["reason"] for e in body["left_out"]["items"]}


def workbook(rows: Sequence[Sequence[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SURVEY_HEADER = ["序号", "单位名称", "所属乡镇（街道）", "从业人数", "行业", "负责人", "联系电话"]


async def test_a_township_written_in_words_is_looked_up_under_the_import_region(
    registry: RunningService,
) -> None:
    rows = [
        ["1", "遵义市播州区龙坑测试餐馆", "龙坑街道", "5", "", "", ""],
        ["2", "遵义市播州区三岔测试商店", "播州区三岔镇", "3", "", "", ""],
        ["3", "遵义市播州区龙坑测试超市", "龙坑", "4", "", "", ""],
        ["4", "遵义市播州区不存在测试店", "桃花源镇", "2", "", "", ""],
        ["5", "遵义市播州区南白测试店", "南白街道", "2", "", "", ""],
    ]
    body = await report(registry, "survey", csv_bytes(SURVEY_HEADER, rows), BOZHOU)
    assert (body["counts"]["new"], body["counts"]["rejected"]) == (4, 1)
    field, reason = rejected(body)[5]
    assert field == "region_code"
    assert "no division named 桃花源镇 under 播州区 (520304)" in reason
    placed = {r["name"]: r["region_code"] for r in await stored(registry)}
    assert placed == {
        "遵义市播州区龙坑测试餐馆": LONGKENG,
        "遵义市播州区三岔测试商店": SANCHA,
        "遵义市播州区龙坑测试超市": LONGKENG,
        "遵义市播州区南白测试店": "520304001",
    }

    # A city office: 三合镇 is the name of a township in two of its counties.
    city_rows = [
        ["1", "遵义市三合测试店", "三合镇", "2", "", "", ""],
        ["2", "遵义市播州区三合测试店", "播州区三合镇", "2", "", "", ""],
    ]
    city = await report(registry, "survey", csv_bytes(SURVEY_HEADER, city_rows), ZUNYI)
    field, reason = rejected(city)[2]
    assert field == "region_code"
    assert "三合镇 names 2 divisions under 遵义市" in reason
    assert SANHE_BOZHOU in reason
    assert "520382" in reason
    [sanhe] = await stored(registry, organizations.c.name == "遵义市播州区三合测试店")
    assert sanhe["region_code"] == SANHE_BOZHOU


async def test_the_header_is_found_below_title_rows(registry: RunningService) -> None:
    data = workbook(
        [
            ["播州区新兴领域组织摸排登记表"],
            ["填报单位：龙坑街道", None, None, "填报日期：2026-11-20"],
            [],
            SURVEY_HEADER,
            [1, "遵义市播州区标题测试一店", "龙坑街道", 12, "餐饮业", "张三", "13800000000"],
            [2, "遵义市播州区标题测试二店", "龙坑街道", "十二", None, None, None],
            [3, "遵义市播州区标题测试三店", "", 3, None, None, None],
        ]
    )
    body = await report(registry, "survey", data, BOZHOU, filename="摸排表.xlsx")
    assert body["progress"]["rows_total"] == 3  # the title rows are not data
    assert (body["counts"]["rows"], body["counts"]["new"]) == (3, 2)
    assert rejected(body) == {7: ("region_code", "required and empty")}  # the sheet's row 7
    assert left_out(body) == {(6, "staff_count"): "not a number"}
    assert body["columns"]["header_row"] == 4
    assert body["columns"]["dropped"] == ["负责人", "联系电话"]
    assert body["columns"]["ignored"] == ["序号"]

    no_header = workbook([["摸排表"], *[[str(n), "某店"] for n in range(25)]])
    response = await upload(registry, "survey", no_header, filename="b.xlsx", region=BOZHOU)
    refused = await finished(registry, response.headers["location"], BOZHOU)
    assert refused["status"] == "rejected"
    assert "no header row: none of the first 20 rows" in refused["reason"]


async def test_a_bad_optional_field_is_left_out_and_the_row_goes_in(
    registry: RunningService,
) -> None:
    rows = [
        ["1", "遵义市播州区字段测试一店", "龙坑街道", "1名", "餐饮业", "", ""],
        ["2", "遵义市播州区字段测试二店", "龙坑街道", "约30人", "奶茶", "", ""],
        ["3", "遵义市播州区字段测试三店", "龙坑街道", "30余人", "住宿和餐饮业", "", ""],
        ["4", "遵义市播州区字段测试四店", "龙坑街道", "10-20人", "H6210", "", ""],
    ]
    body = await report(registry, "survey", csv_bytes(SURVEY_HEADER, rows), BOZHOU)
    assert body["counts"]["new"] == 4
    assert body["counts"]["rejected"] == 0
    assert body["counts"]["fields_left_out"] == 3
    assert left_out(body) == {
        (3, "industry_code"): (
            "not a GB/T 4754 industry code, or a section or division name it lists"
        ),
        (4, "staff_count"): "not a number",
        (5, "staff_count"): "not a number",
    }
    found = {r["name"][-2:]: (r["staff_count"], r["industry_code"]) for r in await stored(registry)}
    assert found == {
        "一店": (1, "H62"),
        "二店": (30, None),
        "三店": (None, "H"),
        "四店": (None, "H6210"),
    }
    async with registry.runtime.db.read() as session:
        said = (await session.execute(select(organization_sources.c["values"]))).scalars().all()
    assert not any("staff_count" in values for values in said if "三店" in values["name"])


async def test_duplicates_within_a_file_point_at_the_first_row(registry: RunningService) -> None:
    header = ["统一社会信用代码", "单位名称", "所属乡镇（街道）", "从业人数"]
    code = credit_code(1, county=BOZHOU)
    rows = [
        [code, "遵义市播州区重复测试有限公司", "龙坑街道", "12"],
        ["", "遵义市播州区 重复测试 有限责任公司", "龙坑街道", "12"],  # the same firm, no code
        [code, "遵义市播州区另一个名字有限公司", "龙坑街道", "3"],  # the same code
        ["", "遵义市播州区无码重复店", "三岔镇", "2"],
        ["", "遵义市播州区无码重复店", "三岔镇", "2"],
        ["", "遵义市播州区无码重复店", "龙坑街道", "2"],  # same name, another township
    ]
    body = await report(registry, "survey", csv_bytes(header, rows), BOZHOU)
    assert rejected(body) == {
        3: ("name", "duplicate of row 2 (same name)"),
        4: ("credit_code", "duplicate of row 2 (same credit code)"),
        6: ("name", "duplicate of row 5 (same name)"),
    }
    assert (body["counts"]["new"], body["counts"]["rejected"]) == (3, 3)


async def test_a_business_without_a_code_is_a_provisional_file_until_a_source_gives_it(
    registry: RunningService,
) -> None:
    header = ["单位名称", "所属乡镇（街道）", "从业人数", "正式党员数"]
    rows = [["遵义市播州区龙坑无照测试面馆", "龙坑街道", "4", "1"]]
    body = await report(registry, "survey", csv_bytes(header, rows), BOZHOU)
    assert (body["counts"]["new"], body["counts"]["provisional"]) == (1, 1)
    [file] = await stored(registry)
    assert file["credit_code"] == ""
    # NULL in the store: the unique index holds real codes only, provisional files are many.
    assert [f["id"] for f in await stored(registry, organizations.c.credit_code.is_(None))] == [
        file["id"]
    ]
    seen = await registry.client.get(
        f"/v1/organizations/{file['id']}", headers=registry.as_region(BOZHOU)
    )
    assert seen.status_code == 200
    assert (seen.json()["credit_code"], seen.json()["provisional"]) == ("", True)
    [registered] = await announced(registry.runtime.db, "registered")
    assert (registered["credit_code"], registered["provisional"]) == ("", True)
    assert registered["name"] == "遵**"  # a provisional file's name is masked in events

    code = credit_code(7, county=BOZHOU)
    market = csv_bytes(
        MARKET_HEADER,
        [
            market_row(
                7,
                统一社会信用代码=code,
                企业名称="遵义市播州区龙坑无照测试面馆",
                行政区划代码="520304005000",
                从业人数="4",
            )
        ],
    )
    matched = await report(registry, "market_supervision", market, BOZHOU)
    assert (matched["counts"]["matched_by_name"], matched["counts"]["new"]) == (1, 0)
    assert matched["conflicts"]["total"] == 0
    [after] = await stored(registry)
    assert (after["id"], after["credit_code"]) == (file["id"], code)
    [updated] = await announced(registry.runtime.db, "updated")
    assert "credit_code" in updated["changed"]
    assert (updated["credit_code"], updated["provisional"]) == (code, False)
    seen = await registry.client.get(
        f"/v1/organizations/{file['id']}", headers=registry.as_region(BOZHOU)
    )
    assert (seen.json()["credit_code"], seen.json()["provisional"]) == (code, False)


async def test_three_haves_columns_of_a_survey(registry: RunningService) -> None:
    header = ["单位名称", "所属乡镇（街道）", "从业人数", "有无固定场所", "是否稳定经营"]
    rows = [
        ["遵义市播州区三有测试一公司", "龙坑街道", "12", "有", "是"],
        ["遵义市播州区三有测试二公司", "龙坑街道", "12", "无", "是"],
        ["遵义市播州区三有测试三公司", "龙坑街道", "12", "不详", ""],
        ["遵义市播州区三有测试四公司", "龙坑街道", "12", "可能", "√"],
    ]
    body = await report(registry, "survey", csv_bytes(header, rows), BOZHOU)
    assert body["counts"]["new"] == 4
    assert left_out(body) == {(5, "has_premises"): "not yes or no (是/否, 有/无) or unknown (不详)"}
    held = {
        r["name"][-3:]: (r["has_premises"], r["stable_operations"]) for r in await stored(registry)
    }
    assert held == {
        "一公司": (True, True),
        "二公司": (False, True),
        "三公司": (None, None),
        "四公司": (None, True),
    }
    names = {r["id"]: r["name"][-3:] for r in await stored(registry)}
    events = await announced(registry.runtime.db, "registered")
    states = {names[e["organization_id"]]: e["three_haves_state"] for e in events}
    assert states == {"一公司": "true", "二公司": "false", "三公司": "unknown", "四公司": "unknown"}
    listed = await registry.client.get(
        "/v1/organizations",
        params={"three_haves": "unknown"},
        headers=registry.as_region(BOZHOU),
    )
    assert listed.status_code == 200, listed.text
    assert sorted(o["name"][-3:] for o in listed.json()["items"]) == ["三公司", "四公司"]


async def test_market_supervision_deregistration_words_change_the_status(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    ids = []
    for n in (1, 2, 3):
        created = await registry.client.post(
            "/v1/organizations", json=organization(n), headers=headers
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    names = {n: organization(n)["name"] for n in (1, 2, 3)}
    rows = [
        market_row(n, 企业名称=names[n], 登记状态=status, 住所="", 从业人数="12")
        for n, status in ((1, "注销"), (2, "吊销，未注销"), (3, "存续（在营、开业、在册）"))
    ]
    body = await report(registry, "market_supervision", csv_bytes(MARKET_HEADER, rows), "140212")
    assert body["conflicts"]["total"] == 0
    statuses = [
        (await registry.client.get(f"/v1/organizations/{i}", headers=headers)).json()[
            "operating_status"
        ]
        for i in ids
    ]
    assert statuses == ["closed", "revoked", "operating"]
    updates = await announced(registry.runtime.db, "updated")
    changed = {e["organization_id"]: (e["changed"], e["operating_status"]) for e in updates}
    assert changed == {
        ids[0]: (["operating_status"], "closed"),
        ids[1]: (["operating_status"], "revoked"),
    }
    async with registry.runtime.db.read() as session:
        said = dict(
            (
                await session.execute(
                    select(organization_sources.c.organization_id, organization_sources.c["values"])
                )
            ).all()
        )
    assert said[ids[1]]["operating_status"] == "revoked"  # the provenance of the change

    # A survey team is no registration authority: its 注销 is a conflict for the office.
    survey = csv_bytes(["单位名称", "所属乡镇（街道）", "经营状态"], [[names[3], "古店镇", "注销"]])
    heard = await report(registry, "survey", survey, "140212")
    assert [c["field"] for c in heard["conflicts"]["items"]] == ["operating_status"]

"""The domain rules behind survey imports: places by name, the header below titles, fields read
leniently or left out alone, duplicates in a file, provisional files, 三有 words, 注销/吊销."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.registry.domain.imports import (
    SOURCES,
    FileDuplicates,
    MissingColumns,
    NoHeaderRow,
    PlaceNames,
    SourceRecord,
    count,
    industry_code,
    locate_header,
    merge_record,
    operating_status,
    read_row,
    yes_no,
)
from services.registry.domain.organizations import Organization
from services.registry.domain.regions import RegionTree
from tests.registry.imports_data import credit_code

#: Real codes of 遵义市: 播州区 and 汇川区 with a few townships; 三合镇 is in two counties.
TREE = RegionTree(
    [
        ("52", "贵州省"),
        ("5203", "遵义市"),
        ("520304", "播州区"),
        ("520304001", "南白街道"),
        ("520304005", "龙坑街道"),
        ("520304104", "三合镇"),
        ("520304097", "旧城街道（撤销）"),
        ("520382", "仁怀市"),
        ("520382108", "三合镇"),
    ]
)


def test_a_division_is_found_by_its_name_under_the_scope() -> None:
    county = PlaceNames(lambda: TREE, "520304")
    assert county.code_of("龙坑街道") == "520304005"
    assert county.code_of("龙坑") == "520304005"  # without its ending
    assert county.code_of(" 龙坑 街道 ") == "520304005"
    assert county.code_of("播州区龙坑街道") == "520304005"  # the scope's name before it
    assert county.code_of("贵州省遵义市播州区三合镇") == "520304104"
    with pytest.raises(ValueError, match="no division named 旧城街道 under 播州区"):
        county.code_of("旧城街道")  # dissolved (撤销) divisions are left out
    with pytest.raises(ValueError, match="no division named 仁怀市三合镇 under 播州区"):
        county.code_of("仁怀市三合镇")  # outside the scope


def test_a_name_two_divisions_share_is_ambiguous_until_qualified() -> None:
    city = PlaceNames(lambda: TREE, "5203")
    with pytest.raises(ValueError, match="give the division code") as caught:
        city.code_of("三合镇")
    assert str(caught.value) == (
        "三合镇 names 2 divisions under 遵义市 (520304104, 520382108): "
        "give the division code (行政区划代码)"
    )
    assert city.code_of("播州区三合镇") == "520304104"
    assert city.code_of("仁怀市三合镇") == "520382108"
    assert city.code_of("播州区") == "520304"
    township = PlaceNames(lambda: TREE, "520304005")  # a township's office names its own township
    assert township.code_of("龙坑街道") == "520304005"
    with pytest.raises(ValueError, match="no division named 南白街道 under 龙坑街道"):
        township.code_of("南白街道")


SURVEY = SOURCES["survey"]
HEADER = [
    "单位名称",
    "所属乡镇(街道)",
    "从业人数",
    "行业",
    "固定场所",
    "稳定经营",
    "统一社会信用代码",
]


def rows(*lines: Sequence[str]) -> list[tuple[int, Sequence[str]]]:
    return list(enumerate(lines, start=1))


def test_the_header_is_the_row_naming_most_columns_below_titles() -> None:
    at, header = locate_header(
        SURVEY,
        rows(
            ["播州区新兴领域组织摸排表"],
            ["填报单位：龙坑街道", "", "填报日期：2026年11月"],
            ["单位名称"],  # a note naming one column is not the header
            HEADER,
            ["某某面馆", "龙坑街道", "3"],
        ),
    )
    assert at == 4
    assert set(header.positions) == {
        "name",
        "region_code",
        "staff_count",
        "industry_code",
        "has_premises",
        "stable_operations",
        "credit_code",
    }


def test_no_header_or_a_header_without_a_required_column_rejects_the_file() -> None:
    with pytest.raises(NoHeaderRow) as caught:
        locate_header(SURVEY, rows(*[["1", "某店", "3"] for _ in range(30)]))
    assert caught.value.reason.startswith("no header row: none of the first 20 rows")
    assert caught.value.missing == ["name", "region_code"]
    late = [*[["标题"] for _ in range(20)], HEADER]  # the header is past the rows looked at
    with pytest.raises(NoHeaderRow):
        locate_header(SURVEY, rows(*late))
    with pytest.raises(MissingColumns) as missing:
        locate_header(SURVEY, rows(["摸排表"], ["单位名称", "从业人数"]))
    assert missing.value.missing == ["region_code"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("12人", 12), ("1名", 1), ("约30人", 30), ("共 8 人", 8), ("1,200", 1200)],
)
def test_a_number_of_people_is_read_as_offices_write_it(text: str, expected: int) -> None:
    assert count(text, 10_000) == expected


@pytest.mark.parametrize("text", ["30余人", "30多人", "10-20人", "十二", "若干", "1.5人"])
def test_a_number_of_people_that_is_not_one_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        count(text, 1000)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("餐饮业", "H62"),
        ("餐饮", "H62"),
        ("住宿和餐饮业", "H"),
        ("软件和信息技术服务业", "I65"),
        ("道路运输业", "G54"),
        ("零售", "F52"),
        ("居民服务业", "O80"),
        ("I6513", "I6513"),
    ],
)
def test_an_industry_in_words_is_mapped_to_its_code(text: str, code: str) -> None:
    assert industry_code(text) == code


def test_an_industry_the_table_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="section or division name"):
        industry_code("奶茶")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("是", True),
        ("有", True),
        ("√", True),
        ("否", False),
        ("无", False),
        ("×", False),
        ("不详", None),
        ("待核实", None),
    ],
)
def test_three_haves_words(text: str, value: bool | None) -> None:
    assert yes_no(text) is value


def test_revoked_and_closed_are_two_statuses() -> None:
    assert operating_status("吊销，未注销") == "revoked"
    assert operating_status("注销") == "closed"
    assert operating_status("吊销，已注销") == "closed"  # revoked, then closed: closed
    assert operating_status("存续（在营、开业、在册）") == "operating"


def read(cells: Sequence[str]) -> SourceRecord | list[Any]:
    _, header = locate_header(SURVEY, rows(HEADER))
    places = PlaceNames(lambda: TREE, "520304")
    return read_row(header, 2, cells, "520304", places)


def test_a_bad_optional_field_is_left_out_and_an_identity_field_rejects_the_row() -> None:
    record = read(["某某面馆", "龙坑街道", "30余人", "奶茶", "有", "可能"])
    assert isinstance(record, SourceRecord)
    assert record.region_code == "520304005"
    assert record.values == {
        "name": "某某面馆",
        "region_code": "520304005",
        "has_premises": True,
    }
    assert [(e.field, e.rejected) for e in record.left_out] == [
        ("industry_code", False),
        ("staff_count", False),
        ("stable_operations", False),
    ]
    refused = read(["某某面馆", "三岔", "30余人"])
    assert isinstance(refused, list)
    assert [(e.field, e.rejected) for e in refused] == [
        ("region_code", True),
        ("staff_count", True),
    ]
    bad_code = read(["某某面馆", "龙坑", "3", "", "", "", "91520304MA6DXXXXX0"])
    assert isinstance(bad_code, list)
    assert bad_code[0].field == "credit_code"


def record(row: int, name: str, code: str | None = None, region: str = "520304005") -> SourceRecord:
    values: dict[str, Any] = {"name": name, "region_code": region}
    if code:
        values["credit_code"] = code
    return SourceRecord(row, code, name, region, "enterprise", values)


def test_duplicates_by_code_or_by_name_point_at_the_first_row() -> None:
    seen = FileDuplicates()
    code = credit_code(1, county="520304")
    other = credit_code(2, county="520304")
    assert seen.check(record(2, "遵义市某某有限公司", code)) is None
    by_name = seen.check(record(3, "遵义市 某某 有限责任公司"))  # the same firm without its code
    assert by_name is not None
    assert (by_name.row, by_name.field, by_name.reason) == (
        3,
        "name",
        "duplicate of row 2 (same name)",
    )
    by_code = seen.check(record(4, "另一个名字", code))
    assert by_code is not None
    assert by_code.reason == "duplicate of row 2 (same credit code)"
    assert seen.check(record(5, "遵义市某某有限公司", other)) is None  # two codes: two firms
    assert seen.check(record(6, "小店", region="520304001")) is None
    assert seen.check(record(7, "小店", region="520304005")) is None  # another township
    assert seen.check(record(8, "小店", region="520304")) is not None  # agrees with row 6


NOW = datetime(2026, 11, 30, tzinfo=UTC)


def organization(**values: Any) -> Organization:
    fields: dict[str, Any] = {
        "id": "org-1",
        "credit_code": "",
        "name": "遵义市某某面馆",
        "kind": "enterprise",
        "region_code": "520304005",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Organization(**{**fields, **values})


def test_a_provisional_file_takes_the_code_a_source_gives() -> None:
    provisional = organization()
    assert provisional.provisional
    assert provisional.public_name == "遵**"
    code = credit_code(3, county="520304")
    merge = merge_record(provisional, record(2, "遵义市某某面馆", code), None)
    assert merge.changes == {"credit_code": code}
    assert merge.conflicts == []
    registered = organization(credit_code=credit_code(4, county="520304"))
    assert not registered.provisional
    conflict = merge_record(registered, record(2, "遵义市某某面馆", code), None)
    assert [c.field for c in conflict.conflicts] == ["credit_code"]


def test_only_the_registration_authority_closes_a_file() -> None:
    operating = organization(credit_code=credit_code(5, county="520304"))
    said = record(2, operating.name, operating.credit_code)
    said.values["operating_status"] = "revoked"
    assert merge_record(operating, said, None, decides_status=True).changes == {
        "operating_status": "revoked"
    }
    heard = merge_record(operating, said, None, decides_status=False)
    assert [c.field for c in heard.conflicts] == ["operating_status"]
    said.values["operating_status"] = "suspended"  # not final: the office decides
    assert [
        c.field for c in merge_record(operating, said, None, decides_status=True).conflicts
    ] == ["operating_status"]
    assert SOURCES["market_supervision"].decides_status
    assert SOURCES["civil_affairs"].decides_status
    assert not SOURCES["survey"].decides_status

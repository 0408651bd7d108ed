"""`read_row`: a row of an office's file as a record, or every reason it is rejected."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.registry.domain.imports import (
    SOURCES,
    MissingColumns,
    RowError,
    SourceRecord,
    map_header,
    read_row,
)
from tests.registry.imports_data import MARKET_HEADER, credit_code, market_row

SCOPE = "140212"


def read(
    cells: Sequence[str], header: Sequence[str] = MARKET_HEADER, source: str = "market_supervision"
) -> SourceRecord | list[RowError]:
    return read_row(map_header(SOURCES[source], header), 2, cells, SCOPE)


def reasons(cells: Sequence[str], header: Sequence[str] = MARKET_HEADER) -> list[tuple[str, str]]:
    result = read(cells, header)
    assert isinstance(result, list), result
    return [(e.field, e.reason) for e in result]


def test_a_valid_row_becomes_a_record_of_what_it_states() -> None:
    record = read(market_row(1))
    assert isinstance(record, SourceRecord)
    assert (record.row, record.credit_code, record.region_code, record.kind) == (
        2,
        credit_code(1),
        "140212101",
        "enterprise",
    )
    assert record.values == {
        "credit_code": credit_code(1),
        "name": "大同市新荣区导入测试1有限公司",
        "region_code": "140212101",
        "address": "新荣区测试路1号",
        "industry_code": "I6513",
        "staff_count": 11,
        "operating_status": "operating",
    }  # the legal representative's name, ID number and phone are never read


def test_every_reason_of_a_row_is_given_in_field_order() -> None:
    cells = market_row(
        1,
        统一社会信用代码=credit_code(1, kind="12"),
        行政区划代码="140211001000",
        住所="路" * 301,
        行业代码="Z99",
        从业人数="十二",
        登记状态="不明",
    )
    assert [field for field, _ in reasons(cells)] == [
        "credit_code",
        "region_code",
        "address",
        "industry_code",
        "operating_status",
        "staff_count",
    ]
    assert "public institution" in reasons(cells)[0][1]
    assert reasons(cells)[1][1] == "region 140211001 is outside your region 140212"


def test_required_fields_come_first() -> None:
    cells = market_row(1, 企业名称="", 从业人数="-1")
    assert reasons(cells) == [
        ("name", "required and empty"),
        ("staff_count", "must not be negative"),
    ]


def test_the_region_can_come_from_the_credit_code_but_not_from_a_name() -> None:
    without_region = [c for c in MARKET_HEADER if c != "行政区划代码"]
    cells = [
        c for c, name in zip(market_row(1), MARKET_HEADER, strict=True) if name != "行政区划代码"
    ]
    record = read(cells, without_region)
    assert isinstance(record, SourceRecord)
    assert record.region_code == "140212"
    assert reasons(market_row(1, 行政区划代码="新荣镇")) == [
        ("region_code", "must be a division code (行政区划代码), not a name")
    ]


def test_a_stated_kind_must_be_known_and_names_the_kind() -> None:
    header = [*MARKET_HEADER, "主体类型"]
    record = read([*market_row(1, 统一社会信用代码=credit_code(1, kind="52")), "企业"], header)
    assert isinstance(record, SourceRecord)
    assert record.kind == "enterprise"  # stated, over the code's registering authority
    assert "kind" not in record.values
    unknown = read([*market_row(1, 统一社会信用代码=credit_code(1, kind="52")), "外星机构"], header)
    assert isinstance(unknown, SourceRecord)  # an unknown kind is left out, not the row
    assert unknown.kind == "social_organization"  # from the code's registering authority
    assert [(e.field, e.reason, e.rejected) for e in unknown.left_out] == [
        ("kind", "not a kind the registry knows (企业, 社会组织 ...)", False)
    ]


def test_a_file_without_a_required_column_is_refused_whole() -> None:
    with pytest.raises(MissingColumns) as caught:
        map_header(SOURCES["market_supervision"], ["企业名称", "住所"])
    assert caught.value.missing == ["credit_code"]

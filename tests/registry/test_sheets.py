"""Reading the offices' CSV and XLSX files: encodings, delimiters, cells, and every refusal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from services.registry.sheets import SheetError, iter_numbered, iter_sheet

HEADER = "统一社会信用代码,企业名称,从业人数\n"
ROW = "91140212MA0000001X,大同市测试有限公司,12\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"], ids=["utf8", "bom", "gb18030", "gbk"]
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "a.csv", (HEADER + ROW).encode(encoding))
    rows = list(iter_sheet(path, "a.csv"))
    assert rows == [
        ["统一社会信用代码", "企业名称", "从业人数"],
        ["91140212MA0000001X", "大同市测试有限公司", "12"],
    ]


def test_tabs_quotes_blank_rows_and_row_numbers(tmp_path: Path) -> None:
    text = '\n名称\t地址\n"甲, 有限公司"\t" 多行\n地址 "\n\n乙\t\n'
    path = write(tmp_path, "a.txt", text.encode())
    assert list(iter_numbered(path, "a.txt")) == [
        (2, ["名称", "地址"]),
        (3, ["甲, 有限公司", "多行\n地址"]),
        (5, []),
        (6, ["乙"]),
    ]


def test_a_file_that_mixes_encodings_names_the_line(tmp_path: Path) -> None:
    rows = 30_000  # past the part the encoding is detected from
    data = (HEADER + ROW * rows).encode() + "甲有限公司,1\n".encode("gbk")
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(SheetError) as caught:
        list(iter_sheet(path, "a.csv"))
    assert "not valid UTF-8" in caught.value.reason
    assert f"line {rows + 2}" in caught.value.reason


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        ("名称\n".encode("utf-16"), "UTF-16"),
        (b"\x80\xff\xfe\xff,\xff\n", "not UTF-8 or GB18030"),
        (b"PK\x03\x04rest", "zip archive"),
        (b"91140212MA0000001X,12\n", "no header row"),
    ],
    ids=["zero-bytes", "blank", "utf16", "binary-garbage", "xlsx-named-csv", "no-header"],
)
def test_unreadable_csv_files_say_why(tmp_path: Path, data: bytes, expected: str) -> None:
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(SheetError) as caught:
        list(iter_sheet(path, "a.csv"))
    assert expected in caught.value.reason


@pytest.mark.parametrize("name", ["a.xls", "a.pdf", "noext"])
def test_unsupported_types_are_refused_before_reading(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, b"whatever")
    with pytest.raises(SheetError, match="unsupported file type"):
        iter_sheet(path, name).__next__()


def test_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", (HEADER + ROW * 100).encode())
    with pytest.raises(SheetError, match="over the limit"):
        iter_numbered(path, "a.csv", max_bytes=1024)
    assert len(list(iter_sheet(path, "a.csv", max_bytes=1 << 20))) == 101


def xlsx(tmp_path: Path, rows: list[list[object]], *, hidden_first: bool = False) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if hidden_first:
        sheet.title = "说明"
        sheet["A1"] = "=1+1"  # a formula in a hidden sheet does not matter
        sheet.sheet_state = "hidden"
        sheet = workbook.create_sheet("数据")
    for row in rows:
        sheet.append(row)
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    return path


def test_xlsx_cells_become_plain_strings(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path,
        [
            [None],
            ["名称 ", "人数", "比例", "成立日期", "登记时间", "是否"],
            [" 甲有限公司", 12, 0.5, dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 8, 30), True],
            [],
            ["乙", 13800138000, None, None, None, None],
        ],
        hidden_first=True,
    )
    assert list(iter_numbered(path, "a.xlsx")) == [
        (2, ["名称", "人数", "比例", "成立日期", "登记时间", "是否"]),
        (3, ["甲有限公司", "12", "0.5", "2020-01-02", "2020-01-02T08:30:00", "TRUE"]),
        (4, []),
        (5, ["乙", "13800138000"]),
    ]


def test_an_xlsx_with_formulas_names_the_cell(tmp_path: Path) -> None:
    path = xlsx(tmp_path, [["名称", "人数"], ["甲", 3], ["乙", "=B2*2"]])
    with pytest.raises(SheetError) as caught:
        list(iter_sheet(path, "a.xlsx"))
    assert "formulas" in caught.value.reason
    assert "cell B3" in caught.value.reason


def test_a_broken_xlsx_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a.xlsx", (HEADER + ROW).encode())
    with pytest.raises(SheetError, match=r"not a valid \.xlsx"):
        list(iter_sheet(path, "a.xlsx"))


def test_a_large_csv_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="gb18030") as out:
        out.write(HEADER)
        for i in range(200_000):
            out.write(f"91140212MA{i:07d}X,大同市测试{i}有限公司,{i % 90}\n")
    rows = iter_sheet(path, "big.csv")
    assert next(rows) == ["统一社会信用代码", "企业名称", "从业人数"]
    last: list[str] = []
    count = 0
    for row in rows:
        count += 1
        last = row
    assert count == 200_000
    assert last == ["91140212MA0199999X", "大同市测试199999有限公司", str(199_999 % 90)]

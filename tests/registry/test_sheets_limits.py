"""Spreadsheets read within limits set before reading (issue 12): every hostile file refused
before calamine sees it, naming the limit and what was measured; cells placed as calamine places
them; CSV bounded the same way."""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine

from services.registry.settings import RegistrySettings
from services.registry.sheets import OverLimit, SheetError, SheetLimits, iter_rows, iter_sheet
from services.registry.sheets.limits import ReadClock
from services.registry.sheets.xlsx_check import check_workbook
from tests.registry.fixtures.make_hostile import HEADER_ROW, HOSTILE, sheet, xlsx

HOSTILE_DIR = Path(__file__).parent / "fixtures" / "hostile"
SMALL = SheetLimits(max_rows=1000)  # what the small fixtures of long sheets are made for


def read(path: Path, limits: SheetLimits | None = None, name: str = "a.xlsx") -> list[Any]:
    return list(iter_rows(path, name, limits=limits))


def refusal(path: Path, limits: SheetLimits | None = None) -> SheetError:
    with pytest.raises(SheetError) as caught:
        read(path, limits)
    return caught.value


def test_every_hostile_fixture_is_committed() -> None:
    assert sorted(p.name for p in HOSTILE_DIR.glob("*.xlsx")) == sorted(HOSTILE)
    assert (HOSTILE_DIR / "far-cell.xlsx").stat().st_size < 2000


@pytest.mark.parametrize(
    ("name", "limits", "limit", "found", "said"),
    [
        ("far-cell.xlsx", None, "sheet_max_rows", 1_048_576, "row 1,048,576"),
        ("z2000000.xlsx", None, "sheet_max_rows", 2_000_000, "row 2,000,000"),
        ("far-cell-without-references.xlsx", None, "sheet_max_columns", 201, "cell GS2"),
        ("declared-dimension.xlsx", None, "sheet_max_rows", 1_048_576, "A1:XFD1048576"),
        ("shared-strings-count.xlsx", None, "sheet_max_cells", 4 * 10**12, "distinct texts"),
        ("many-rows.xlsx", SMALL, "sheet_max_rows", 1001, "over the limit of 1,000 rows"),
        ("rows-without-references.xlsx", SMALL, "sheet_max_rows", 1001, "cell A1001"),
        ("compression-bomb.xlsx", None, "sheet_max_compression_ratio", 1019, "100 to 1"),
    ],
)
def test_a_file_over_a_limit_is_refused_naming_it(
    name: str, limits: SheetLimits | None, limit: str, found: int, said: str
) -> None:
    refused = refusal(HOSTILE_DIR / name, limits)
    assert isinstance(refused, OverLimit)
    assert refused.context["limit"] == limit
    assert refused.context["found"] == pytest.approx(found, rel=0.01)
    assert said in refused.reason
    assert refused.fields == [("file", refused.reason)]


def test_the_bomb_is_refused_for_what_it_unpacks_to() -> None:
    limits = SheetLimits(max_ratio=10_000, max_unpacked_bytes=10 << 20)
    refused = refusal(HOSTILE_DIR / "compression-bomb.xlsx", limits)
    assert isinstance(refused, OverLimit)
    assert refused.context["limit"] == "sheet_max_unpacked_bytes"
    assert refused.context["found"] > 30 << 20
    assert "over the limit of 10.0 MB" in refused.reason


def test_a_part_unpacking_to_more_than_it_declares_is_refused() -> None:
    refused = refusal(HOSTILE_DIR / "lying-sizes.xlsx")
    assert "unpacks to more than the 600 bytes it declares" in refused.reason


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("formula-broken-comment.xlsx", "xl/workbook.xml is not valid XML"),
        ("formula-doctype.xlsx", "document type or entity declaration"),
        ("formula-missing-part.xlsx", "no part xl/worksheets/gone.xml"),
        ("entities.xlsx", "document type or entity declaration"),
        ("macros.xlsx", "contains macros (xl/vbaProject.bin)"),
        ("hidden-twin.xlsx", "two sheets named '数据'"),
        ("date-out-of-range.xlsx", "cannot be read (PanicException)"),
    ],
)
def test_the_check_fails_closed(name: str, said: str) -> None:
    """Each of these was read before (the formula's cached value imported) or crashed."""
    assert said in refusal(HOSTILE_DIR / name).reason


def test_a_formula_in_a_cell_is_refused_naming_the_cell(tmp_path: Path) -> None:
    rows = HEADER_ROW + '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><x:f>A2*2</x:f></c></row>'
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(sheet(rows).replace("<worksheet ", '<worksheet xmlns:x="x" ')))
    assert "(the first in cell B2)" in refusal(path).reason


def test_a_list_validation_formula_outside_the_cells_is_not_a_formula(tmp_path: Path) -> None:
    """Excel writes a drop-down list drawn from another sheet as `<xm:f>` after the cells."""
    extension = (
        '<extLst><ext xmlns:x14="x14" uri="x"><x14:dataValidations count="1">'
        '<x14:dataValidation type="list"><x14:formula1><xm:f xmlns:xm="xm">选项!$A$1:$A$3</xm:f>'
        "</x14:formula1><xm:sqref xmlns:xm='xm'>B2:B9</xm:sqref></x14:dataValidation>"
        "</x14:dataValidations></ext></extLst>"
    )
    xml = sheet(HEADER_ROW).replace("</worksheet>", extension + "</worksheet>")
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(xml))
    assert read(path) == [(1, ["名称", "人数"])]


@pytest.mark.parametrize(
    ("rows", "extent"),
    [
        ('<row r="3"><c r="C3"><v>1</v></c></row><row><c/><c><v>2</v></c></row>', (4, 3)),
        ("<row><c><v>1</v></c><c/><c><v>3</v></c></row><row/><row><c><v>5</v></c></row>", (3, 3)),
        ('<row r="2"><c r="B2"><v>1</v></c><c><v>2</v></c></row>'
         '<row><c r="E4"/><c><v>3</v></c></row>', (4, 6)),  # E4 is empty: calamine ends at F3
        ('<row r="7"/><row><c><v>1</v></c></row><row r="2"><c><v>2</v></c></row>', (8, 1)),
    ],
    ids=["explicit-then-implicit", "implicit", "mixed", "rows-back"],
)  # fmt: skip
def test_cells_are_placed_where_calamine_places_them(
    tmp_path: Path, rows: str, extent: tuple[int, int]
) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(sheet(rows)))
    plan = check_workbook(path, SheetLimits(), ReadClock(60))
    assert (plan.rows, plan.columns) == extent
    calamine = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    end_row, end_col = calamine.end or (0, 0)
    # calamine's grid ends at its last value; the check counts empty cells too: never less
    assert plan.rows >= end_row + 1
    assert plan.columns >= end_col + 1


@pytest.mark.parametrize(
    "rows",
    [
        HEADER_ROW + '<row r="9" spans="1:2"><c r="B9" s="1"><v>1</v></c><c r="AA12"/></row>',
        HEADER_ROW + '<row r="3"><c r="C3"><f>1+1</f><v>2</v></c></row>',
        HEADER_ROW + '<row r="300"><c r="A300"><v>1</v></c></row>',
    ],
    ids=["extent", "formula", "over"],
)
def test_the_plain_and_the_exact_scan_agree(tmp_path: Path, rows: str) -> None:
    """A comment sends a sheet to the exact scan (expat calls back for every element)."""
    answers: list[object] = []
    for xml in (sheet(rows), sheet(rows.replace("</row>", "<!-- exact --></row>", 1))):
        path = tmp_path / "a.xlsx"
        path.write_bytes(xlsx(xml))
        try:
            plan = check_workbook(path, SheetLimits(max_rows=200), ReadClock(60))
        except SheetError as exc:
            answers.append(exc.reason)
        else:
            answers.append((plan.rows, plan.columns))
    assert answers[0] == answers[1]


def test_a_sheet_laid_out_otherwise_than_excel_writes_is_refused(tmp_path: Path) -> None:
    rows = '<row r="1"><c><v>1</v><row r="1"/></c></row>'  # a row inside a cell
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(sheet(rows)))
    assert "not laid out as Excel writes a worksheet" in refusal(path).reason


def test_a_workbook_saved_by_excel_or_openpyxl_reads_unchanged(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["名称", "人数"])
    ws.append(["甲有限公司", 12])
    path = tmp_path / "upload"  # as the staff-list route names it: no suffix
    book.save(path)
    assert read(path) == [(1, ["名称", "人数"]), (2, ["甲有限公司", "12"])]


def test_reading_longer_than_allowed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(sheet(HEADER_ROW)))
    refused = refusal(path, SheetLimits(max_seconds=1e-9))
    assert isinstance(refused, OverLimit)
    assert refused.context["limit"] == "sheet_max_seconds"


def test_the_time_limit_counts_reading_only() -> None:
    def slow_rows() -> Iterator[int]:
        for row in range(3):
            time.sleep(0.04)  # the reader's own work: counted
            yield row

    clock = ReadClock(0.1)
    for _ in clock.timed(iter(range(3))):
        time.sleep(0.05)  # the caller's work between rows (an import's writes): not counted
    assert clock.spent < 0.1
    with pytest.raises(OverLimit, match=r"more than 0\.1 s"):
        for _ in ReadClock(0.1).timed(slow_rows()):
            pass


def test_settings_give_the_limits() -> None:
    settings = RegistrySettings(
        import_max_bytes=2048, sheet_max_rows=500, sheet_max_compression_ratio=20
    )
    limits = settings.sheet_limits()
    assert (limits.max_bytes, limits.max_rows, limits.max_ratio) == (2048, 500, 20)
    default = RegistrySettings().sheet_limits()
    assert default == SheetLimits()
    # a real survey has 100,000 rows of a few dozen columns: the defaults must let it through
    assert default.max_rows > 100_000
    assert default.max_cells >= 100_001 * 60


# -- CSV -----------------------------------------------------------------------------------------

HEADER = "统一社会信用代码,企业名称,从业人数\n"


@pytest.mark.parametrize(
    ("text", "limits", "limit", "said"),
    [
        (HEADER + "9114,甲,1\n" * 20, SheetLimits(max_rows=10), "sheet_max_rows", "10 rows"),
        (HEADER + ",".join(["x"] * 12) + "\n", SheetLimits(max_columns=10), "sheet_max_columns",
         "line 2 has 12 columns"),
        (HEADER + "甲" * 2000 + "\n", SheetLimits(max_line_bytes=1024), "sheet_max_line_bytes",
         "line 2 is longer than"),
    ],
    ids=["rows", "columns", "line"],
)  # fmt: skip
def test_a_csv_over_a_limit_is_refused(
    tmp_path: Path, text: str, limits: SheetLimits, limit: str, said: str
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode())
    with pytest.raises(OverLimit) as caught:
        list(iter_sheet(path, "a.csv", limits=limits))
    assert caught.value.context["limit"] == limit
    assert said in caught.value.reason


def test_a_csv_without_newlines_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(HEADER.encode() + b"x," * (3 << 20))
    with pytest.raises(OverLimit, match=r"line 2 is longer than 1\.0 MB"):
        list(iter_sheet(path, "a.csv"))


def test_only_the_parts_calamine_reads_are_read(tmp_path: Path) -> None:
    """A large picture (a part calamine never opens) counts by its declared size only."""
    data = xlsx(sheet(HEADER_ROW), extra={"xl/media/image1.png": bytes(range(256)) * 8192})
    path = tmp_path / "a.xlsx"
    path.write_bytes(data)
    assert read(path) == [(1, ["名称", "人数"])]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = sum(i.file_size for i in archive.infolist())
    refused = refusal(path, SheetLimits(max_unpacked_bytes=total - 1))
    assert isinstance(refused, OverLimit)
    assert refused.context["found"] == total


def test_an_archive_of_too_many_parts_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(sheet(HEADER_ROW), extra={f"xl/media/{n}.bin": b"" for n in range(30)}))
    refused = refusal(path, SheetLimits(max_parts=20))
    assert isinstance(refused, OverLimit)
    assert refused.context == {"limit": "sheet_max_parts", "max": 20, "found": 35}


def test_a_mangled_workbook_gives_rows_or_a_sheet_error_never_anything_else(
    tmp_path: Path,
) -> None:
    """Pieces of the hostile files spliced into a real workbook's parts, 300 times (seeded):
    each read ends in rows or a SheetError (an abort would end this test run)."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["名称", "人数"])
    for n in range(20):
        ws.append([f"甲{n}", n])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    pieces = [
        b'r="XFD1048576"', b'r="A999999"', b"<c>", b"</c>", b"<row>", b"</row>", b"<row/>",
        b"<c/>", b"<!-- x -->", b"<f>1</f>", b"9", b":", b"<![CDATA[<c r='XFD9'>]]>",
        b'uniqueCount="99999999999"', b"&#65;", b'<x:c r="ZZ9">', b"<!DOCTYPE x>",
    ]  # fmt: skip
    targets = ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"]
    rng = random.Random(12)
    outcomes = {"rows": 0, "refused": 0}
    path = tmp_path / "a.xlsx"
    for _ in range(300):
        target = rng.choice(targets)
        data = bytearray(parts[target])
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                data[at:at] = rng.choice(pieces)
            else:
                del data[at : at + rng.randint(1, 12)]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in parts.items():
                archive.writestr(name, bytes(data) if name == target else content)
        path.write_bytes(out.getvalue())
        try:
            read(path)
        except SheetError:
            outcomes["refused"] += 1
        else:
            outcomes["rows"] += 1
    assert outcomes["rows"] > 0
    assert outcomes["refused"] > 0

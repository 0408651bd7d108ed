"""Reading the offices' spreadsheets (CSV and XLSX) as rows of strings, streamed.

`iter_sheet(path, filename)` yields the header row first, then every following row as a list of
stripped strings (numbers without a spurious `.0`, dates in ISO form); a blank row comes as `[]`
so a caller that counts rows keeps the office's row numbers. `iter_numbered` yields the same rows
with their row number as the office sees it (the line of a CSV record, the row of an XLSX sheet).
`iter_rows` yields every row from the first, numbered, for a caller that finds the header itself
(an import's header may stand below a title).

Everything a file can get wrong is a `SheetError` whose `.reason` an office understands: a
refusal of the `file` field (422 when a request brings the file, a rejected job when a worker
reads it later).

* CSV: UTF-8 (with or without BOM) or GB18030 (which covers GBK and GB2312), comma or tab,
  decoded and parsed as it is read: a 50 MB file never sits in memory.
* XLSX: python-calamine reads the first visible worksheet (its cells live in Rust, rows are
  handed over one at a time). Calamine hides formulas behind their cached values, so the
  worksheet's XML is scanned first, streamed from the zip, and a formula anywhere in it is
  refused naming the cell: an import must carry values, not calculations that the office's
  copy of Excel evaluated and ours cannot check.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import python_calamine

from libs.common import refusals

__all__ = [
    "SUPPORTED_SUFFIXES",
    "SheetError",
    "iter_numbered",
    "iter_rows",
    "iter_sheet",
    "sheet_kind",
]

SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx")
_SAMPLE_BYTES = 1 << 20  # what encoding and delimiter detection look at
_XML_CHUNK = 1 << 20
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?\br="([A-Z]+[0-9]+)"')
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"

csv.field_size_limit(1 << 20)


class SheetError(refusals.Invalid):
    """A file that cannot be read as a sheet; `reason` says why in words an office understands."""

    def __init__(self, reason: str) -> None:
        super().__init__("file", reason, message=reason)


def sheet_kind(filename: str) -> str:
    """`csv` or `xlsx` by the file's name, or a SheetError naming the types accepted."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in (".xls", ".et", ".wps", ".ods", ".numbers"):
        raise SheetError(
            f"unsupported file type {suffix}: save the sheet as .xlsx (Excel 2007 or later) "
            "or as .csv and upload that"
        )
    shown = suffix or "(no extension)"
    raise SheetError(f"unsupported file type {shown}: upload a .csv or .xlsx file")


def iter_sheet(path: Path, filename: str, *, max_bytes: int | None = None) -> Iterator[list[str]]:
    """The header row, then each data row (blank rows as `[]`), as lists of strings."""
    for _, cells in iter_numbered(path, filename, max_bytes=max_bytes):
        yield cells


def iter_numbered(
    path: Path, filename: str, *, max_bytes: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for the header row (leading blank rows skipped) and every row after."""
    return _from_header(iter_rows(path, filename, max_bytes=max_bytes))


def iter_rows(
    path: Path, filename: str, *, max_bytes: int | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row of the sheet, the first included; a blank row as `[]`.

    The file's type, size and emptiness are checked at once; what is wrong inside it is raised
    while it is read."""
    kind = sheet_kind(filename)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise SheetError(
            f"the file is {size / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB: "
            "split it into smaller files"
        )
    if size == 0:
        raise SheetError("the file is empty")
    rows = _csv_rows(path) if kind == "csv" else _xlsx_rows(path)
    return ((number, _trim(cells) if any(cells) else []) for number, cells in rows)


def _from_header(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    header: tuple[int, list[str]] | None = None
    for number, cells in rows:
        if header is None:
            if not any(cells):
                continue
            if not any(_is_column_name(cell) for cell in cells):
                raise SheetError(
                    f"no header row: row {number} holds data, not column names; "
                    "the first row must name the columns"
                )
            header = (number, cells)
            yield header
            continue
        yield number, cells
    if header is None:
        raise SheetError("the file is empty: it has no header row and no data")


def _is_column_name(cell: str) -> bool:
    """Chinese text, or words without digits: not a number, a date or a code."""
    return bool(_CJK.search(cell)) or (bool(_LETTER.search(cell)) and not _DIGIT.search(cell))


def _trim(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------


def _csv_encoding(sample: bytes) -> str:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SheetError("the file is UTF-16 text: save it as UTF-8 (or GB18030/GBK) CSV")
    if sample.startswith(b"PK\x03\x04"):
        raise SheetError("the file is a zip archive (an .xlsx?) named as CSV: upload it as .xlsx")
    if b"\x00" in sample:
        raise SheetError("the file is not text: it holds binary data, not CSV")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        before = sample[: exc.start]
        if b"\n" in before and _CJK.search(before.decode("utf-8")):  # UTF-8 lines, then not
            line = before.count(b"\n") + 1
            raise SheetError(
                f"the file is not valid UTF-8 text at line {line}: it mixes encodings; "
                "save it as CSV UTF-8 and upload again"
            ) from None
    else:
        return "utf-8"
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        raise SheetError(
            "the file is not UTF-8 or GB18030/GBK text: save it as CSV UTF-8 and upload again"
        ) from None
    return "gb18030"


def _csv_delimiter(sample: str) -> str:
    first = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines, decoded one by one so a bad byte is reported on its own line (a newline
    byte never occurs inside a UTF-8 or GB18030 character, so splitting bytes on it is safe)."""
    name = "UTF-8" if encoding.startswith("utf-8") else "GB18030/GBK"
    after_first = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is on line 1 only
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                text = line.decode(encoding if number == 1 else after_first)
            except UnicodeDecodeError:
                raise SheetError(
                    f"the file is not valid {name} text at line {number}: it mixes encodings; "
                    "save it as CSV UTF-8 and upload again"
                ) from None
            yield text


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE_BYTES)
    encoding = _csv_encoding(sample)
    # The sample may end inside a character; the delimiter is read from its first line only.
    delimiter = _csv_delimiter(sample[:65536].decode(encoding, errors="ignore"))
    reader = csv.reader(_decoded_lines(path, encoding), delimiter=delimiter)
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SheetError(f"the CSV is malformed near line {reader.line_num}: {exc}") from None
        yield line, [cell.strip() for cell in record]
        line = reader.line_num + 1


# ------------------------------------------------------------------------------------------------
# XLSX
# ------------------------------------------------------------------------------------------------


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    if not zipfile.is_zipfile(path):
        raise SheetError("the file is not a valid .xlsx workbook (it is not a zip archive)")
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise SheetError("the workbook is password-protected: remove the password") from None
    except Exception as exc:  # noqa: BLE001 - calamine raises several kinds for a broken file
        raise SheetError(f"the .xlsx workbook cannot be read ({type(exc).__name__})") from None
    try:
        index, name = _first_visible_worksheet(workbook)
        _refuse_formulas(path, name)
        try:
            sheet = workbook.get_sheet_by_index(index)
        except Exception as exc:  # noqa: BLE001
            raise SheetError(f"sheet {name!r} cannot be read ({type(exc).__name__})") from None
        # iter_rows starts at the sheet's first row (row 1), not at its first used row.
        for offset, row in enumerate(sheet.iter_rows()):
            yield offset + 1, [_cell(value) for value in row]
    finally:
        workbook.close()


def _first_visible_worksheet(workbook: Any) -> tuple[int, str]:
    for index, meta in enumerate(workbook.sheets_metadata):
        if (
            meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            and meta.visible == python_calamine.SheetVisibleEnum.Visible
        ):
            return index, str(meta.name)
    raise SheetError("the workbook has no visible worksheet")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip entry holding the worksheet named `sheet_name` (via workbook.xml and its rels)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    rel_id = next(
        (
            sheet.get(f"{_NS_REL}id")
            for sheet in workbook.iter(f"{_NS_MAIN}sheet")
            if sheet.get("name") == sheet_name
        ),
        None,
    )
    for rel in rels.iter(f"{_NS_PKG}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    return None


def _refuse_formulas(path: Path, sheet_name: str) -> None:
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet_name)
        if part is None or part not in archive.namelist():
            return
        with archive.open(part) as stream:
            cell = _first_formula_cell(stream)
    if cell is not None:
        raise SheetError(
            f"the sheet {sheet_name!r} contains formulas (the first in cell {cell}): "
            "copy the cells and paste them as values, then upload again"
        )


def _first_formula_cell(stream: IO[bytes]) -> str | None:
    """Where the first `<f>` element is, scanning the XML in chunks (a cell never needs more than
    the overlap carried between them to see its own reference)."""
    carry = b""
    while True:
        chunk = stream.read(_XML_CHUNK)
        if not chunk:
            return None
        data = carry + chunk
        found = _FORMULA.search(data)
        if found is not None:
            refs = list(_CELL_REF.finditer(data, 0, found.start()))
            return refs[-1].group(1).decode() if refs else "(unknown cell)"
        carry = data[-4096:]

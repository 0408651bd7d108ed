"""Where the cells of a worksheet stand, read from its XML as calamine's cell reader reads it.

`scan_sheet` streams the sheet's XML and returns its extent (last row, last column), refusing it
as soon as it reaches past a limit, and refusing a formula in a cell. Two ways, one answer:

* plain (most files, and fast): when every cell carries its reference (`<c r="B12">`, as Excel,
  WPS and openpyxl write them) and the XML has no comment, CDATA or processing instruction, the
  cell and row tags are found with one regular expression over the text, while expat, with no
  element handler, checks the XML is well-formed (so no tag hides inside an attribute). A cell's
  position is then its reference alone.
* exact: otherwise, expat calls back for every element and the scan places each cell as
  calamine does (a cell without `r` after the previous cell, a row without `r` after the
  previous row), refusing a layout Excel never writes (a cell outside a row, a row in a cell).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from xml.parsers import expat

from services.registry.sheets.limits import OverLimit, SheetError, SheetLimits

__all__ = ["column_name", "local_name", "parse_streaming", "scan_sheet"]

_REF = re.compile(r"([A-Za-z]*)([0-9]+)")
_PLAIN_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,8})").fullmatch  # as Excel writes them
_TAG = re.compile(
    rb"<(c|row|f|dimension)(?=[\s/>])"
    rb'(?:\s+r="([A-Z]{1,3})?([1-9][0-9]{0,8})")?'  # the reference, when it comes first
    rb"([^>]*)"
)
_PREFIXED = [  # a prefixed name of those (<x:c>): the plain scan leaves the sheet to the exact one
    b":" + name + end
    for name in (b"c", b"row", b"f", b"dimension")
    for end in (b" ", b"\t", b"\r", b"\n", b"/", b">")
]
_REF_ATTRIBUTE = re.compile(rb"""\sref\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CARRY_MAX = 4 << 20


def scan_sheet(
    sheet: str,
    chunks: Callable[[], Iterator[bytes]],
    limits: SheetLimits,
    *,
    restart: Callable[[], None],
) -> tuple[int, int]:
    """(last row, last column), 1-based, of the sheet whose XML `chunks()` gives; `restart` is
    called before the XML is read a second time (the exact way, when the plain one cannot)."""
    plain = _PlainScan(sheet, limits)
    try:
        plain.feed_all(chunks())
    except _NotPlain:
        restart()
        exact = _ExactScan(sheet, limits)
        exact.feed_all(chunks())
        return exact.max_row, exact.max_col
    return plain.max_row, plain.max_col


class _NotPlain(Exception):
    """The sheet needs the exact scan."""


def local_name(name: str) -> str:
    """The local name as calamine's XML reader gives it (after the first colon)."""
    return name.partition(":")[2] or name


def parse_streaming(
    part: str,
    chunks: Iterator[bytes],
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None,
) -> None:
    """Parse a part's XML as it comes, calling `start` (and `end`) for every element."""
    parser = _parser(part)
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    with _xml_errors(part):
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)


def _parser(part: str) -> Any:
    """An expat parser (no namespace processing: names as written) refusing any DTD."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_declaration(part)
    parser.EntityDeclHandler = _refuse_declaration(part)
    return parser


@contextmanager
def _xml_errors(part: str) -> Iterator[None]:
    try:
        yield
    except expat.ExpatError as exc:
        raise SheetError(
            f"the .xlsx workbook cannot be read: its part {part} is not valid XML "
            f"({expat.ErrorString(exc.code)}, line {exc.lineno})"
        ) from None


def _refuse_declaration(part: str) -> Callable[..., None]:
    def refuse(*_: object) -> None:
        raise SheetError(
            f"the workbook's part {part} contains a document type or entity declaration, "
            "which Excel never writes: the file is refused"
        )

    return refuse


# -- the sheet -----------------------------------------------------------------------------------


class _PlainScan:
    """Cells found by their tags, each placed by its own reference (see the module's doc)."""

    def __init__(self, sheet: str, limits: SheetLimits) -> None:
        self.sheet = sheet
        self.limits = limits
        self.max_row = 0
        self.max_col = 0
        self.cell = (0, 0)
        self.formula: tuple[int, int] | None = None
        self.plain = True

    def feed_all(self, chunks: Iterator[bytes]) -> None:
        parser = _parser(f"of the sheet {self.sheet!r}")
        parser.CommentHandler = self._not_plain
        parser.StartCdataSectionHandler = self._not_plain
        parser.ProcessingInstructionHandler = self._not_plain
        carry = b""
        with _xml_errors(f"of the sheet {self.sheet!r}"):
            for chunk in chunks:
                parser.Parse(chunk, False)
                if not self.plain:
                    raise _NotPlain
                # Well-formed XML has no "<" inside a tag: all before the last one is whole tags.
                text = carry + chunk
                cut = text.rfind(b"<")
                if cut < 0:
                    cut = 0
                self._tags(text[:cut])
                carry = text[cut:]
                if len(carry) > _CARRY_MAX:
                    raise _NotPlain
            parser.Parse(b"", True)
        if not self.plain:
            raise _NotPlain
        self._tags(carry)
        _refuse_formula(self.sheet, self.formula)

    def _not_plain(self, *_: object) -> None:
        self.plain = False

    def _tags(self, text: bytes) -> None:
        if any(name in text for name in _PREFIXED):
            raise _NotPlain
        for name, letters, digits, rest in _TAG.findall(text):
            if name == b"c":
                col = _COLUMN_OF.get(letters)
                if col is None:  # no reference (or not first, or not as Excel writes it)
                    raise _NotPlain
                row = int(digits)
                if row > self.max_row or col > self.max_col:
                    self._reach(row, col)
                self.cell = (row - 1, col - 1)
            elif name == b"f":
                # in a plain sheet a formula stands nowhere but in a cell: the last one found
                if self.formula is None:
                    self.formula = self.cell
            elif name == b"row":
                if digits and int(digits) > self.max_row:
                    self._reach(int(digits), self.max_col, cell=False)
            else:  # dimension
                declared = _REF_ATTRIBUTE.search(rest)
                if declared is None:
                    raise _NotPlain
                ref = (declared.group(1) or declared.group(2)).decode("utf-8", "replace")
                _declared(self.sheet, ref, self.limits)

    def _reach(self, rows: int, cols: int, *, cell: bool = True) -> None:
        self.max_row = max(rows, self.max_row)
        self.max_col = max(cols, self.max_col)
        where = f"cell {column_name(cols)}{rows}" if cell else None
        _check_extent(self.sheet, self.max_row, self.max_col, where, self.limits)


def column_name(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


_COLUMNS = {column_name(n): n - 1 for n in range(1, 16385)}  # A..XFD, 0-based
_COLUMN_OF = {name.encode(): n + 1 for name, n in _COLUMNS.items()}  # 1-based


class _ExactScan:
    """Every cell's position as calamine's cell reader computes it (0-based `row`, `col`; a
    cell without `r` stands after the previous one, a row without `r` after the previous row),
    the sheet's extent (1-based `max_row`, `max_col`) and its first formula."""

    def __init__(self, sheet: str, limits: SheetLimits) -> None:
        self.sheet = sheet
        self.limits = limits
        self.depth = 0
        self.data_depth = 0  # of <sheetData> while inside it
        self.data_seen = False
        self.row_depth = 0  # of the open <row>
        self.cell_depth = 0  # of the open <c>
        self.cell_row = 0
        self.cell_col = 0
        self.row = 0
        self.col = 0
        self.max_row = 0
        self.max_col = 0
        self.formula: tuple[int, int] | None = None

    def feed_all(self, chunks: Iterator[bytes]) -> None:
        parse_streaming(f"of the sheet {self.sheet!r}", chunks, self._start, self._end)
        _refuse_formula(self.sheet, self.formula)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        # Called for every element of the sheet (millions): the common case comes first.
        self.depth += 1
        if ":" in name:
            name = local_name(name)
        if name == "c":
            if self.depth != self.row_depth + 1 or not self.row_depth:
                raise self._layout("a cell outside a row")
            self.cell_depth = self.depth
            ref = attrs.get("r")
            if ref is None:
                row, col = self.row, self.col
            else:
                plain = _PLAIN_REF(ref)
                if plain is not None and plain.group(1) in _COLUMNS:
                    row, col = int(plain.group(2)) - 1, _COLUMNS[plain.group(1)]
                else:
                    row, found = _position(self.sheet, ref)
                    if found is None:
                        raise _invalid(self.sheet, ref)
                    col = found
                self.col = col
            self.cell_row, self.cell_col = row, col
            if row >= self.max_row or col >= self.max_col:
                self._reach(row + 1, col + 1, True)
        elif name == "row":
            if not self.data_depth or self.depth != self.data_depth + 1:
                raise self._layout("a row outside the sheet's data or inside a cell")
            self.row_depth = self.depth
            ref = attrs.get("r")
            if ref is not None:
                self.row = _position(self.sheet, ref)[0]
                self._reach(self.row + 1, 0, False)
        elif name == "f":
            if self.cell_depth and self.formula is None:
                self.formula = (self.cell_row, self.cell_col)
        elif name == "sheetData":
            if self.data_seen or self.depth != 2:
                raise self._layout("its data in more than one place")
            self.data_seen = True
            self.data_depth = self.depth
        elif name == "dimension":
            _declared(self.sheet, attrs.get("ref", ""), self.limits)

    def _end(self, name: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == self.cell_depth:
            self.cell_depth = 0
            self.col += 1
        elif depth == self.row_depth:
            self.row_depth = 0
            self.row += 1
            self.col = 0
        elif depth == self.data_depth:
            self.data_depth = 0

    def _reach(self, rows: int, cols: int, cell: bool) -> None:
        """Refuse as soon as the sheet reaches past a limit (naming the cell that does)."""
        if rows > self.max_row or cols > self.max_col:
            self.max_row = max(rows, self.max_row)
            self.max_col = max(cols, self.max_col)
            where = f"cell {column_name(cols)}{rows}" if cell else None
            _check_extent(self.sheet, self.max_row, self.max_col, where, self.limits)

    def _layout(self, what: str) -> SheetError:
        return SheetError(
            f"the sheet {self.sheet!r} is not laid out as Excel writes a worksheet ({what}): "
            "open it in Excel or WPS, save it again as .xlsx and upload that"
        )


def _check_extent(sheet: str, rows: int, cols: int, where: str | None, limits: SheetLimits) -> None:
    """Refuse a sheet reaching row `rows` and column `cols` (1-based) past a limit."""
    at = f" ({where})" if where else ""
    if rows > limits.max_rows:
        raise OverLimit(
            f"the sheet {sheet!r} reaches row {rows:,}{at}, over the limit of "
            f"{limits.max_rows:,} rows: delete what stands below the data, or split the file",
            limit="sheet_max_rows",
            maximum=limits.max_rows,
            found=rows,
        )
    if cols > limits.max_columns:
        raise OverLimit(
            f"the sheet {sheet!r} reaches column {column_name(cols)} ({cols:,}){at}, over "
            f"the limit of {limits.max_columns:,} columns: delete what stands right of the data",
            limit="sheet_max_columns",
            maximum=limits.max_columns,
            found=cols,
        )
    if rows * cols > limits.max_cells:
        raise OverLimit(
            f"the sheet {sheet!r} spans A1:{column_name(cols)}{rows} ({rows * cols:,} cells)"
            f"{at}, over the limit of {limits.max_cells:,} cells: split it into smaller files",
            limit="sheet_max_cells",
            maximum=limits.max_cells,
            found=rows * cols,
        )


def _position(sheet: str, ref: str) -> tuple[int, int | None]:
    """(row, column or None), 0-based, of a reference like `B12` (or `12` for a row)."""
    found = _REF.fullmatch(ref)
    if found is None or int(found.group(2)[:12]) == 0:
        raise _invalid(sheet, ref)
    letters, digits = found.groups()
    row = int(digits[:12]) - 1
    if not letters:
        return row, None
    col = 0
    for letter in letters[:8].upper():
        col = col * 26 + ord(letter) - 64
    return row, col - 1


def _declared(sheet: str, ref: str, limits: SheetLimits) -> None:
    """The size a sheet declares (`<dimension ref="A1:D20">`) is held to the same limits."""
    corners = [_position(sheet, part) for part in ref.split(":")]
    if not 1 <= len(corners) <= 2 or any(col is None for _, col in corners):
        raise _invalid(sheet, ref)
    rows = max(row for row, _ in corners) + 1
    cols = max(col or 0 for _, col in corners) + 1
    _check_extent(sheet, rows, cols, f"declared as {ref[:40]}", limits)


def _invalid(sheet: str, ref: str) -> SheetError:
    return SheetError(f"the sheet {sheet!r} is damaged: {ref[:24]!r} is not a cell reference")


def _refuse_formula(sheet: str, formula: tuple[int, int] | None) -> None:
    if formula is not None:
        row, col = formula
        raise SheetError(
            f"the sheet {sheet!r} contains formulas (the first in cell "
            f"{column_name(col + 1)}{row + 1}): copy the cells and paste them as values, "
            "then upload again"
        )

"""CSV files as rows of strings: UTF-8 (with or without BOM) or GB18030, comma or tab, streamed.

Decoded and parsed as it is read (a 50 MB file never sits in memory), within the bounds of
`SheetLimits`: the length of a line, the fields of a record and the records of the file.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path

from services.registry.sheets.limits import OverLimit, SheetError, SheetLimits, megabytes

_SAMPLE_BYTES = 1 << 20  # what encoding and delimiter detection look at
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

csv.field_size_limit(1 << 20)


def csv_rows(path: Path, limits: SheetLimits) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every record of the file."""
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE_BYTES)
    encoding = _csv_encoding(sample)
    # The sample may end inside a character; the delimiter is read from its first line only.
    delimiter = _csv_delimiter(sample[:65536].decode(encoding, errors="ignore"))
    reader = csv.reader(_decoded_lines(path, encoding, limits), delimiter=delimiter)
    line = 1
    records = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SheetError(f"the CSV is malformed near line {reader.line_num}: {exc}") from None
        records += 1
        if records > limits.max_rows:
            raise OverLimit(
                f"the file has more than {limits.max_rows:,} rows, the limit: "
                "split it into smaller files",
                limit="sheet_max_rows",
                maximum=limits.max_rows,
                found=records,
            )
        if len(record) > limits.max_columns:
            raise OverLimit(
                f"line {line} has {len(record):,} columns, over the limit of "
                f"{limits.max_columns:,}: remove the columns the import does not need",
                limit="sheet_max_columns",
                maximum=limits.max_columns,
                found=len(record),
            )
        yield line, [cell.strip() for cell in record]
        line = reader.line_num + 1


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


def _decoded_lines(path: Path, encoding: str, limits: SheetLimits) -> Iterator[str]:
    """The file's lines, decoded one by one so a bad byte is reported on its own line (a newline
    byte never occurs inside a UTF-8 or GB18030 character, so splitting bytes on it is safe).
    A line is read up to the bound and no further: a file without newlines never sits whole in
    memory."""
    name = "UTF-8" if encoding.startswith("utf-8") else "GB18030/GBK"
    after_first = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is on line 1 only
    with path.open("rb") as raw:
        number = 0
        while line := raw.readline(limits.max_line_bytes + 1):
            number += 1
            if len(line) > limits.max_line_bytes:
                raise OverLimit(
                    f"line {number} is longer than {megabytes(limits.max_line_bytes)}, the limit: "
                    "the file is not a table of rows",
                    limit="sheet_max_line_bytes",
                    maximum=limits.max_line_bytes,
                    found=len(line),
                )
            try:
                text = line.decode(encoding if number == 1 else after_first)
            except UnicodeDecodeError:
                raise SheetError(
                    f"the file is not valid {name} text at line {number}: it mixes encodings; "
                    "save it as CSV UTF-8 and upload again"
                ) from None
            yield text

"""An XLSX workbook checked before the reader (python-calamine) opens it: what it may cost to read.

Calamine sizes a sheet as one dense grid from its first to its last cell, and reserves room for
the shared strings a workbook declares, in Rust, where a failed allocation aborts the process: a
1.7 KB file with a cell at XFD1048576 asks for 512 GB. So nothing reaches calamine until this
module has read, streaming from the zip, every part calamine reads (`_rels/.rels`, the workbook
and its relationships, shared strings, styles, and the sheet) and found it within `SheetLimits`:

* the archive: entries, declared unpacked sizes, compression ratio, and the bytes each part
  really unpacks to (a zip bomb lies about its sizes: each part is inflated here and must give
  exactly what it declares, and never more than the total allowed);
* the shared strings: their count, declared (`uniqueCount`) and real;
* the sheet (`xlsx_cells.scan_sheet`): where its cells stand as calamine places them, its rows
  and its declared `<dimension>`, against the rows, columns and cells allowed, and no formula;
* macros, and a DTD or an entity declaration in any part read, are refused.

It fails closed: a part that cannot be found or parsed is refused, not skipped, and so is a
workbook that could be read two ways (two sheets of one name, two parts of one name).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from services.registry.sheets.limits import (
    OverLimit,
    ReadClock,
    SheetError,
    SheetLimits,
    megabytes,
)
from services.registry.sheets.xlsx_cells import local_name, parse_streaming, scan_sheet

__all__ = ["WorkbookPlan", "check_workbook"]

_CHUNK = 1 << 20
_RATIO_GRACE = 1 << 20  # a part this small is never refused for its compression ratio
_WHOLE_PART_MAX = 16 << 20  # relationships and workbook.xml, parsed whole (a few KB in life)
_DECLARATIONS = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_MACROS = re.compile(rb"macroEnabled|vbaProject|macrosheet", re.IGNORECASE)
_OFFICE_DOCUMENT = "/relationships/officeDocument"
_SHEET_TYPES = ("worksheet", "chartsheet", "dialogsheet")
_EOCD = b"PK\x05\x06"


@dataclass(frozen=True)
class Sheet:
    name: str
    kind: str  # worksheet, chartsheet, dialogsheet
    visible: bool
    part: str  # the zip entry, resolved as calamine resolves it


@dataclass(frozen=True)
class WorkbookPlan:
    """What the check found: the sheets in order, and the one to read (the first visible
    worksheet), whose extent is within the limits."""

    sheets: list[Sheet]
    index: int
    rows: int
    columns: int

    @property
    def sheet(self) -> Sheet:
        return self.sheets[self.index]


def check_workbook(path: Path, limits: SheetLimits, clock: ReadClock) -> WorkbookPlan:
    """The plan to read the workbook at `path`, or a SheetError saying what is wrong."""
    with path.open("rb") as raw:
        _check_directory_size(raw, path.stat().st_size, limits)
        try:
            archive = zipfile.ZipFile(raw)
        except Exception:  # noqa: BLE001 - the zip module raises several kinds for a broken archive
            raise SheetError("the file is not a valid .xlsx workbook (not a zip archive)") from None
        with archive:
            parts = _Parts(raw, archive, limits, clock)
            if _MACROS.search(parts.whole("[Content_Types].xml")):
                raise _macros("[Content_Types].xml")
            folder = _document_folder(parts.whole("_rels/.rels"), "_rels/.rels")
            rels_part = f"{folder}_rels/workbook.xml.rels"
            relationships = _relationships(parts.whole(rels_part), rels_part)
            workbook_part = f"{folder}workbook.xml"
            sheets = _sheets(parts, workbook_part, relationships, folder)
            strings = parts.find(f"{folder}sharedStrings.xml")
            if strings is not None:
                _check_shared_strings(parts, strings, limits)
            styles = parts.find(f"{folder}styles.xml")
            if styles is not None:
                for _ in parts.chunks(styles):
                    pass  # calamine reads it: its real size counts, and it must hold no DTD
            index = next(
                (i for i, s in enumerate(sheets) if s.kind == "worksheet" and s.visible), None
            )
            if index is None:
                raise SheetError("the workbook has no visible worksheet")
            sheet = sheets[index]
            entry = parts.find(sheet.part)
            if entry is None:
                raise SheetError(
                    f"the workbook is damaged: the sheet {sheet.name!r} is missing "
                    f"(no part {sheet.part})"
                )
            unpacked = parts.unpacked
            rows, columns = scan_sheet(
                sheet.name,
                lambda: parts.chunks(entry),
                limits,
                restart=lambda: parts.rewind(unpacked),
            )
            return WorkbookPlan(sheets, index, rows, columns)


# -- the archive ---------------------------------------------------------------------------------


def _check_directory_size(raw: BinaryIO, size: int, limits: SheetLimits) -> None:
    """Refuse an archive listing too many entries before the zip module reads the listing."""
    tail_size = min(size, 22 + 65535)
    raw.seek(size - tail_size)
    tail = raw.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: the zip module says so
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries != 0xFFFF and entries > limits.max_parts:  # 0xFFFF: ZIP64, counted once open
        raise _too_many_parts(entries, limits)


def _too_many_parts(entries: int, limits: SheetLimits) -> OverLimit:
    return OverLimit(
        f"the workbook holds {entries:,} parts, over the limit of {limits.max_parts:,}: "
        "save it again as a plain .xlsx workbook",
        limit="sheet_max_parts",
        maximum=limits.max_parts,
        found=entries,
    )


def _macros(where: str) -> SheetError:
    return SheetError(
        f"the workbook contains macros ({where}): save it as a plain .xlsx workbook "
        "(Excel Workbook, not Macro-Enabled) and upload that"
    )


def _damaged(part: str, why: str) -> SheetError:
    return SheetError(f"the .xlsx workbook is damaged or crafted: its part {part} {why}")


class _Parts:
    """The archive's entries, each read by inflating it here and counting what it gives."""

    def __init__(
        self, raw: BinaryIO, archive: zipfile.ZipFile, limits: SheetLimits, clock: ReadClock
    ) -> None:
        self.raw = raw
        self.limits = limits
        self.clock = clock
        self.unpacked = 0
        entries = archive.infolist()
        if len(entries) > limits.max_parts:
            raise _too_many_parts(len(entries), limits)
        declared = sum(info.file_size for info in entries)
        if declared > limits.max_unpacked_bytes:
            raise self._over_unpacked(declared)
        self.by_key: dict[str, zipfile.ZipInfo] = {}
        for info in entries:
            # calamine finds a part by its name without case, "\" read as "/"
            key = info.filename.replace("\\", "/").lower()
            if key in self.by_key:
                raise _damaged(info.filename, "is in the archive twice")
            self.by_key[key] = info
            if key.endswith("vbaproject.bin") or "macrosheets/" in key:
                raise _macros(info.filename)
            if info.flag_bits & 0x1:
                raise SheetError("the workbook is password-protected: remove the password")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _damaged(info.filename, "is compressed with a method Excel never uses")

    def _over_unpacked(self, size: int) -> OverLimit:
        return OverLimit(
            f"the workbook unpacks to {megabytes(size)} or more, over the limit of "
            f"{megabytes(self.limits.max_unpacked_bytes)}: split it into smaller files",
            limit="sheet_max_unpacked_bytes",
            maximum=self.limits.max_unpacked_bytes,
            found=size,
        )

    def rewind(self, unpacked: int) -> None:
        """A part is read again (from the start): what it unpacked to counts once."""
        self.unpacked = unpacked

    def find(self, name: str) -> zipfile.ZipInfo | None:
        if "\\" in name:
            raise _damaged(name, "is named with a backslash")
        return self.by_key.get(name.lower())

    def whole(self, name: str) -> bytes:
        """A small part (relationships, workbook.xml) read whole; it must exist."""
        info = self.find(name)
        if info is None:
            raise SheetError(f"the file is not a valid .xlsx workbook: it has no part {name}")
        if info.file_size > _WHOLE_PART_MAX:
            raise _damaged(name, f"is {megabytes(info.file_size)}, where Excel writes a few KB")
        return b"".join(self.chunks(info))

    def chunks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The part's bytes as unpacked, checked: compressed no more than the ratio allows, no
        more than declared (and exactly that in the end, with its checksum), within the total,
        UTF-8, and without DTD or entities. Only the parts calamine reads are read."""
        name = info.filename
        packed = max(info.compress_size, 1)
        if info.file_size > _RATIO_GRACE and info.file_size / packed > self.limits.max_ratio:
            raise OverLimit(
                f"the workbook's part {name} is compressed {info.file_size // packed:,} to 1, "
                f"over the limit of {self.limits.max_ratio} to 1: the file is made to unpack "
                "to far more than it is",
                limit="sheet_max_compression_ratio",
                maximum=self.limits.max_ratio,
                found=info.file_size // packed,
            )
        first = True
        carry = b""
        for chunk in self._inflate(info):
            self.clock.check()
            if first:
                _check_encoding(name, chunk)
                first = False
            if _DECLARATIONS.search(carry + chunk):
                raise SheetError(
                    f"the workbook's part {name} contains a document type or entity declaration "
                    "(<!DOCTYPE>, <!ENTITY>), which Excel never writes: the file is refused"
                )
            carry = chunk[-16:]
            yield chunk

    def _inflate(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        name = info.filename
        raw = self.raw
        if info.header_offset < 0:
            raise _damaged(name, "has no valid header")
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise _damaged(name, "has no valid header")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        raw.seek(info.header_offset + 30 + name_length + extra_length)
        inflater = None if info.compress_type == zipfile.ZIP_STORED else zlib.decompressobj(-15)
        left = info.compress_size
        produced = 0
        crc = 0
        while True:
            if inflater is not None and inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif left and (inflater is None or not inflater.eof):
                data = raw.read(min(left, _CHUNK))
                if not data:
                    raise _damaged(name, "is cut short")
                left -= len(data)
            else:
                break
            if inflater is None:
                out = data
            else:
                try:
                    out = inflater.decompress(data, _CHUNK)
                except zlib.error:
                    raise _damaged(name, "cannot be unpacked") from None
            if not out:
                continue
            produced += len(out)
            self.unpacked += len(out)
            if produced > info.file_size:
                raise _damaged(
                    name, f"unpacks to more than the {info.file_size:,} bytes it declares"
                )
            if self.unpacked > self.limits.max_unpacked_bytes:
                raise self._over_unpacked(self.unpacked)
            crc = zlib.crc32(out, crc)
            yield out
        if inflater is not None and not inflater.eof:
            raise _damaged(name, "is cut short")
        if produced != info.file_size or crc != info.CRC:
            raise _damaged(name, "does not unpack to what it declares")


def _check_encoding(name: str, head: bytes) -> None:
    """UTF-8 only, as Excel writes: the parts must read the same here and in calamine."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise _damaged(name, "is not UTF-8 text")
    declared = _ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise _damaged(name, "is not UTF-8 text")


# -- relationships and the workbook --------------------------------------------------------------


def _parse(data: bytes, part: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise SheetError(
            f"the .xlsx workbook cannot be read: its part {part} is not valid XML ({exc})"
        ) from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2].rpartition(":")[2]


def _document_folder(data: bytes, part: str) -> str:
    """The folder of the workbook part (`xl/`), found as calamine finds it: the last
    officeDocument relationship of the package, `xl/` when there is none."""
    if b"&" in data:  # calamine compares some of these values unescaped: keep them plain
        raise _damaged(part, "holds character references, which Excel never writes")
    target = None
    for rel in _parse(data, part).iter():
        if _local(rel.tag) == "Relationship" and rel.get("Type", "").endswith(_OFFICE_DOCUMENT):
            target = rel.get("Target")
    if target is None:
        return "xl/"
    slash = target.rfind("/")
    return "" if slash < 0 else target[: slash + 1].removeprefix("/")


def _relationships(data: bytes, part: str) -> dict[str, tuple[str, str]]:
    if b"&" in data:
        raise _damaged(part, "holds character references, which Excel never writes")
    found: dict[str, tuple[str, str]] = {}
    for rel in _parse(data, part).iter():
        if _local(rel.tag) == "Relationship" and rel.get("Id") is not None:
            rel_id = rel.get("Id", "")
            if rel_id in found:
                raise _damaged(part, f"names the relationship {rel_id} twice")
            found[rel_id] = (rel.get("Target", ""), rel.get("Type", ""))
    return found


def _sheets(
    parts: _Parts, part: str, relationships: dict[str, tuple[str, str]], folder: str
) -> list[Sheet]:
    """The workbook's sheets in order, each with its part, as calamine lists them."""
    sheets: list[Sheet] = []
    for element in _parse(parts.whole(part), part).iter():
        if _local(element.tag) != "sheet":
            continue
        name = element.get("name", "")
        state = element.get("state", "visible")
        if state not in ("visible", "hidden", "veryHidden"):
            raise _damaged(part, f"gives the sheet {name!r} an unknown state")
        rel_id = None
        for key, value in element.attrib.items():  # calamine takes the last
            if _local(key) == "id":
                rel_id = value
        if rel_id is None or rel_id not in relationships:
            raise _damaged(part, f"does not say where the sheet {name!r} is")
        target, rel_type = relationships[rel_id]
        kind = rel_type.rpartition("/")[2]
        if kind not in _SHEET_TYPES:
            raise _damaged(part, f"gives the sheet {name!r} an unknown type")
        if any(s.name == name for s in sheets):
            raise _damaged(part, f"has two sheets named {name!r}")
        where = target.removeprefix("/") if target.startswith("/") else f"{folder}{target}"
        sheets.append(Sheet(name, kind, state == "visible", where))
    return sheets


# -- shared strings ------------------------------------------------------------------------------


def _check_shared_strings(parts: _Parts, info: zipfile.ZipInfo, limits: SheetLimits) -> None:
    """Calamine reserves room for the count the part declares, then keeps every string."""
    count = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal count
        local = local_name(name) if ":" in name else name
        if local == "si":
            count += 1
            if count > limits.max_cells:
                raise _too_many_strings(f"more than {limits.max_cells:,}", count, limits)
        elif local == "sst":
            digits = re.sub(r"\D", "", attrs.get("uniqueCount", ""))
            declared = int(digits[:30]) if digits else 0  # any digits: calamine may read them
            if declared > limits.max_cells:
                raise _too_many_strings(f"{declared:,}", declared, limits)

    parse_streaming(info.filename, parts.chunks(info), start, None)


def _too_many_strings(shown: str, found: int, limits: SheetLimits) -> OverLimit:
    return OverLimit(
        f"the workbook declares or holds {shown} distinct texts, over the limit of "
        f"{limits.max_cells:,} (the cells a sheet may have): split it into smaller files",
        limit="sheet_max_cells",
        maximum=limits.max_cells,
        found=found,
    )

"""Imports and matching (摸排比对): the sources, their columns, row rules and how records merge.

A file comes from one of the sources the offices pull data from. Each source names its columns in
its own words; `map_header` finds the ledger's fields among them (and refuses a file that lacks a
required one), `read_row` turns a row into a `SourceRecord` or the reasons it is rejected (one
parser per field, `FIELD_PARSERS`), `match_record` / `merge_record` decide which organisation a
record is and what it may change, and `plan_chunk` plans what a chunk of records does to the
ledger (new organisations, fills, conflicts, audit entries, provenance) for the service to write:

* matched by credit code first, then by normalised name (`name_key`) within the same region;
* a field the ledger lacks is filled; a value that agrees is confirmed; a value that differs is a
  conflict, listed for the office, unless the ledger still holds what the same source said
  before (a source may correct itself, never another source or an office's own edit);
* a credit code is never changed by an import, a name match with another code is a conflict.

Personal data in a sheet (a legal representative's ID number or phone, a person's name) is never
read: those columns are named in the report as dropped.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, Literal

from libs.common import refusals
from libs.common.validators import (
    InvalidCode,
    canonical_region_code,
    is_within,
    validate_credit_code,
)
from services.registry.domain.names import name_key
from services.registry.domain.organizations import Organization, OrganizationKind

SourceId = Literal["market_supervision", "civil_affairs", "tax", "survey"]
MatchKind = Literal["credit_code", "name", "new"]

#: Fields an import may state, in the order the report lists them.
IMPORT_FIELDS: tuple[str, ...] = (
    "credit_code",
    "name",
    "kind",
    "region_code",
    "address",
    "industry_code",
    "staff_count",
    "operating_status",
    "full_members",
    "probationary_members",
)
#: Fields merged into a matched organisation (the credit code and kind are identity, not data).
MERGED_FIELDS: tuple[str, ...] = (*IMPORT_FIELDS[3:], "name")

#: A file repeats a few region codes, industries and statuses on every row: each distinct value
#: is checked once (the checks are pure functions; a refusal is not cached and is raised again).
_CACHED_VALUES = 1 << 14
_canonical_region = lru_cache(maxsize=_CACHED_VALUES)(canonical_region_code)
_is_within = lru_cache(maxsize=_CACHED_VALUES)(is_within)

_MAX_STAFF = 10_000_000
_MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class Source:
    """One kind of file the offices bring, and how its columns are named (aliases per field)."""

    id: SourceId
    label: str
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    default_kind: OrganizationKind


_CREDIT_CODE = ("统一社会信用代码", "社会信用代码", "信用代码", "统一代码")
_REGION = (
    "行政区划代码",
    "区划代码",
    "所属区划代码",
    "所属乡镇(街道)代码",
    "所属乡镇(街道)",
    "所属乡镇",
)
_ADDRESS = ("住所", "地址", "注册地址", "经营场所", "生产经营地址", "办公地址", "住所(经营场所)")
_INDUSTRY = ("行业代码", "国民经济行业代码", "所属行业代码", "行业门类", "所属行业", "行业")
_STAFF = ("从业人数", "职工人数", "从业人员数", "员工人数", "从业人员", "参保人数")
_STATUS = ("登记状态", "经营状态", "企业状态", "状态")
_KIND = ("组织类型", "单位类型", "主体类型")

SOURCES: dict[str, Source] = {
    "market_supervision": Source(
        id="market_supervision",
        label="市场监管登记",
        columns={
            "credit_code": _CREDIT_CODE,
            "name": ("企业名称", "名称", "市场主体名称", "单位名称"),
            "region_code": _REGION,
            "address": _ADDRESS,
            "industry_code": _INDUSTRY,
            "staff_count": _STAFF,
            "operating_status": _STATUS,
            "kind": _KIND,
        },
        required=("credit_code", "name"),
        default_kind="enterprise",
    ),
    "civil_affairs": Source(
        id="civil_affairs",
        label="民政登记",
        columns={
            "credit_code": _CREDIT_CODE,
            "name": ("社会组织名称", "单位名称", "组织名称", "名称"),
            "region_code": _REGION,
            "address": _ADDRESS,
            "industry_code": _INDUSTRY,
            "staff_count": _STAFF,
            "operating_status": _STATUS,
        },
        required=("credit_code", "name"),
        default_kind="social_organization",
    ),
    "tax": Source(
        id="tax",
        label="税务登记",
        columns={
            "credit_code": ("纳税人识别号", "统一社会信用代码", "社会信用代码"),
            "name": ("纳税人名称", "企业名称", "单位名称", "名称"),
            "region_code": _REGION,
            "address": ("生产经营地址", "注册地址", "地址", "住所"),
            "industry_code": _INDUSTRY,
            "staff_count": _STAFF,
            "operating_status": ("纳税人状态", *_STATUS),
        },
        required=("credit_code", "name"),
        default_kind="enterprise",
    ),
    "survey": Source(
        id="survey",
        label="入户摸排表",
        columns={
            "credit_code": _CREDIT_CODE,
            "name": ("单位名称", "企业名称", "社会组织名称", "组织名称", "名称"),
            "region_code": _REGION,
            "address": _ADDRESS,
            "industry_code": _INDUSTRY,
            "staff_count": _STAFF,
            "full_members": ("正式党员数", "正式党员人数", "正式党员"),
            "probationary_members": ("预备党员数", "预备党员人数", "预备党员"),
            "operating_status": _STATUS,
            "kind": _KIND,
        },
        required=("name", "region_code"),
        default_kind="enterprise",
    ),
}

#: Columns holding a person's data: never read, named in the report as dropped (PIPL).
_PERSONAL = re.compile(
    r"身份证|证件号|证件号码|电话|手机|联系方式|法定代表人|法人代表|负责人|联系人|经营者|姓名"
)


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s*＊:：]", "", text)


class MissingColumns(Exception):
    """The file lacks a column the source requires: nothing in it can be imported."""

    def __init__(self, source: Source, missing: Sequence[str]) -> None:
        self.source = source
        self.missing = list(missing)
        names = "; ".join(f"{f} ({' / '.join(source.columns[f][:3])})" for f in self.missing)
        super().__init__(f"required columns missing for {source.label}: {names}")
        self.reason = str(self)


@dataclass(frozen=True)
class HeaderMap:
    """Where each field of the source is in the file, and what the file holds beside them."""

    source: Source
    positions: Mapping[str, tuple[int, ...]]  # field -> column indexes, preferred first
    dropped: tuple[str, ...]  # personal-data columns, not read
    ignored: tuple[str, ...]  # columns the source's mapping does not use

    def report(self) -> dict[str, Any]:
        """The columns as the job's report lists them: used (by field), dropped, ignored."""
        return {
            "used": {f: list(p) for f, p in self.positions.items()},
            "dropped": list(self.dropped),
            "ignored": list(self.ignored),
        }


def map_header(source: Source, header: Sequence[str]) -> HeaderMap:
    """Find the source's fields among the file's column names (aliases in preference order)."""
    keyed = [_header_key(cell) for cell in header]
    positions: dict[str, tuple[int, ...]] = {}
    used: set[int] = set()
    for field_name, aliases in source.columns.items():
        found = [i for alias in aliases for i, key in enumerate(keyed) if key == _header_key(alias)]
        unique = tuple(dict.fromkeys(i for i in found if i not in used))
        if unique:
            positions[field_name] = unique
            used.update(unique)
    dropped = tuple(
        header[i] for i, key in enumerate(keyed) if i not in used and _PERSONAL.search(key)
    )
    ignored = tuple(
        header[i]
        for i, key in enumerate(keyed)
        if i not in used and key and header[i] not in dropped
    )
    missing = [f for f in source.required if f not in positions]
    if missing:
        raise MissingColumns(source, missing)
    return HeaderMap(source, positions, dropped, ignored)


@dataclass(frozen=True)
class RowError:
    """Why a row was rejected: its row number in the file, the field, and the reason."""

    row: int
    field: str
    reason: str


@dataclass
class SourceRecord:
    """A valid row: what one source says about one organisation."""

    row: int
    credit_code: str | None
    name: str
    region_code: str
    kind: OrganizationKind
    values: dict[str, Any]  # every field the row states (non-empty), name and region included

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    @property
    def file_key(self) -> str:
        """What makes two rows of one file the same organisation."""
        return self.credit_code or f"{self.name_key}@{self.region_code}"


# GB/T 4754-2017 sections (门类) and the divisions (大类, two digits) each spans.
_SECTIONS: tuple[tuple[str, str, int, int], ...] = (
    ("A", "农、林、牧、渔业", 1, 5),
    ("B", "采矿业", 6, 12),
    ("C", "制造业", 13, 43),
    ("D", "电力、热力、燃气及水生产和供应业", 44, 46),
    ("E", "建筑业", 47, 50),
    ("F", "批发和零售业", 51, 52),
    ("G", "交通运输、仓储和邮政业", 53, 60),
    ("H", "住宿和餐饮业", 61, 62),
    ("I", "信息传输、软件和信息技术服务业", 63, 65),
    ("J", "金融业", 66, 69),
    ("K", "房地产业", 70, 70),
    ("L", "租赁和商务服务业", 71, 72),
    ("M", "科学研究和技术服务业", 73, 75),
    ("N", "水利、环境和公共设施管理业", 76, 79),
    ("O", "居民服务、修理和其他服务业", 80, 82),
    ("P", "教育", 83, 83),
    ("Q", "卫生和社会工作", 84, 85),
    ("R", "文化、体育和娱乐业", 86, 90),
    ("S", "公共管理、社会保障和社会组织", 91, 96),
    ("T", "国际组织", 97, 97),
)
_SECTION_BY_NAME = {re.sub(r"[、，,和及\s]", "", name): letter for letter, name, _, _ in _SECTIONS}
_INDUSTRY_CODE = re.compile(r"^([A-T])?(\d{2,4})?$")


@lru_cache(maxsize=_CACHED_VALUES)
def industry_code(raw: str) -> str:
    """A GB/T 4754 code (`I6513`, `6513`, `I`, or a section's name) as `I6513` or `I`."""
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    by_name = _SECTION_BY_NAME.get(re.sub(r"[、，,和及\s]", "", text))
    if by_name:
        return by_name
    found = _INDUSTRY_CODE.match(text)
    if not found or not text:
        raise ValueError("not a GB/T 4754 industry code or section name")
    letter, digits = found.group(1), found.group(2)
    if digits is None:
        return str(letter)
    division = int(digits[:2])
    section = next((s for s, _, low, high in _SECTIONS if low <= division <= high), None)
    if section is None:
        raise ValueError(f"division {digits[:2]} is not in GB/T 4754")
    if letter is not None and letter != section:
        raise ValueError(f"division {digits[:2]} belongs to section {section}, not {letter}")
    return section + digits


_STATUSES: dict[str, str] = {
    **dict.fromkeys(
        ("存续", "在业", "开业", "正常", "营业", "在营", "登记成立", "正常户"), "operating"
    ),
    **dict.fromkeys(("停业", "歇业", "非正常户", "停止经营"), "suspended"),
    **dict.fromkeys(("注销", "吊销", "撤销", "迁出", "已注销", "注销户", "清算"), "closed"),
}


@lru_cache(maxsize=_CACHED_VALUES)
def operating_status(raw: str) -> str:
    text = re.sub(r"[\s()（）]", "", raw)
    for word, status in _STATUSES.items():
        if text.startswith(word):
            return status
    raise ValueError("not a registration status the registry knows (存续, 在业, 停业, 注销 ...)")


_KINDS = {
    "社会组织": "social_organization",
    "社会团体": "social_organization",
    "民办非企业单位": "social_organization",
    "社会服务机构": "social_organization",
    "基金会": "social_organization",
    "企业": "enterprise",
    "公司": "enterprise",
    "个体工商户": "enterprise",
    "农民专业合作社": "enterprise",
    "合伙企业": "enterprise",
}


def count(raw: str, most: int) -> int:
    """A whole number of people: `12`, `12.0`, `12人`."""
    text = unicodedata.normalize("NFKC", raw).strip().removesuffix("人").replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not number.is_integer():
        raise ValueError("not a whole number")
    if number < 0:
        raise ValueError("must not be negative")
    if number > most:
        raise ValueError(f"more than {most:,}")
    return int(number)


def kind_of(credit_code: str | None, stated: str | None, default: OrganizationKind) -> str:
    """The kind from the credit code's registering authority (5 民政, 9 市场监管), else stated."""
    if stated:
        return _KINDS.get(stated, default)
    if credit_code and credit_code[0] == "5":
        return "social_organization"
    if credit_code and credit_code[0] == "9":
        return "enterprise"
    return default


def _cell(cells: Sequence[str], positions: tuple[int, ...]) -> str:
    for i in positions:
        if i < len(cells) and cells[i]:
            return cells[i]
    return ""


@dataclass(frozen=True)
class _Row:
    """What a field's parser may look at beside its own cell: the row's other cells (by field),
    the source and the importing office's region."""

    raw: Mapping[str, str]
    source: Source
    scope: str


#: A field's parser: its cell's text (empty when the row states nothing) -> the value the record
#: keeps (None: nothing to keep), or a ValueError whose reason the report gives.
FieldParser = Callable[[str, _Row], Any]


def _stated(parse: Callable[[str], Any]) -> FieldParser:
    """A parser that needs only its own cell, and keeps nothing when the cell is empty."""
    return lambda text, _row: parse(text) if text else None


def _credit_code(text: str) -> str:
    code = validate_credit_code(text)
    if code[0] == "1":
        raise ValueError(
            "a Party or government organ or public institution (code starts with 1): "
            "not in the emerging fields"
        )
    return code


def _name(text: str) -> str:
    name = " ".join(text.split())
    if len(name) > 200:
        raise ValueError("longer than 200 characters")
    return name


def _address(text: str) -> str:
    if len(text) > 300:
        raise ValueError("longer than 300 characters")
    return text


def _region_code(text: str, row: _Row) -> str | None:
    """The row's region, from its column or else from the credit code, within the scope."""
    region: str | None
    if text:
        try:
            region = _canonical_region(text)
        except InvalidCode as exc:
            if not any(c.isdigit() for c in text):
                raise ValueError("must be a division code (行政区划代码), not a name") from None
            raise ValueError(exc.reason) from None
    else:
        region = _region_of_credit_code(row)
    if region is None:
        return None
    if not is_within_safe(region, row.scope):
        raise ValueError(f"region {region} is outside your region {row.scope}")
    return region


def _region_of_credit_code(row: _Row) -> str | None:
    """Positions 3-8 of a valid credit code, the registering county, when the source does not
    require a region column."""
    if "region_code" in row.source.required or not row.raw.get("credit_code"):
        return None
    try:
        code = validate_credit_code(row.raw["credit_code"])
    except InvalidCode:
        return None  # the credit code's own reason is reported
    try:
        return _canonical_region(code[2:8])
    except InvalidCode:
        raise ValueError("no region column and the credit code names no valid county") from None


def _kind(text: str) -> None:
    """Checked only: the record's kind follows from the credit code or this (`kind_of`)."""
    if text not in _KINDS:
        raise ValueError("not a kind the registry knows (企业, 社会组织 ...)")


#: How each field's cell is read, in the order a row's reasons are reported.
FIELD_PARSERS: Mapping[str, FieldParser] = {
    "credit_code": _stated(_credit_code),
    "name": _stated(_name),
    "region_code": _region_code,
    "address": _stated(_address),
    "industry_code": _stated(industry_code),
    "operating_status": _stated(operating_status),
    "staff_count": _stated(partial(count, most=_MAX_STAFF)),
    "full_members": _stated(partial(count, most=_MAX_MEMBERS)),
    "probationary_members": _stated(partial(count, most=_MAX_MEMBERS)),
    "kind": _stated(_kind),
}


def read_row(
    header: HeaderMap, row: int, cells: Sequence[str], scope: str
) -> SourceRecord | list[RowError]:
    """A valid record of the row, or every reason the row is rejected.

    `scope` is the importing office's region: a row outside it is rejected."""
    raw = {f: _cell(cells, p) for f, p in header.positions.items()}
    errors = [
        RowError(row, f, "required and empty") for f in header.source.required if not raw.get(f)
    ]
    values: dict[str, Any] = {}
    context = _Row(raw, header.source, scope)
    for field_name, parse in FIELD_PARSERS.items():
        try:
            value = parse(raw.get(field_name, ""), context)
        except ValueError as exc:
            reason = exc.reason if isinstance(exc, InvalidCode) else str(exc)
            errors.append(RowError(row, field_name, reason))
        else:
            if value is not None:
                values[field_name] = value
    if errors:
        return errors
    credit_code: str | None = values.get("credit_code")
    kind: Any = kind_of(credit_code, raw.get("kind"), header.source.default_kind)
    # The region is required, or derived from the (valid) credit code.
    return SourceRecord(
        row, credit_code, values.get("name", ""), values["region_code"], kind, values
    )


class FileDuplicates:
    """The rows of one file seen so far, by credit code (or name and region when there is none)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def check(self, record: SourceRecord) -> RowError | None:
        first = self._seen.setdefault(record.file_key, record.row)
        if first == record.row:
            return None
        what = "credit code" if record.credit_code else "name and region"
        return RowError(
            record.row,
            "credit_code" if record.credit_code else "name",
            f"duplicate of row {first} (same {what})",
        )


def regions_agree(a: str, b: str) -> bool:
    """One region lies within the other (a record may be more or less precise than the file)."""
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True)
class Match:
    """Which organisation a record is: found by credit code, by name, or new."""

    by: MatchKind
    organization: Organization | None = None
    error: RowError | None = None


def match_record(
    record: SourceRecord,
    by_code: Mapping[str, Organization],
    by_name: Mapping[str, Sequence[Organization]],
    scope: str,
) -> Match:
    """Credit code first; then the normalised name within the same region; else new."""
    if record.credit_code is not None and record.credit_code in by_code:
        found = by_code[record.credit_code]
    else:
        candidates = [
            o
            for o in by_name.get(record.name_key, ())
            if o.active and regions_agree(o.region_code, record.region_code)
        ]
        if len(candidates) > 1:
            return Match(
                "name",
                error=RowError(
                    record.row,
                    "name",
                    f"the name matches {len(candidates)} organisations in the region; "
                    "give the credit code",
                ),
            )
        if not candidates:
            if record.credit_code is None:
                return Match(
                    "new",
                    error=RowError(
                        record.row,
                        "credit_code",
                        "no organisation of this name in the region, and no credit code to "
                        "register it with",
                    ),
                )
            return Match("new")
        found = candidates[0]
        if not is_within_safe(found.region_code, scope):
            return Match("name", error=_outside(record, found))
        return Match("name", found)
    if not is_within_safe(found.region_code, scope):
        return Match("credit_code", error=_outside(record, found))
    if not found.active:
        return Match(
            "credit_code",
            error=RowError(record.row, "credit_code", "the organisation has been deregistered"),
        )
    return Match("credit_code", found)


def is_within_safe(code: str, scope: str) -> bool:
    try:
        return _is_within(code, scope)
    except InvalidCode:
        return False


def _outside(record: SourceRecord, found: Organization) -> RowError:
    return RowError(
        record.row,
        "region_code",
        f"the organisation is registered in region {found.region_code}, outside your region",
    )


@dataclass(frozen=True)
class FieldConflict:
    """A source says something other than the ledger holds; listed, never overwritten."""

    field: str
    ledger_value: Any
    incoming_value: Any


@dataclass
class Merge:
    """What a record does to a matched organisation."""

    changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)


def _empty(field_name: str, value: Any) -> bool:
    if value is None or value == "":
        return True
    return field_name in ("full_members", "probationary_members") and value == 0


def _same(field_name: str, a: Any, b: Any) -> bool:
    if field_name == "name" and isinstance(a, str) and isinstance(b, str):
        return name_key(a) == name_key(b)
    return bool(a == b)


def merge_record(
    organization: Organization, record: SourceRecord, said_before: Mapping[str, Any] | None
) -> Merge:
    """What the record may change in the file (see the module docstring for the rules).

    `said_before` is what the same source said about this organisation last time, if ever."""
    merge = Merge()
    if record.credit_code is not None and record.credit_code != organization.credit_code:
        merge.conflicts.append(
            FieldConflict("credit_code", organization.credit_code, record.credit_code)
        )
    for field_name in MERGED_FIELDS:
        if field_name not in record.values:
            continue
        incoming = record.values[field_name]
        current = getattr(organization, field_name)
        if _same(field_name, current, incoming):
            merge.confirmed.append(field_name)
        elif field_name == "region_code" and incoming.startswith(current):
            merge.changes[field_name] = incoming  # more precise, within the same region
        elif field_name == "region_code" and current.startswith(incoming):
            merge.confirmed.append(field_name)  # less precise but agrees
        elif _empty(field_name, current):
            merge.changes[field_name] = incoming
        elif said_before is not None and _same(field_name, said_before.get(field_name), current):
            merge.changes[field_name] = incoming  # the source corrects what it said itself
        else:
            merge.conflicts.append(FieldConflict(field_name, current, incoming))
    return merge


def new_values(record: SourceRecord) -> dict[str, Any]:
    """The fields of a new organisation registered from a record."""
    values = {k: v for k, v in record.values.items() if k in IMPORT_FIELDS}
    values["kind"] = record.kind
    values["region_code"] = record.region_code
    return values


@dataclass
class ImportCounts:
    """The running totals of an import job's report."""

    rows: int = 0
    new: int = 0
    matched: int = 0
    matched_by_name: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # rows with at least one conflicting field
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, other: ImportCounts) -> None:
        for key, value in other.__dict__.items():
            setattr(self, key, getattr(self, key) + value)


# -- jobs ----------------------------------------------------------------------------------------

#: Runs of one job before it is given up as failed (each run after a crash resumes the last).
MAX_ATTEMPTS = 3

JobStatus = Literal["queued", "running", "done", "rejected", "failed"]


@dataclass
class ImportJob:
    """An import job: the file it holds, where its worker got to, and its running totals."""

    id: str
    source: str
    region_code: str
    filename: str
    content_hash: str
    size_bytes: int
    status: JobStatus
    actor: str
    actor_region: str
    rows_total: int | None
    rows_done: int
    counts: dict[str, int]
    columns: dict[str, Any] | None
    reason: str | None
    missing_columns: list[str] | None
    attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class ImportNotFound(refusals.NotFound):
    """No such import job (or not one the caller's region may see)."""

    def __init__(self, import_id: str) -> None:
        super().__init__("import not found")
        self.import_id = import_id


class InvalidSubmission(refusals.Invalid):
    """A submission without a known source or without a file: every field at fault is named."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        # One refusal naming several fields, where `Invalid` names one.
        refusals.Refusal.__init__(self, "invalid import request", fields=fields)
        self.field, self.reason = fields[0] if fields else ("", "")


class LeaseLost(refusals.Conflict):
    """Another worker took the job over (this one was too slow to renew its lease)."""

    def __init__(self, import_id: str) -> None:
        super().__init__(f"import {import_id} is now another worker's")
        self.import_id = import_id


# -- planning one chunk --------------------------------------------------------------------------


@dataclass
class RowBatch:
    """Rows of a file read and checked, for one chunk's transaction."""

    records: list[SourceRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    consumed: int = 0  # data rows read, blank ones included: the resume cursor moves by this
    rows: int = 0  # non-blank rows
    rejected_rows: int = 0


Change = tuple[Organization, Organization, list[str]]  # before, after, changed field names
AuditEntry = tuple[str, str, dict[str, Any]]  # organisation id, its region, the entry's changes


@dataclass(frozen=True)
class ConflictRow:
    """A conflict as the report lists it (an individual business's name masked)."""

    row: int
    organization_id: str
    field: str
    ledger_value: Any
    incoming_value: Any


@dataclass(frozen=True)
class Provenance:
    """What a source said about an organisation, kept per organisation and source."""

    organization_id: str
    source: str
    values: dict[str, Any]
    import_id: str
    row: int
    matched_by: MatchKind
    said_at: datetime


@dataclass
class ChunkPlan:
    """Everything one chunk of a job changes, for the service to persist in one transaction.

    `registered` and `changes` are what the ledger gains and what its events announce
    (`organization.registered`, `organization.updated`, `branch.eligible`); `audit` holds the
    import's own audit entries by action."""

    counts: ImportCounts
    errors: list[RowError]
    registered: list[Organization] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    conflicts: list[ConflictRow] = field(default_factory=list)
    audit: dict[str, list[AuditEntry]] = field(default_factory=dict)
    provenance: list[Provenance] = field(default_factory=list)

    def reject(self, error: RowError) -> None:
        self.errors.append(error)
        self.counts.rejected += 1


@dataclass
class _Matched:
    record: SourceRecord
    organization: Organization
    by: MatchKind


def _new_id() -> str:
    return str(uuid.uuid4())


def plan_chunk(
    job: ImportJob,
    batch: RowBatch,
    *,
    by_code: Mapping[str, Organization],
    by_name: Mapping[str, Sequence[Organization]],
    said_before: Mapping[str, Mapping[str, Any]],
    now: datetime,
    new_id: Callable[[], str] = _new_id,
) -> ChunkPlan:
    """What a chunk of valid records does to the ledger.

    `by_code` and `by_name` are the organisations the records may be (by credit code, and the
    active ones by `name_key` within the job's region), `said_before` what the job's source last
    said about each of them; `now` stamps the changes and `new_id` names new organisations."""
    plan = ChunkPlan(
        counts=ImportCounts(rows=batch.rows, rejected=batch.rejected_rows),
        errors=list(batch.errors),
    )
    matched, fresh = _match(plan, batch.records, by_code, by_name, job.region_code)
    plan.registered = [
        Organization(id=new_id(), version=1, created_at=now, updated_at=now, **new_values(r))
        for r in fresh
    ]
    plan.counts.new = len(plan.registered)
    _merge(plan, matched, said_before, now)
    plan.audit = _audit_entries(job, zip(fresh, plan.registered, strict=True), matched, plan)
    plan.provenance = [
        Provenance(o.id, job.source, r.values, job.id, r.row, "new", now)
        for r, o in zip(fresh, plan.registered, strict=True)
    ] + [
        Provenance(organization_id, job.source, m.record.values, job.id, m.record.row, m.by, now)
        for organization_id, m in matched.items()
    ]
    return plan


def _match(
    plan: ChunkPlan,
    records: Iterable[SourceRecord],
    by_code: Mapping[str, Organization],
    by_name: Mapping[str, Sequence[Organization]],
    scope: str,
) -> tuple[dict[str, _Matched], list[SourceRecord]]:
    """The records matched (by organisation id, the first row for each) and the new ones; a
    record that cannot be matched, or matches an organisation an earlier row did, is rejected."""
    matched: dict[str, _Matched] = {}
    fresh: list[SourceRecord] = []
    for record in records:
        found = match_record(record, by_code, by_name, scope)
        if found.error is not None:
            plan.reject(found.error)
        elif found.organization is None:
            fresh.append(record)
        elif found.organization.id in matched:
            first = matched[found.organization.id].record.row
            plan.reject(RowError(record.row, "name", f"the same organisation as row {first}"))
        else:
            matched[found.organization.id] = _Matched(record, found.organization, found.by)
    return matched, fresh


def _merge(
    plan: ChunkPlan,
    matched: Mapping[str, _Matched],
    said_before: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> None:
    """Each matched organisation's fills (a new version) and conflicts."""
    for organization_id, m in matched.items():
        before = m.organization
        plan.counts.matched += 1
        plan.counts.matched_by_name += m.by == "name"
        merge = merge_record(before, m.record, said_before.get(organization_id))
        plan.conflicts += [
            ConflictRow(
                m.record.row,
                organization_id,
                c.field,
                _masked(before, c.field, c.ledger_value),
                _masked(before, c.field, c.incoming_value),
            )
            for c in merge.conflicts
        ]
        plan.counts.conflicts += bool(merge.conflicts)
        if merge.changes:
            after = replace(before, **merge.changes, version=before.version + 1, updated_at=now)
            plan.changes.append((before, after, sorted(merge.changes)))
        else:
            plan.counts.unchanged += 1
    plan.counts.updated = len(plan.changes)


def _masked(organization: Organization, name: str, value: Any) -> Any:
    if name == "name" and organization.is_individual_business and isinstance(value, str):
        return value[:1] + "**"
    return value


def _audit_entries(
    job: ImportJob,
    registered: Iterable[tuple[SourceRecord, Organization]],
    matched: Mapping[str, _Matched],
    plan: ChunkPlan,
) -> dict[str, list[AuditEntry]]:
    """The import's audit entries: each organisation it registered (with the row's values) and
    each it changed (with the changed fields)."""
    origin = {"import_id": job.id, "source": job.source}
    return {
        "organization.imported": [
            (o.id, o.region_code, {**origin, "row": r.row, "values": r.values})
            for r, o in registered
        ],
        "organization.updated_by_import": [
            (
                after.id,
                after.region_code,
                {
                    **origin,
                    "row": matched[after.id].record.row,
                    "changes": {name: getattr(after, name) for name in changed},
                },
            )
            for _, after, changed in plan.changes
        ],
    }

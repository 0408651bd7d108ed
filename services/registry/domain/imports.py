"""Imports and matching (摸排比对): the sources, their columns, row rules and how records merge.

A file comes from one of the sources the offices pull data from. Each source names its columns in
its own words; `locate_header` finds the header among the first rows (titles and notes may stand
above it) and `map_header` the ledger's fields in it (a file that lacks a required one is refused
whole), `read_row` turns a row into a `SourceRecord` or the reasons it is rejected (one parser
per field, `FIELD_PARSERS`), `FileDuplicates` catches a row the file already gave,
`match_record` / `merge_record` decide which organisation a record is and what it may change, and
`plan_chunk` plans what a chunk of records does to the ledger (new organisations, fills,
conflicts, audit entries, provenance) for the service to write:

* only a bad required or identity field (credit code, name, region) rejects a row; any other bad
  field is left out alone, and the report says which and why (`RowError.rejected` False);
* a township may be written in words (龙坑街道): `PlaceNames` finds it under the office's region;
* matched by credit code first, then by normalised name (`name_key`) within the same region; a
  record with neither a code nor a match registers a provisional file (no credit code yet);
* a field the ledger lacks is filled; a value that agrees is confirmed; a value that differs is a
  conflict, listed for the office, unless the ledger still holds what the same source said
  before (a source may correct itself, never another source or an office's own edit), or it is
  the registration authority's 注销/吊销 (`Source.decides_status`), which the file follows;
* a credit code is never changed by an import, except that a provisional file takes the code of
  the record that matches it by name; a name match with another code is a conflict.

Personal data in a sheet (a legal representative's ID number or phone, a person's name) is never
read: those columns are named in the report as dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, lru_cache, partial
from typing import Any, Literal, Protocol

from libs.common import refusals
from libs.common.ids import new_id as _new_id
from libs.common.personal import has_personal, mask_personal
from libs.common.validators import (
    InvalidCode,
    canonical_region_code,
    is_within,
    validate_credit_code,
)
from services.registry.domain.names import name_key
from services.registry.domain.organizations import (
    Organization,
    OrganizationKind,
    organization_changed,
    organization_of,
)
from services.registry.domain.regions import Region

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
    "has_premises",
    "stable_operations",
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
    #: The registration authority (市场监管, 民政): its 注销/吊销 is the file's status, not a claim.
    decides_status: bool = False


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
        decides_status=True,
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
        decides_status=True,
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
            "has_premises": (
                "有无固定场所",
                "是否有固定场所",
                "固定场所",
                "有固定经营场所",
                "固定经营场所",
                "有无固定经营场所",
            ),
            "stable_operations": (
                "是否稳定经营",
                "稳定经营",
                "有稳定经营活动",
                "稳定经营活动",
                "经营是否稳定",
            ),
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
    row: int | None = None  # the header's row in the file, once located

    @cached_property
    def kept(self) -> tuple[int, ...]:
        """The file's columns an import reads (those of the source's fields), in file order:
        the only ones stored."""
        return tuple(sorted({i for p in self.positions.values() for i in p}))

    @cached_property
    def credit_code_columns(self) -> frozenset[int]:
        return frozenset(self.positions.get("credit_code", ()))

    def over_kept(self) -> dict[str, list[int]]:
        """Where each field is among the kept columns (`kept`), as the stored form has them."""
        at = {column: n for n, column in enumerate(self.kept)}
        return {f: [at[i] for i in p] for f, p in self.positions.items()}

    def report(self) -> dict[str, Any]:
        """The columns as the job's report lists them: the header's row, used (by field),
        dropped, ignored."""
        return {
            "header_row": self.row,
            "used": {f: list(p) for f, p in self.positions.items()},
            "dropped": list(self.dropped),
            "ignored": list(self.ignored),
        }


def _field_positions(source: Source, keyed: Sequence[str]) -> dict[str, tuple[int, ...]]:
    positions: dict[str, tuple[int, ...]] = {}
    used: set[int] = set()
    for field_name, aliases in source.columns.items():
        found = [i for alias in aliases for i, key in enumerate(keyed) if key == _header_key(alias)]
        unique = tuple(dict.fromkeys(i for i in found if i not in used))
        if unique:
            positions[field_name] = unique
            used.update(unique)
    return positions


def map_header(source: Source, header: Sequence[str]) -> HeaderMap:
    """Find the source's fields among the file's column names (aliases in preference order)."""
    keyed = [_header_key(cell) for cell in header]
    positions = _field_positions(source, keyed)
    used = {i for p in positions.values() for i in p}
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


def stored_cells(header: HeaderMap, cells: Sequence[str]) -> list[str]:
    """The cells of a row as an import stores them: only the kept columns (`HeaderMap.kept`),
    every ID number and phone typed into one masked (a 法人身份证 number pasted into the credit
    code column, a phone after an address). A valid credit code is kept as it is."""
    kept = [cells[i] if i < len(cells) else "" for i in header.kept]
    # One look at the whole row first (the unit separator ends a number like a comma would):
    # the common row holds nothing to mask, and is kept as it is.
    if not has_personal("\x1f".join(kept)):
        return kept
    codes = header.credit_code_columns
    out = []
    for i, cell in zip(header.kept, kept, strict=True):
        masked = mask_personal(cell)
        out.append(cell if masked is not cell and i in codes and _is_credit_code(cell) else masked)
    return out


def _is_credit_code(text: str) -> bool:
    try:
        validate_credit_code(text)
    except InvalidCode:
        return False
    return True


#: How many non-blank rows at the top of a file may hold titles and notes above the header.
HEADER_SCAN_ROWS = 20


class NoHeaderRow(MissingColumns):
    """None of the rows at the top of the file names the source's columns."""

    def __init__(self, source: Source, scanned: int) -> None:
        super().__init__(source, source.required)
        names = "; ".join(" / ".join(source.columns[f][:3]) for f in source.required)
        self.reason = (
            f"no header row: none of the first {scanned} rows names the columns of "
            f"{source.label} ({names})"
        )
        self.args = (self.reason,)


def locate_header(
    source: Source, rows: Sequence[tuple[int, Sequence[str]]]
) -> tuple[int, HeaderMap]:
    """The header among the first rows of a file (titles, dates and notes may stand above it):
    the row that names most of the source's required fields, then of all its fields (the first
    such row on a tie). Returns its row number and mapping; `MissingColumns` when even the best
    row lacks a required column, `NoHeaderRow` when no row names any column of the source."""
    best: tuple[int, int] = (0, 0)
    chosen: tuple[int, Sequence[str]] | None = None
    for number, cells in rows[:HEADER_SCAN_ROWS]:
        positions = _field_positions(source, [_header_key(cell) for cell in cells])
        score = (sum(f in positions for f in source.required), len(positions))
        if score > best:
            best, chosen = score, (number, cells)
    if chosen is None:
        raise NoHeaderRow(source, min(len(rows), HEADER_SCAN_ROWS))
    return chosen[0], replace(map_header(source, chosen[1]), row=chosen[0])


@dataclass(frozen=True)
class RowError:
    """Why a row was rejected (or, `rejected` False, why one field of it was left out while the
    row went in): its row number in the file, the field, and the reason."""

    row: int
    field: str
    reason: str
    rejected: bool = True


@dataclass
class SourceRecord:
    """A valid row: what one source says about one organisation."""

    row: int
    credit_code: str | None
    name: str
    region_code: str
    kind: OrganizationKind
    values: dict[str, Any]  # every field the row states (non-empty), name and region included
    left_out: list[RowError] = field(default_factory=list)  # bad fields the record goes without
    draft: Draft | None = None  # the file it registers if it is new, drafted as it was read

    @cached_property
    def name_key(self) -> str:
        return name_key(self.name)


@dataclass(frozen=True)  # no slots: unpickled with a dict update, not a call per field
class Draft:
    """The file a valid record registers if the ledger turns out not to have it, drafted where
    the rows are read (beside the job's writing; for a large job in a process of its own): its
    id and time, and what the service writes of it, in the forms it writes them. The job uses
    it only for a record it finds new."""

    id: str
    at: datetime
    region_code: str
    row: tuple[Any, ...]  # the ledger row's values
    registered: bytes  # its `organization.registered` data
    eligible: bytes | None  # its `branch.eligible` data, when it enters able to stand alone


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
# GB/T 4754-2017 divisions (大类) by name, as surveys write an industry in words (餐饮业).
_DIVISIONS: tuple[tuple[str, str], ...] = (
    ("01", "农业"), ("02", "林业"), ("03", "畜牧业"), ("04", "渔业"),
    ("05", "农、林、牧、渔专业及辅助性活动"), ("06", "煤炭开采和洗选业"),
    ("07", "石油和天然气开采业"), ("08", "黑色金属矿采选业"), ("09", "有色金属矿采选业"),
    ("10", "非金属矿采选业"), ("11", "开采专业及辅助性活动"), ("12", "其他采矿业"),
    ("13", "农副食品加工业"), ("14", "食品制造业"), ("15", "酒、饮料和精制茶制造业"),
    ("16", "烟草制品业"), ("17", "纺织业"), ("18", "纺织服装、服饰业"),
    ("19", "皮革、毛皮、羽毛及其制品和制鞋业"), ("20", "木材加工和木、竹、藤、棕、草制品业"),
    ("21", "家具制造业"), ("22", "造纸和纸制品业"), ("23", "印刷和记录媒介复制业"),
    ("24", "文教、工美、体育和娱乐用品制造业"), ("25", "石油、煤炭及其他燃料加工业"),
    ("26", "化学原料和化学制品制造业"), ("27", "医药制造业"), ("28", "化学纤维制造业"),
    ("29", "橡胶和塑料制品业"), ("30", "非金属矿物制品业"), ("31", "黑色金属冶炼和压延加工业"),
    ("32", "有色金属冶炼和压延加工业"), ("33", "金属制品业"), ("34", "通用设备制造业"),
    ("35", "专用设备制造业"), ("36", "汽车制造业"),
    ("37", "铁路、船舶、航空航天和其他运输设备制造业"), ("38", "电气机械和器材制造业"),
    ("39", "计算机、通信和其他电子设备制造业"), ("40", "仪器仪表制造业"), ("41", "其他制造业"),
    ("42", "废弃资源综合利用业"), ("43", "金属制品、机械和设备修理业"),
    ("44", "电力、热力生产和供应业"), ("45", "燃气生产和供应业"), ("46", "水的生产和供应业"),
    ("47", "房屋建筑业"), ("48", "土木工程建筑业"), ("49", "建筑安装业"),
    ("50", "建筑装饰、装修和其他建筑业"), ("51", "批发业"), ("52", "零售业"),
    ("53", "铁路运输业"), ("54", "道路运输业"), ("55", "水上运输业"), ("56", "航空运输业"),
    ("57", "管道运输业"), ("58", "多式联运和运输代理业"), ("59", "装卸搬运和仓储业"),
    ("60", "邮政业"), ("61", "住宿业"), ("62", "餐饮业"),
    ("63", "电信、广播电视和卫星传输服务"), ("64", "互联网和相关服务"),
    ("65", "软件和信息技术服务业"), ("66", "货币金融服务"), ("67", "资本市场服务"),
    ("68", "保险业"), ("69", "其他金融业"), ("71", "租赁业"), ("72", "商务服务业"),
    ("73", "研究和试验发展"), ("74", "专业技术服务业"), ("75", "科技推广和应用服务业"),
    ("76", "水利管理业"), ("77", "生态保护和环境治理业"), ("78", "公共设施管理业"),
    ("79", "土地管理业"), ("80", "居民服务业"), ("81", "机动车、电子产品和日用产品修理业"),
    ("82", "其他服务业"), ("84", "卫生"), ("85", "社会工作"), ("86", "新闻和出版业"),
    ("87", "广播、电视、电影和录音制作业"), ("88", "文化艺术业"), ("89", "体育"),
    ("90", "娱乐业"), ("94", "社会保障"), ("95", "群众团体、社会团体和其他成员组织"),
    ("96", "基层群众自治组织及其他组织"),
)  # fmt: skip
_INDUSTRY_NOISE = re.compile(r"[、，,和及与\s]")
_INDUSTRY_BY_NAME: dict[str, str] = {
    **{_INDUSTRY_NOISE.sub("", name): f"{section}{code}"
       for code, name in _DIVISIONS
       for section, _, low, high in _SECTIONS if low <= int(code) <= high},
    **{_INDUSTRY_NOISE.sub("", name): letter for letter, name, _, _ in _SECTIONS},
}  # fmt: skip
_INDUSTRY_CODE = re.compile(r"^([A-T])?(\d{2,4})?$")


def _industry_by_name(text: str) -> str | None:
    key = _INDUSTRY_NOISE.sub("", text)
    return _INDUSTRY_BY_NAME.get(key) or _INDUSTRY_BY_NAME.get(key + "业")


@lru_cache(maxsize=_CACHED_VALUES)
def industry_code(raw: str) -> str:
    """A GB/T 4754 code (`I6513`, `6513`, `I`), or a section's or division's name (住宿和餐饮业,
    餐饮业, 餐饮), as `I6513`, `H62` or `I`."""
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    by_name = _industry_by_name(text)
    if by_name:
        return by_name
    found = _INDUSTRY_CODE.match(text)
    if not found or not text:
        raise ValueError("not a GB/T 4754 industry code, or a section or division name it lists")
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
    **dict.fromkeys(("注销", "撤销", "迁出", "已注销", "注销户", "清算", "吊销已注销"), "closed"),
    **dict.fromkeys(("吊销", "已吊销"), "revoked"),
}
#: Statuses a registration authority decides (注销, 吊销): when it says so, the file follows.
FINAL_STATUSES: frozenset[str] = frozenset({"closed", "revoked"})


@lru_cache(maxsize=_CACHED_VALUES)
def operating_status(raw: str) -> str:
    text = re.sub(r"[\s()（）,，、;；]", "", raw)  # 吊销，已注销: revoked, then closed
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


_PEOPLE = re.compile(r"^(?:约|大约|共|共计|合计|计)?(-?\d[\d,]*(?:\.\d+)?)(?:人|名|位|个|人员)?$")


_SPACE = re.compile(r"\s")


@lru_cache(maxsize=_CACHED_VALUES)
def count(raw: str, most: int) -> int:
    """A whole number of people: `12`, `12.0`, `12人`, `1名`, `约30人` (about 30 is read as 30);
    `30余人`, `10-20人` or words are not one number."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", raw))
    found = _PEOPLE.match(text)
    if found is None:
        raise ValueError("not a number")
    number = float(found.group(1).replace(",", ""))
    if not number.is_integer():
        raise ValueError("not a whole number")
    if number < 0:
        raise ValueError("must not be negative")
    if number > most:
        raise ValueError(f"more than {most:,}")
    return int(number)


_YES = frozenset({"是", "有", "√", "✓", "y", "yes", "true", "1", "稳定", "固定"})
_NO = frozenset({"否", "无", "没有", "×", "✗", "n", "no", "false", "0", "不稳定", "不固定"})
_UNKNOWN = frozenset({"不详", "未知", "不清楚", "待核实", "待定", "-", "/", "—", "?"})


@lru_cache(maxsize=64)
def yes_no(raw: str) -> bool | None:
    """A 三有 point as the survey writes it: 是/有/√ yes, 否/无/× no, 不详/待核实 unknown (None)."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", raw)).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    if text in _UNKNOWN:
        return None
    raise ValueError("not yes or no (是/否, 有/无) or unknown (不详)")


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
    the source, the importing office's region and the divisions under it by name."""

    raw: Mapping[str, str]
    source: Source
    scope: str
    places: PlaceNames | None = None


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


class RegionLookup(Protocol):
    """What `PlaceNames` reads of the region tree (`domain/regions.RegionTree`)."""

    def get(self, code: str) -> Region | None: ...

    def children(self, code: str | None) -> list[Region]: ...


#: The endings of a township's or county's name that offices write or leave out (龙坑 for 龙坑街道).
_PLACE_ENDING = re.compile(r"(街道办事处|办事处|街道|民族乡|镇|乡|苏木|地区|区|县|市)$")
_PLACE_NOISE = re.compile(r"[\s()（）\[\]【】]")


def _place_key(text: str) -> str:
    return _PLACE_NOISE.sub("", unicodedata.normalize("NFKC", text))


class PlaceNames:
    """Divisions under the importing office's region by name (所属乡镇 written in words).

    A name is looked up among `scope` and the divisions below it: by its full name (龙坑街道),
    else by its name without the ending (龙坑, 龙坑镇); the names of `scope` and its ancestors may
    stand before it (播州区龙坑街道), and so may those of the divisions between (播州区三合镇 for a
    city office). Divisions marked dissolved (撤销) in the published data are left out. Several
    divisions of one name are ambiguous: the row must give the code."""

    def __init__(self, tree: Callable[[], RegionLookup], scope: str) -> None:
        """`tree` gives the region tree when a name is first looked up (a file of codes never
        needs it)."""
        self.scope = scope
        self._tree = tree
        self._full: dict[str, list[str]] = {}
        self._stem: dict[str, list[str]] = {}
        self._prefixes: list[str] = []
        self.scope_name = scope
        self._indexed = False

    def _index(self) -> None:
        tree = self._tree()
        found = tree.get(self.scope)
        self.scope_name = found.name if found else self.scope
        code: str | None = self.scope
        while code:
            region = tree.get(code)
            if region is None:
                break
            self._prefixes.append(_place_key(region.name))
            code = region.parent
        # (region, the names of the divisions between the scope and it: 播州区 for 三合镇); the
        # scope itself too: a township's office writes its own township's name.
        pending = [(found, "")] if found else []
        while pending:
            region, above = pending.pop()
            key = _place_key(region.name)
            below = "" if region.code == self.scope else above + key
            pending += [(r, below) for r in tree.children(region.code)]
            if "撤销" in region.name:
                continue
            for written in {key, above + key}:
                self._full.setdefault(written, []).append(region.code)
                self._stem.setdefault(_PLACE_ENDING.sub("", written), []).append(region.code)
        self._indexed = True

    def code_of(self, text: str) -> str:
        """The code of the one division `text` names; `ValueError` saying why not."""
        if not self._indexed:
            self._index()
        key = _place_key(text)
        for prefix in reversed(self._prefixes):  # province, city, county: as addresses run
            if key.startswith(prefix) and len(key) > len(prefix):
                key = key[len(prefix) :]
        codes = (
            self._full.get(key)
            or self._stem.get(key)
            or self._stem.get(_PLACE_ENDING.sub("", key), [])
        )
        if not codes:
            raise ValueError(
                f"no division named {text} under {self.scope_name} ({self.scope}): "
                "check the name or give the division code (行政区划代码)"
            )
        if len(codes) > 1:
            listed = ", ".join(sorted(codes))
            raise ValueError(
                f"{text} names {len(codes)} divisions under {self.scope_name} ({listed}): "
                "give the division code (行政区划代码)"
            )
        return codes[0]


def _region_code(text: str, row: _Row) -> str | None:
    """The row's region, from its column or else from the credit code, within the scope."""
    region: str | None
    if text and row.places is not None and not any(c.isdigit() for c in text):
        region = row.places.code_of(text)
    elif text:
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
    "has_premises": _stated(yes_no),
    "stable_operations": _stated(yes_no),
}


#: Fields without which a row cannot be placed or matched: a bad one rejects the whole row. Any
#: other bad field is left out alone and the row goes in without it.
IDENTITY_FIELDS: frozenset[str] = frozenset({"credit_code", "name", "region_code"})


def read_row(
    header: HeaderMap,
    row: int,
    cells: Sequence[str],
    scope: str,
    places: PlaceNames | None = None,
) -> SourceRecord | list[RowError]:
    """A record of the row, or every reason the row is rejected.

    A required or identity field (`IDENTITY_FIELDS`) that is empty or bad rejects the row;
    another bad field is left out of the record and listed in `left_out`. `scope` is the
    importing office's region: a row outside it is rejected; `places` reads a division written
    in words (所属乡镇: 龙坑街道)."""
    raw = {f: _cell(cells, p) for f, p in header.positions.items()}
    errors = [
        RowError(row, f, "required and empty") for f in header.source.required if not raw.get(f)
    ]
    values: dict[str, Any] = {}
    context = _Row(raw, header.source, scope, places)
    for field_name, parse in FIELD_PARSERS.items():
        try:
            value = parse(raw.get(field_name, ""), context)
        except ValueError as exc:
            reason = exc.reason if isinstance(exc, InvalidCode) else str(exc)
            errors.append(RowError(row, field_name, reason))
        else:
            if value is not None:
                values[field_name] = value
    if errors and any(
        e.field in IDENTITY_FIELDS or e.field in header.source.required for e in errors
    ):
        return errors
    credit_code: str | None = values.get("credit_code")
    stated_kind = raw.get("kind") if not any(e.field == "kind" for e in errors) else None
    kind: Any = kind_of(credit_code, stated_kind, header.source.default_kind)
    # The region is required, or derived from the (valid) credit code.
    return SourceRecord(
        row,
        credit_code,
        values.get("name", ""),
        values["region_code"],
        kind,
        values,
        left_out=[replace(e, rejected=False) for e in errors],
    )


class FileDuplicates:
    """The rows of one file seen so far: a row is a duplicate of an earlier one with the same
    credit code, or with the same normalised name (`name_key`) in an agreeing region unless both
    rows give credit codes and they differ (a firm listed once with its code and once without is
    one firm)."""

    def __init__(self) -> None:
        self._by_code: dict[str, int] = {}
        self._by_name: dict[str, list[tuple[int, str | None, str]]] = {}

    def check(self, record: SourceRecord) -> RowError | None:
        code = record.credit_code
        if code is not None and code in self._by_code:
            first = self._by_code[code]
            return RowError(
                record.row, "credit_code", f"duplicate of row {first} (same credit code)"
            )
        seen = self._by_name.setdefault(record.name_key, [])
        for first, other_code, region in seen:
            if (code is None or other_code is None) and regions_agree(region, record.region_code):
                return RowError(record.row, "name", f"duplicate of row {first} (same name)")
        if code is not None:
            self._by_code[code] = record.row
        seen.append((record.row, code, record.region_code))
        return None


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
    """Credit code first; then the normalised name within the same region; else new (a
    provisional file when the record has no credit code)."""
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
            return Match("new")  # without a credit code: a provisional file
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
    """A row naming an organisation of another region: the error says so, and nothing of it
    (its region, its id) that the office may not see."""
    return RowError(
        record.row,
        "region_code",
        "the organisation is registered outside your region",
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
    if a == b:
        return True
    if field_name == "name" and isinstance(a, str) and isinstance(b, str):
        return name_key(a) == name_key(b)
    return False


def merge_record(
    organization: Organization,
    record: SourceRecord,
    said_before: Mapping[str, Any] | None,
    *,
    decides_status: bool = False,
) -> Merge:
    """What the record may change in the file (see the module docstring for the rules).

    `said_before` is what the same source said about this organisation last time, if ever; with
    `decides_status` (the registration authority) a final status (注销, 吊销) is taken as it is.
    A provisional file (no credit code yet) takes the record's code."""
    merge = Merge()
    if record.credit_code is not None and record.credit_code != organization.credit_code:
        if organization.provisional:
            merge.changes["credit_code"] = record.credit_code
        else:
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
        elif field_name == "operating_status" and decides_status and incoming in FINAL_STATUSES:
            merge.changes[field_name] = incoming  # 注销 / 吊销 by the registration authority
        else:
            merge.conflicts.append(FieldConflict(field_name, current, incoming))
    return merge


def new_values(record: SourceRecord) -> dict[str, Any]:
    """The fields of a new organisation registered from a record."""
    values = {k: v for k, v in record.values.items() if k in IMPORT_FIELDS}
    values["credit_code"] = record.credit_code or ""  # none: a provisional file
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
    provisional: int = 0  # new files without a credit code (of `new`)
    fields_left_out: int = 0  # bad fields of rows that went in without them

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
    #: How its file is stored: `rows` (the kept columns, masked, `stored_cells`) or `file` (as
    #: uploaded, by jobs queued before 0010; the worker stores such a file as rows first).
    stored_as: str = "rows"


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
    ledger_failure: str | None = None  # the reader gave its ledger look-up up: why (its kind)


Change = tuple[Organization, Organization, list[str]]  # before, after, changed field names
AuditEntry = tuple[str, str, dict[str, Any]]  # entity id, its region, the entry's changes

#: The entity each of the import's audit actions is about: the chunk's registrations are one
#: entry about the import job (the rows' values are in each organisation's provenance).
AUDIT_ENTITY_TYPES = {
    "organization.imported": "import",
    "organization.updated_by_import": "organization",
}


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
    first: bool = False  # the source never spoke of the organisation before (nothing to replace)


@dataclass
class ChunkPlan:
    """Everything one chunk of a job changes, for the service to persist in one transaction.

    `registered` and `changes` are what the ledger gains and what its events announce
    (`organization.registered`, `organization.updated`, `branch.eligible`); `audit` holds the
    import's own audit entries by action."""

    counts: ImportCounts
    errors: list[RowError]
    registered: list[NewFile] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    conflicts: list[ConflictRow] = field(default_factory=list)
    audit: dict[str, list[AuditEntry]] = field(default_factory=dict)
    provenance: list[Provenance] = field(default_factory=list)

    def reject(self, error: RowError) -> None:
        self.errors.append(error)
        self.counts.rejected += 1


@dataclass(slots=True)  # not frozen: made by the thousand per chunk (a frozen one cost 4 µs)
class NewFile:
    """A file a chunk registers: the record that is its first word, with its id and time (its
    draft's, when the record was drafted)."""

    record: SourceRecord
    id: str
    at: datetime

    @property
    def provisional(self) -> bool:
        return not self.record.credit_code

    def organization(self) -> Organization:
        """The file as the ledger holds it."""
        return organization_of(
            {
                "id": self.id,
                "version": 1,
                "created_at": self.at,
                "updated_at": self.at,
                **new_values(self.record),
            }
        )


@dataclass
class _Matched:
    record: SourceRecord
    organization: Organization
    by: MatchKind


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
        NewFile(r, r.draft.id, r.draft.at) if r.draft is not None else NewFile(r, new_id(), now)
        for r in fresh
    ]
    plan.counts.new = len(plan.registered)
    plan.counts.provisional = sum(o.provisional for o in plan.registered)
    for record in [*fresh, *(m.record for m in matched.values())]:
        plan.errors += record.left_out
        plan.counts.fields_left_out += len(record.left_out)
    _merge(plan, matched, said_before, now, decides_status=SOURCES[job.source].decides_status)
    plan.audit = _audit_entries(job, plan.registered, matched, plan)
    plan.provenance = [
        Provenance(f.id, job.source, f.record.values, job.id, f.record.row, "new", now, True)
        for f in plan.registered
    ] + [
        Provenance(
            organization_id,
            job.source,
            m.record.values,
            job.id,
            m.record.row,
            m.by,
            now,
            organization_id not in said_before,
        )
        for organization_id, m in matched.items()
    ]
    return plan


#: What a look-up by name selects on (`organizations_by_name_key`).
_FOUND_BY_NAME = frozenset({"name", "status", "region_code"})


@dataclass(frozen=True)
class FilesTouched:
    """The credit codes and names (`name_key`) of the files a chunk registers, and those it
    gives the files it changes. A chunk looked up while that chunk's transaction is still
    open would not see those files as they are about to be (PostgreSQL shows a transaction only
    what others committed): a chunk with a row naming one of them waits for that commit."""

    codes: frozenset[str]
    names: frozenset[str]

    @classmethod
    def by(cls, plan: ChunkPlan) -> FilesTouched:
        """A changed file counts by what the plan changes of how it is found (its code; its
        name, status or region for a look-up by name): as it was, it is found, and waited for,
        by its lock."""
        codes = {new.record.credit_code or "" for new in plan.registered}
        names = {new.record.name_key for new in plan.registered}
        for _, after, changed in plan.changes:
            if "credit_code" in changed:
                codes.add(after.credit_code)
            if not _FOUND_BY_NAME.isdisjoint(changed):
                names.add(after.name_key)
        codes.discard("")
        return cls(frozenset(codes), frozenset(names))

    def named_in(self, batch: RowBatch) -> bool:
        """Whether a record of `batch` names one of these files' codes or names."""
        codes, names = self.codes, self.names
        return any(
            (r.credit_code is not None and r.credit_code in codes) or r.name_key in names
            for r in batch.records
        )


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
            plan.reject(
                RowError(record.row, "name", f"duplicate of row {first} (the same organisation)")
            )
        else:
            matched[found.organization.id] = _Matched(record, found.organization, found.by)
    return matched, fresh


def _merge(
    plan: ChunkPlan,
    matched: Mapping[str, _Matched],
    said_before: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    decides_status: bool,
) -> None:
    """Each matched organisation's fills (a new version) and conflicts."""
    for organization_id, m in matched.items():
        before = m.organization
        plan.counts.matched += 1
        plan.counts.matched_by_name += m.by == "name"
        merge = merge_record(
            before, m.record, said_before.get(organization_id), decides_status=decides_status
        )
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
            after = organization_changed(
                before, {**merge.changes, "version": before.version + 1, "updated_at": now}
            )
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
    registered: Iterable[NewFile],
    matched: Mapping[str, _Matched],
    plan: ChunkPlan,
) -> dict[str, list[AuditEntry]]:
    """The import's audit entries: one for the chunk's registrations (the import job as the
    entity, the organisations' ids and the rows they came from: what each row said is in its
    provenance), and one for each organisation it changed (with the changed fields)."""
    origin = {"import_id": job.id, "source": job.source}
    fresh = [(f.record.row, f.id) for f in registered]
    return {
        "organization.imported": [
            (
                job.id,
                job.region_code,
                {**origin, "rows": [row for row, _ in fresh], "ids": [i for _, i in fresh]},
            )
        ]
        if fresh
        else [],
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

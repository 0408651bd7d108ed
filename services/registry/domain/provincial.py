"""The provincial profile: an organisation's file as an office enters it in the provincial smart
Party-building platform (省级智慧党建平台, "同步录入平台，实现动态管理").

No public specification of a provincial interface exists (see ../shared/CODES.md §5), so the
profile is ours, documented in docs/integration.md, and named after the labels the national
database's screens and the Party statistics tables use where those are verified (CODES.md §1,
§2, §4). A record is a flat dict of the fields in `PROFILE`, in machine values (`value`); the
XLSX export writes their Chinese labels (`label`), and a reconciliation reads either back.

Codes used, and how sure they are:
* 组织类别 of the Party organisation: 631 党支部, 632 联合党支部, 931 临时党支部 (verified).
* 法人单位建立党组织情况: the row labels of the statistics table (verified labels; the national
  code values are not public, so the values here are our own names).
* 单位类别 by the credit code's first two characters (GB 32100, verified).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.registry.domain.branches import Branch
from services.registry.domain.mass_organizations import MassOrganization
from services.registry.domain.organizations import Organization

PROFILE_VERSION = 1


@dataclass(frozen=True)
class ProfileField:
    """One field of the profile: its key, its column heading, and what it holds."""

    key: str
    heading: str
    note: str
    #: Compared by a reconciliation (derived and descriptive fields are not).
    compared: bool = True


PROFILE: tuple[ProfileField, ...] = (
    ProfileField(
        "credit_code", "法人单位统一社会信用代码", "the key; empty for a provisional file"
    ),
    ProfileField("name", "单位名称", "full name"),
    ProfileField("unit_category", "单位类别", "by the credit code's prefix, else by kind"),
    ProfileField("kind", "组织类型", "enterprise (新经济组织) or social_organization (新社会组织)"),
    ProfileField("region_code", "单位所在行政区划", "division code, 6 to 12 digits"),
    ProfileField("region_name", "行政区划名称", "from the published division data", False),
    ProfileField("industry_code", "经济行业", "GB/T 4754-2017 code"),
    ProfileField("staff_count", "在岗职工人数", "staff, when known"),
    ProfileField("full_members", "正式党员", "full members (正式党员)"),
    ProfileField("probationary_members", "预备党员", "probationary members (预备党员)"),
    ProfileField("party_situation", "法人单位建立党组织情况", "see PARTY_SITUATIONS"),
    ProfileField("party_organization_category", "组织类别", "631, 632 or 931; empty if none"),
    ProfileField("party_organization_name", "党组织全称", "its covering Party organisation"),
    ProfileField("party_organization_formed_on", "党组织成立日期", "ISO date"),
    ProfileField("temporary_party_organization", "临时党组织", "reached by a temporary one"),
    ProfileField("instructor_assigned", "已派党建工作指导员", "an instructor's assignment runs"),
    ProfileField("union", "工会", "a trade union is set up"),
    ProfileField("youth_league", "共青团组织", "a youth league body is set up"),
    ProfileField("womens_federation", "妇联组织", "a women's federation body is set up"),
    ProfileField(
        "three_haves", "是否“三有”", "premises, 10+ staff, stable operations; null unknown"
    ),
    ProfileField("operating_status", "经营状态", "operating, suspended, closed, revoked"),
    ProfileField("status", "在册状态", "active, or deregistered (删除标识)"),
    ProfileField("no_branch_reason", "未建党组织原因", "as the office recorded it"),
    ProfileField("organization_id", "台账编号", "the registry's id", False),
    ProfileField("version", "版本", "the file's version; rises with every change", False),
    ProfileField("updated_at", "更新时间戳", "UTC, ISO 8601", False),
)
KEYS: tuple[str, ...] = tuple(f.key for f in PROFILE)
COMPARED: tuple[str, ...] = tuple(f.key for f in PROFILE if f.compared)
BY_HEADING: dict[str, str] = {f.heading: f.key for f in PROFILE}

#: 法人单位建立党组织情况, as the statistics table words its rows.
PARTY_SITUATIONS: dict[str, str] = {
    "standalone": "已单独建立党组织",
    "joint": "已建立联合党支部",
    "none_should_form": "未建立党组织（应建尚未建立）",
    "none_few_members": "未建立党组织（仅有个别党员）",
    "none_no_members": "未建立党组织（没有党员）",
}
#: 组织类别 of the covering Party organisation.
CATEGORIES: dict[str, str] = {"standalone": "631", "joint": "632", "temporary": "931"}
CATEGORY_LABELS: dict[str, str] = {"631": "党支部", "632": "联合党支部", "931": "临时党支部"}
#: 单位类别 by the credit code's registering authority and kind (GB 32100).
UNIT_CATEGORIES: dict[str, str] = {
    "91": "企业",
    "92": "个体工商户",
    "93": "农民专业合作社",
    "51": "社会团体",
    "52": "民办非企业单位",
    "53": "基金会",
    "59": "其他社会组织",
}
KIND_LABELS: dict[str, str] = {"enterprise": "企业", "social_organization": "社会组织"}
OPERATING_LABELS: dict[str, str] = {
    "operating": "在营",
    "suspended": "停业",
    "closed": "注销",
    "revoked": "吊销",
}
STATUS_LABELS: dict[str, str] = {"active": "在册", "deregistered": "已注销出册"}
YES_NO: dict[bool, str] = {True: "是", False: "否"}

#: Labels of the fields whose values are codes: what the XLSX shows, read back on reconciliation.
LABELS: dict[str, Mapping[Any, str]] = {
    "kind": KIND_LABELS,
    "party_situation": PARTY_SITUATIONS,
    "operating_status": OPERATING_LABELS,
    "status": STATUS_LABELS,
    "temporary_party_organization": YES_NO,
    "instructor_assigned": YES_NO,
    "union": YES_NO,
    "youth_league": YES_NO,
    "womens_federation": YES_NO,
    "three_haves": YES_NO,
}


@dataclass(frozen=True)
class Surroundings:
    """What the file's record needs beyond the file: its covering branch, whether an
    instructor's assignment runs today, which mass organisations exist today (the store reads
    both between their dates)."""

    branch: Branch | None = None
    instructor_assigned: bool = False
    mass_organizations: tuple[MassOrganization, ...] = ()


def branch_in_force(branch: Branch | None, today: date) -> bool:
    """The branch exists today, by the rule coverage counts with: formed, not past a temporary
    one's end (inclusive), and not yet dissolved (a dissolution dated later still leaves it)."""
    return (
        branch is not None
        and branch.formed_on <= today
        and (branch.ends_on is None or today <= branch.ends_on)
        and (branch.active or (branch.dissolved_on is not None and branch.dissolved_on > today))
    )


def unit_category(organization: Organization) -> str:
    by_code = UNIT_CATEGORIES.get(organization.credit_code[:2])
    return by_code or KIND_LABELS.get(organization.kind, organization.kind)


def party_situation(
    organization: Organization, branch_kind: str | None, standalone_min_full: int
) -> str:
    """法人单位建立党组织情况: its own or a joint branch, else why none (a temporary Party
    organisation is not a branch of the unit: it counts among those without one)."""
    if branch_kind in ("standalone", "joint"):
        return branch_kind
    if organization.full_members >= standalone_min_full:
        return "none_should_form"
    if organization.full_members + organization.probationary_members > 0:
        return "none_few_members"
    return "none_no_members"


def record(
    organization: Organization,
    around: Surroundings,
    *,
    today: date,
    standalone_min_full: int,
    region_name: str = "",
) -> dict[str, Any]:
    """The organisation's provincial record, every field of `PROFILE` in machine values."""
    branch = around.branch if branch_in_force(around.branch, today) else None
    branch_kind = branch.kind if branch is not None else None
    mass = {m.kind for m in around.mass_organizations}
    o = organization
    return {
        "credit_code": o.credit_code,
        "name": o.name,
        "unit_category": unit_category(o),
        "kind": o.kind,
        "region_code": o.region_code,
        "region_name": region_name,
        "industry_code": o.industry_code,
        "staff_count": o.staff_count,
        "full_members": o.full_members,
        "probationary_members": o.probationary_members,
        "party_situation": party_situation(o, branch_kind, standalone_min_full),
        "party_organization_category": CATEGORIES.get(branch_kind or ""),
        "party_organization_name": branch.name if branch is not None else None,
        "party_organization_formed_on": branch.formed_on.isoformat() if branch else None,
        "temporary_party_organization": branch_kind == "temporary",
        "instructor_assigned": around.instructor_assigned,
        "union": "union" in mass,
        "youth_league": "youth_league" in mass,
        "womens_federation": "womens_federation" in mass,
        "three_haves": o.three_haves,
        "operating_status": o.operating_status,
        "status": o.status,
        "no_branch_reason": o.no_branch_reason,
        "organization_id": o.id,
        "version": o.version,
        "updated_at": o.updated_at.isoformat(),
    }


def labelled(values: Mapping[str, Any]) -> list[Any]:
    """A record as the XLSX row shows it, in `PROFILE` order: codes as their Chinese labels,
    booleans as 是/否, the organisation category as `631 党支部`, nothing as an empty cell."""
    row: list[Any] = []
    for key in KEYS:
        value = values.get(key)
        labels = LABELS.get(key)
        if value is None:
            row.append("")
        elif labels is not None:
            row.append(labels.get(value, str(value)))
        elif key == "party_organization_category":
            row.append(f"{value} {CATEGORY_LABELS.get(value, '')}".strip())
        else:
            row.append(value)
    return row


# --- reconciliation ------------------------------------------------------------------------


def _normalised(key: str, value: Any) -> str:
    """One value as a reconciliation compares it: a label read back as its code, `631 党支部`
    as `631`, numbers without `.0`, blanks and nulls alike, surrounding spaces dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    labels = LABELS.get(key)
    if labels is not None:
        for code, label in labels.items():
            if text == label:
                return _normalised(key, code)
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered
    if key == "party_organization_category":
        return text.split(" ", 1)[0]
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        return text[:-2]
    return text


@dataclass(frozen=True)
class PlatformRow:
    """One record of what the platform holds (a row of its export), where it came from."""

    row: int
    values: dict[str, str]

    @property
    def credit_code(self) -> str:
        return self.values.get("credit_code", "").strip().upper()


def platform_row(row: int, values: Mapping[str, Any]) -> PlatformRow:
    """A platform record with the compared fields normalised (unknown keys dropped)."""
    return PlatformRow(
        row, {key: _normalised(key, values[key]) for key in COMPARED if key in values}
    )


def keys_of_headings(headings: Iterable[str]) -> list[str | None]:
    """The profile key of each column heading of an XLSX/CSV export: the Chinese heading or the
    key itself; None for a column the profile does not know."""
    out: list[str | None] = []
    for heading in headings:
        text = heading.strip()
        out.append(BY_HEADING.get(text) or (text if text in KEYS else None))
    return out


@dataclass(frozen=True)
class Difference:
    credit_code: str
    organization_id: str
    field: str
    ledger: str
    platform: str


@dataclass
class Reconciliation:
    """What the platform holds against the ledger: matched, missing either side, differing."""

    region_code: str
    on: date
    ledger_total: int = 0
    platform_total: int = 0
    matched: int = 0
    same: int = 0
    only_in_ledger: list[dict[str, str]] = field(default_factory=list)
    only_in_ledger_total: int = 0
    only_in_platform: list[dict[str, Any]] = field(default_factory=list)
    only_in_platform_total: int = 0
    differences: list[Difference] = field(default_factory=list)
    differences_total: int = 0
    repeated_in_platform: list[dict[str, Any]] = field(default_factory=list)
    without_credit_code: int = 0
    max_items: int = 1000

    def _keep(self, items: list[Any], item: Any) -> None:
        if len(items) < self.max_items:
            items.append(item)


class Reconciler:
    """Compares the ledger, fed page by page in any order, with the platform's rows held by
    credit code; `finish()` adds what the ledger never matched."""

    def __init__(
        self, region_code: str, on: date, rows: Iterable[PlatformRow], max_items: int
    ) -> None:
        self.report = Reconciliation(region_code, on, max_items=max_items)
        self.platform: dict[str, PlatformRow] = {}
        for row in rows:
            self.report.platform_total += 1
            code = row.credit_code
            if not code:
                self.report.without_credit_code += 1
                self._only_in_platform(row, "no credit code")
            elif code in self.platform:
                self.report._keep(
                    self.report.repeated_in_platform,
                    {"row": row.row, "credit_code": code, "first_row": self.platform[code].row},
                )
            else:
                self.platform[code] = row

    def _only_in_platform(self, row: PlatformRow, reason: str) -> None:
        self.report.only_in_platform_total += 1
        self.report._keep(
            self.report.only_in_platform,
            {
                "row": row.row,
                "credit_code": row.credit_code,
                "name": row.values.get("name", ""),
                "reason": reason,
            },
        )

    def add_ledger(self, records: Iterable[Mapping[str, Any]]) -> None:
        report = self.report
        for ledger in records:
            report.ledger_total += 1
            code = str(ledger["credit_code"] or "").upper()
            held = self.platform.pop(code, None) if code else None
            if held is None:
                report.only_in_ledger_total += 1
                report._keep(
                    report.only_in_ledger,
                    {
                        "credit_code": code,
                        "organization_id": str(ledger["organization_id"]),
                        "name": str(ledger["name"]),
                    },
                )
                continue
            report.matched += 1
            differing = list(self._differences(code, ledger, held))
            if not differing:
                report.same += 1
            report.differences_total += len(differing)
            for difference in differing:
                report._keep(report.differences, difference)

    @staticmethod
    def _differences(
        code: str, ledger: Mapping[str, Any], held: PlatformRow
    ) -> Iterator[Difference]:
        for key, platform_value in held.values.items():
            if key == "credit_code":
                continue
            ledger_value = _normalised(key, ledger.get(key))
            if ledger_value != platform_value:
                yield Difference(
                    code, str(ledger["organization_id"]), key, ledger_value, platform_value
                )

    def finish(self) -> Reconciliation:
        """The report, with the platform's rows the ledger of the region does not hold (another
        region's, a deregistered one's the ledger dropped, or one never filed)."""
        for row in sorted(self.platform.values(), key=lambda r: r.row):
            self._only_in_platform(row, "not in the ledger of this region")
        self.platform = {}
        return self.report

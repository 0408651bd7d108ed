"""Organisations of the emerging fields (新经济组织, 新社会组织) as the ledger knows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any, Literal

from libs.common.personal import mask_attributes, mask_personal
from libs.common.refusals import Conflict, NotFound, RuleBroken, Stale
from services.registry.domain.names import name_key

OrganizationKind = Literal["enterprise", "social_organization"]
OperatingStatus = Literal["operating", "suspended", "closed", "revoked"]
OrganizationStatus = Literal["active", "deregistered"]
InvestorKind = Literal["person", "organization"]
ThreeHavesState = Literal["true", "false", "unknown"]

#: Staff needed for the "10 or more staff" point of 三有.
THREE_HAVES_MIN_STAFF = 10

#: The six "clear" points of a complete ledger file (六清), in the order offices list them.
LEDGER_POINTS: tuple[str, ...] = (
    "operations",  # 经营运行清
    "workforce",  # 职工队伍清
    "members",  # 党员队伍清
    "investors",  # 出资人清
    "no_branch_reason",  # 未建党组织原因清
    "mass_organizations",  # 群团组织设置清
)

#: Fields a caller may change on an organisation's file (the rest are kept by the registry).
EDITABLE_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "kind",
        "region_code",
        "park_id",
        "district_id",
        "industry_code",
        "address",
        "latitude",
        "longitude",
        "staff_count",
        "investors",
        "operating_status",
        "has_premises",
        "stable_operations",
        "full_members",
        "probationary_members",
        "no_branch_reason",
        "ledger",
    }
)

#: Fields an office types freely, where a phone or ID number may be typed: masked on the way in.
FREE_TEXT_FIELDS: tuple[str, ...] = ("name", "address", "no_branch_reason", "deregistration_reason")

#: Credit codes of individual businesses (个体工商户) start with 92: their name is often a person's.
INDIVIDUAL_BUSINESS_PREFIX = "92"


def mask_person_name(name: str) -> str:
    """A person's name as the registry keeps and shows it: the first character only (张**)."""
    text = name.strip()
    return text[:1] + "**" if text else ""


def investor_entry(
    kind: InvestorKind, name: str, *, credit_code: str | None = None, share: float | None = None
) -> dict[str, Any]:
    """One investor (出资人) of the file. A person is kept by masked name only: the ledger needs to
    know who holds what share, not to hold personal data."""
    return {
        "kind": kind,
        "name": mask_person_name(name) if kind == "person" else mask_personal(name.strip()),
        "credit_code": credit_code if kind == "organization" else None,
        "share": share,
    }


@dataclass(frozen=True)
class Ledger:
    """Which of the six points (六清) of the organisation's file are clear."""

    operations: bool = False
    workforce: bool = False
    members: bool = False
    investors: bool = False
    no_branch_reason: bool = False
    mass_organizations: bool = False

    @property
    def complete(self) -> bool:
        return all(getattr(self, point) for point in LEDGER_POINTS)

    @property
    def missing(self) -> list[str]:
        return [point for point in LEDGER_POINTS if not getattr(self, point)]

    def as_dict(self) -> dict[str, bool]:
        return {point: getattr(self, point) for point in LEDGER_POINTS}


@dataclass
class Organization:
    """One file of the ledger (一企一档)."""

    id: str
    credit_code: str  # empty for a provisional file
    name: str
    kind: OrganizationKind
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime
    industry_code: str | None = None
    staff_count: int | None = None
    park_id: str | None = None
    district_id: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    investors: list[dict[str, Any]] = field(default_factory=list)
    operating_status: OperatingStatus = "operating"
    has_premises: bool | None = None
    stable_operations: bool | None = None
    full_members: int = 0
    probationary_members: int = 0
    no_branch_reason: str | None = None
    ledger: Ledger = field(default_factory=Ledger)
    branch_id: str | None = None
    branch_kind: str | None = None
    status: OrganizationStatus = "active"
    deregistered_on: date | None = None
    deregistration_reason: str | None = None

    def __post_init__(self) -> None:
        # A phone or ID number typed into free text is masked however the file is made.
        mask_attributes(self, *FREE_TEXT_FIELDS)

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    @property
    def three_haves(self) -> bool | None:
        """Premises, 10+ staff, stable operations (三有); None while the data cannot say."""
        staff = None if self.staff_count is None else self.staff_count >= THREE_HAVES_MIN_STAFF
        points = (self.has_premises, staff, self.stable_operations)
        if any(point is False for point in points):
            return False
        if any(point is None for point in points):
            return None
        return True

    @property
    def area_ids(self) -> list[str]:
        return [a for a in (self.park_id, self.district_id) if a]

    @property
    def is_individual_business(self) -> bool:
        return self.credit_code.startswith(INDIVIDUAL_BUSINESS_PREFIX)

    @property
    def provisional(self) -> bool:
        """A file without a credit code yet (a business a survey found unregistered, often an
        individual business): matched by name until a source gives its code."""
        return not self.credit_code

    @property
    def public_name(self) -> str:
        """The name as events may carry it: an individual business's name masked (张**), and a
        provisional file's too (it may well be one)."""
        if self.is_individual_business or self.provisional:
            return mask_person_name(self.name)
        return self.name

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def covered(self) -> bool:
        """A Party organisation (its own, a joint or a temporary one) covers it."""
        return self.branch_id is not None

    def with_changes(self, changes: dict[str, Any]) -> tuple[Organization, list[str]]:
        """This file with `changes` applied, and the names of the fields that really changed."""
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise ValueError(f"fields not editable: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if isinstance(values.get("ledger"), dict):
            values["ledger"] = replace(self.ledger, **values["ledger"])
        changed = [name for name, value in values.items() if getattr(self, name) != value]
        return replace(self, **{name: values[name] for name in changed}), sorted(changed)

    def snapshot(self) -> dict[str, Any]:
        """Every field, for audit trails and comparisons."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["ledger"] = self.ledger.as_dict()
        return out


#: What `organization_of` needs to know of the dataclass's fields, read from it once.
_FIELD_NAMES = frozenset(f.name for f in fields(Organization))
_DEFAULTS = {f.name: f.default for f in fields(Organization) if f.default is not MISSING}
_FACTORIES = {
    f.name: f.default_factory for f in fields(Organization) if f.default_factory is not MISSING
}


def organization_of(values: Mapping[str, Any]) -> Organization:
    """`Organization(**values)` for the bulk paths (an import's thousands of new files, the
    files it matched read back, their new versions): the same object, masked as
    `__post_init__` masks, a field left out taking its default, without the generated
    `__init__` of thirty parameters (~10 µs an organisation, most of making one). An unknown
    field, or a required one left out, raises `TypeError` as the constructor does."""
    organization = object.__new__(Organization)
    state = organization.__dict__
    state.update(_DEFAULTS)
    for name, factory in _FACTORIES.items():
        if name not in values:
            state[name] = factory()
    state.update(values)
    if len(state) != len(_FIELD_NAMES) or not values.keys() <= _FIELD_NAMES:
        unknown = sorted(values.keys() - _FIELD_NAMES)
        missing = sorted(_FIELD_NAMES - state.keys())
        raise TypeError(f"an organisation's fields: unknown {unknown}, missing {missing}")
    organization.__post_init__()
    return organization


def organization_changed(organization: Organization, changes: Mapping[str, Any]) -> Organization:
    """`dataclasses.replace(organization, **changes)` as `organization_of` makes one. Of the
    free text only what changed is masked: the rest was when `organization` was made (and
    masking what is masked changes nothing)."""
    if not changes.keys() <= _FIELD_NAMES:
        raise TypeError(f"not fields of an organisation: {sorted(changes.keys() - _FIELD_NAMES)}")
    changed = object.__new__(Organization)
    changed.__dict__.update(organization.__dict__)
    changed.__dict__.update(changes)
    mask_attributes(changed, *(name for name in FREE_TEXT_FIELDS if name in changes))
    return changed


@dataclass(frozen=True)
class OrganizationFilter:
    """What a list of organisations is narrowed to; `region_code` is a subtree (canonical)."""

    region_code: str
    kind: OrganizationKind | None = None
    industry_prefix: str | None = None
    three_haves: ThreeHavesState | None = None
    covered: bool | None = None
    ledger_incomplete: bool | None = None
    status: OrganizationStatus | None = "active"
    park_id: str | None = None
    district_id: str | None = None
    name_contains: str | None = None  # matched against `name_key`, so normalised first


def became_eligible(before: Organization | None, after: Organization, min_full: int) -> bool:
    """Its full members just reached the standalone threshold while it has no own branch."""
    was = before.full_members if before is not None else 0
    return (
        after.active and was < min_full <= after.full_members and after.branch_kind != "standalone"
    )


class DuplicateCreditCode(Conflict):
    """An organisation with this credit code is already in the ledger."""

    def __init__(self, credit_code: str, existing_id: str) -> None:
        super().__init__(
            f"credit code {credit_code} is already registered",
            fields=[("credit_code", "already registered")],
            context={"existing_id": existing_id},
        )
        self.credit_code = credit_code
        self.existing_id = existing_id


class CreditCodeRegisteredElsewhere(Conflict):
    """The credit code is an organisation's outside the caller's region: said without naming
    that organisation or its region (the caller may not see either)."""

    def __init__(self, credit_code: str) -> None:
        super().__init__(
            f"credit code {credit_code} is already registered, outside your region",
            fields=[("credit_code", "already registered outside your region")],
        )
        self.credit_code = credit_code


class OrganizationNotFound(NotFound):
    """No such organisation, or none the caller's region holds."""

    def __init__(self, organization_id: str) -> None:
        super().__init__("organisation not found", context={"organization_ids": [organization_id]})
        self.organization_id = organization_id


class StaleVersion(Stale):
    """The caller changed a file from an older version than the ledger holds."""

    def __init__(self, organization_id: str, expected: int | None, current: int) -> None:
        super().__init__(
            f"the organisation is at version {current}, not {expected}: read it again",
            expected=expected,
            current=current,
        )
        self.organization_id = organization_id


class NotActive(Conflict):
    """The organisation has been deregistered: its file is closed to changes."""

    def __init__(self, organization_id: str) -> None:
        super().__init__(
            "the organisation is deregistered; its file is closed",
            context={"organization_id": organization_id},
        )
        self.organization_id = organization_id


class OrganizationClosed(RuleBroken):
    """A deregistered organisation takes no part in Party work (staff lists, members)."""

    def __init__(self, organization_id: str) -> None:
        super().__init__(
            "organization_active", "the organisation is deregistered", [organization_id]
        )


@dataclass(frozen=True)
class Rules:
    """The numbers the Party's rules set, as configured (DOMAIN.md)."""

    standalone_min_full_members: int = 3
    joint_max_organizations: int = 5
    #: Calendar months a joint branch below the rules has to be put right (整改期限).
    rectification_months: int = 3
    #: Members from which a branch should become a general branch (党总支) / a committee (党委).
    general_branch_min_members: int = 50
    committee_min_members: int = 100

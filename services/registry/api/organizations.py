"""HTTP routes for organisations in the ledger (一企一档).

Every read and write carries the file's version as a strong ETag (`"3"`). PATCH and DELETE require
`If-Match` with the version the caller read: 428 without it, 412 when the file has moved on. PATCH
is a JSON merge patch (RFC 7396) of the editable fields: a field left out stays, `null` clears it
(refused, naming the field, where the file cannot be without it), `ledger` merges point by point.
DELETE deregisters: the reason is the `reason` query parameter; the file is kept, closed, and
its branch, instructors' assignments and transferred members follow in the same transaction.
POST .../reactivate opens a deregistered file again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    model_validator,
)

from libs.common.auth import Principal
from libs.common.calendar import local_today
from libs.common.fields import CreditCode, RegionCode
from libs.common.http import (
    IfMatch,
    RegionCodeQuery,
    etag,
    expected_version,
    sends,
    subtree_of,
)
from libs.common.pagination import NEXT_CURSOR_EXAMPLE, Page, Pages
from libs.common.problems import FieldError, InvalidInput
from libs.common.text import FreeText, Name, Text
from services.registry.api.deps import (
    Reader,
    ReadSession,
    RulesDep,
    Transaction,
    Writer,
    actor_of,
)
from services.registry.domain.organizations import (
    LEDGER_POINTS,
    InvestorKind,
    Ledger,
    OperatingStatus,
    Organization,
    OrganizationFilter,
    OrganizationKind,
    OrganizationStatus,
    ThreeHavesState,
    investor_entry,
)
from services.registry.file_forms import three_haves_state
from services.registry.service import RegistryUnitOfWork, lifecycle
from services.registry.service import organizations as service

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])

IndustryCode = Annotated[
    str,
    Field(pattern=r"^[A-T]([0-9]{2,4})?$", description="GB/T 4754 code, e.g. I6513 or G54"),
]
Latitude = Annotated[StrictFloat, Field(ge=-90, le=90)]
Longitude = Annotated[StrictFloat, Field(ge=-180, le=180)]
#: Why an organisation has no branch of its own (未建党组织原因).
NoBranchReason = Annotated[FreeText, Field(min_length=1, max_length=1000)]


class InvestorIn(BaseModel):
    """An investor (出资人). A person's name is kept masked (张**); an organisation's in full."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: InvestorKind
    name: Name = Field(min_length=1, max_length=200)
    credit_code: CreditCode | None = Field(default=None, description="An organisation's only")
    share: StrictFloat | None = Field(default=None, ge=0, le=100, description="Percent of capital")

    @model_validator(mode="after")
    def _person_has_no_code(self) -> InvestorIn:
        if self.kind == "person" and self.credit_code is not None:
            raise ValueError("a person investor has no credit code")
        return self

    def entry(self) -> dict[str, Any]:
        return investor_entry(self.kind, self.name, credit_code=self.credit_code, share=self.share)


class LedgerIn(BaseModel):
    """Which of the six points (六清) are clear; in a PATCH, only the points given change."""

    model_config = ConfigDict(extra="forbid")

    operations: StrictBool | None = None
    workforce: StrictBool | None = None
    members: StrictBool | None = None
    investors: StrictBool | None = None
    no_branch_reason: StrictBool | None = None
    mass_organizations: StrictBool | None = None

    def points(self) -> dict[str, bool]:
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}


class OrganizationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "credit_code": "911402120000000077",
                    "name": "大同市新荣区云冈物流有限公司",
                    "kind": "enterprise",
                    "region_code": "140212101",
                    "industry_code": "G54",
                    "address": "新荣镇迎宾路8号",
                    "latitude": 40.258,
                    "longitude": 113.14,
                    "staff_count": 36,
                    "investors": [{"kind": "person", "name": "张**", "share": 100.0}],
                    "has_premises": True,
                    "stable_operations": True,
                    "full_members": 2,
                    "probationary_members": 0,
                    "no_branch_reason": "正式党员不足3名，拟建联合党支部",
                    "ledger": {"operations": True, "workforce": True},
                }
            ]
        },
    )

    credit_code: CreditCode
    name: Name = Field(min_length=1, max_length=200)
    kind: OrganizationKind
    region_code: RegionCode
    park_id: Text | None = Field(default=None, description="A park (园区) in its township")
    district_id: Text | None = Field(
        default=None, description="A commercial district (商圈) or building (楼宇) in its township"
    )
    industry_code: IndustryCode | None = None
    address: Text | None = Field(default=None, max_length=300)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    staff_count: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    investors: list[InvestorIn] = Field(default_factory=list, max_length=200)
    operating_status: OperatingStatus = "operating"
    has_premises: StrictBool | None = Field(
        default=None, description="Fixed premises (有固定经营场所)"
    )
    stable_operations: StrictBool | None = Field(default=None, description="稳定经营活动")
    full_members: StrictInt = Field(default=0, ge=0, le=100_000)
    probationary_members: StrictInt = Field(default=0, ge=0, le=100_000)
    no_branch_reason: NoBranchReason | None = None
    ledger: LedgerIn | None = None

    def values(self) -> dict[str, Any]:
        values = self.model_dump(exclude={"investors", "ledger"})
        values["investors"] = [i.entry() for i in self.investors]
        values["ledger"] = Ledger(**(self.ledger.points() if self.ledger else {}))
        return values


#: Fields a merge patch may not set to null: the file cannot be without them.
_NOT_NULL = frozenset(
    {
        "name",
        "kind",
        "region_code",
        "operating_status",
        "full_members",
        "probationary_members",
        "ledger",
    }
)


class OrganizationPatch(BaseModel):
    """A JSON merge patch (RFC 7396) of an organisation's editable fields."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"staff_count": 40, "address": None, "ledger": {"members": True}}]
        },
    )

    name: Name | None = Field(default=None, min_length=1, max_length=200)
    kind: OrganizationKind | None = None
    region_code: RegionCode | None = None
    park_id: Text | None = None
    district_id: Text | None = None
    industry_code: IndustryCode | None = None
    address: Text | None = Field(default=None, max_length=300)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    staff_count: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    investors: list[InvestorIn] | None = Field(default=None, max_length=200)
    operating_status: OperatingStatus | None = None
    has_premises: StrictBool | None = None
    stable_operations: StrictBool | None = None
    full_members: StrictInt | None = Field(default=None, ge=0, le=100_000)
    probationary_members: StrictInt | None = Field(default=None, ge=0, le=100_000)
    no_branch_reason: NoBranchReason | None = None
    ledger: LedgerIn | None = None

    def changes(self) -> dict[str, Any]:
        given = self.model_fields_set
        nulls = sorted(f for f in given & _NOT_NULL if getattr(self, f) is None)
        if nulls:
            raise InvalidInput(
                f"these fields cannot be cleared: {', '.join(nulls)}",
                errors=[FieldError(f, "must not be null") for f in nulls],
            )
        changes: dict[str, Any] = {}
        for name in given:
            value = getattr(self, name)
            if name == "investors":
                changes[name] = [i.entry() for i in value or []]
            elif name == "ledger":
                changes[name] = value.points()
            else:
                changes[name] = value
        return changes


class LedgerOut(BaseModel):
    operations: bool
    workforce: bool
    members: bool
    investors: bool
    no_branch_reason: bool
    mass_organizations: bool
    complete: bool
    missing: list[str] = Field(description="The points not yet clear, in the offices' order")


class InvestorOut(BaseModel):
    kind: InvestorKind
    name: str = Field(description="A person's name masked (张**)")
    credit_code: str | None = None
    share: float | None = None


_ORGANIZATION_EXAMPLE: dict[str, Any] = {
    "id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
    "credit_code": "911402120000000077",
    "provisional": False,
    "name": "大同市新荣区云冈物流有限公司",
    "kind": "enterprise",
    "region_code": "140212101",
    "park_id": None,
    "district_id": None,
    "industry_code": "G54",
    "address": "新荣镇迎宾路8号",
    "latitude": 40.258,
    "longitude": 113.14,
    "staff_count": 36,
    "investors": [{"kind": "person", "name": "张**", "credit_code": None, "share": 100.0}],
    "operating_status": "operating",
    "has_premises": True,
    "stable_operations": True,
    "three_haves": True,
    "three_haves_state": "true",
    "full_members": 2,
    "probationary_members": 0,
    "no_branch_reason": "正式党员不足3名，拟建联合党支部",
    "ledger": {
        "operations": True,
        "workforce": True,
        "members": False,
        "investors": False,
        "no_branch_reason": False,
        "mass_organizations": False,
        "complete": False,
        "missing": [
            "members",
            "investors",
            "no_branch_reason",
            "mass_organizations",
        ],
    },
    "branch_id": None,
    "branch_kind": None,
    "covered": False,
    "status": "active",
    "deregistered_on": None,
    "deregistration_reason": None,
    "version": 1,
    "created_at": "2026-11-30T02:15:00Z",
    "updated_at": "2026-11-30T02:15:00Z",
}


class OrganizationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ORGANIZATION_EXAMPLE]})

    id: str
    credit_code: str = Field(description="Empty for a provisional file (found without a code)")
    provisional: bool = Field(
        description="Found by a survey without a credit code: matched by name when one arrives"
    )
    name: str
    kind: OrganizationKind
    region_code: str
    park_id: str | None
    district_id: str | None
    industry_code: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    staff_count: int | None
    investors: list[InvestorOut]
    operating_status: OperatingStatus
    has_premises: bool | None
    stable_operations: bool | None
    three_haves: bool | None = Field(description="三有, derived; null while the data cannot say")
    three_haves_state: ThreeHavesState = Field(
        description="三有 as a word: true, false, or unknown (never false for missing data)"
    )
    full_members: int
    probationary_members: int
    no_branch_reason: str | None
    ledger: LedgerOut
    branch_id: str | None = Field(description="The Party organisation covering it (read-only)")
    branch_kind: str | None
    covered: bool
    status: OrganizationStatus
    deregistered_on: date | None
    deregistration_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, organization: Organization) -> OrganizationOut:
        values = {
            name: getattr(organization, name)
            for name in cls.model_fields
            if name not in {"ledger", "investors", "three_haves_state"}
        }
        ledger = organization.ledger
        return cls(
            **values,
            investors=[InvestorOut.model_validate(i) for i in organization.investors],
            three_haves_state=three_haves_state(organization.three_haves),
            ledger=LedgerOut(
                **{p: getattr(ledger, p) for p in LEDGER_POINTS},
                complete=ledger.complete,
                missing=ledger.missing,
            ),
        )


class OrganizationPage(Page[OrganizationOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_ORGANIZATION_EXAMPLE],
                    "next_cursor": NEXT_CURSOR_EXAMPLE,
                    "next": f"/v1/organizations?kind=enterprise&cursor={NEXT_CURSOR_EXAMPLE}"
                    "&limit=100",
                }
            ]
        }
    )


def _check_coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        raise InvalidInput(
            "latitude and longitude go together",
            errors=[FieldError(missing, "required with the other coordinate")],
        )


async def _visible(
    uow: RegistryUnitOfWork, organization_id: str, principal: Principal
) -> Organization:
    organization = principal.visible(
        await service.get_organization(uow, organization_id), "organisation"
    )
    return organization


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    summary="Enter an organisation in the ledger",
    responses=sends(201, etag=True, location=True),
)
async def register_organization(
    body: OrganizationIn, uow: Transaction, principal: Writer, rules: RulesDep, response: Response
) -> OrganizationOut:
    principal.ensure_covers(body.region_code)
    _check_coordinates(body.latitude, body.longitude)
    organization = await service.register_organization(
        uow, actor_of(principal), rules, **body.values()
    )
    response.headers["Location"] = f"{router.prefix}/{organization.id}"
    response.headers["ETag"] = etag(organization.version)
    return OrganizationOut.of(organization)


@router.get(
    "",
    response_model=OrganizationPage,
    summary="List the ledger of a region subtree, with filters and a cursor",
)
async def list_organizations(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: OrganizationKind | None = None,
    industry: Annotated[
        Text | None,
        Query(pattern=r"^[A-T]\d{0,4}$", description="GB/T 4754 code or its prefix (I, I65)"),
    ] = None,
    three_haves: ThreeHavesState | None = None,
    covered: bool | None = None,
    ledger_incomplete: bool | None = None,
    org_status: Annotated[
        OrganizationStatus | Literal["any"],
        Query(alias="status", description="active (default), deregistered or any"),
    ] = "active",
    park_id: Text | None = None,
    district_id: Text | None = None,
    name: Annotated[
        Text | None,
        Query(min_length=1, max_length=200, description="Part of the name (normalised match)"),
    ] = None,
) -> OrganizationPage:
    where = OrganizationFilter(
        region_code=subtree_of(principal, region_code),
        kind=kind,
        industry_prefix=industry,
        three_haves=three_haves,
        covered=covered,
        ledger_incomplete=ledger_incomplete,
        status=None if org_status == "any" else org_status,
        park_id=park_id,
        district_id=district_id,
        name_contains=name,
    )
    after = pages.after(str, str)
    found = await service.list_organizations(uow, where, after=after, limit=pages.fetch)
    return OrganizationPage.of(
        pages, found, key=lambda o: (o.region_code, o.id), item=OrganizationOut.of
    )


@router.get(
    "/{organization_id}",
    response_model=OrganizationOut,
    summary="One organisation's file",
    responses=sends(etag=True),
)
async def read_organization(
    organization_id: Text, uow: ReadSession, principal: Reader, response: Response
) -> OrganizationOut:
    organization = await _visible(uow, organization_id, principal)
    response.headers["ETag"] = etag(organization.version)
    return OrganizationOut.of(organization)


@router.patch(
    "/{organization_id}",
    response_model=OrganizationOut,
    summary="Change an organisation's file (JSON merge patch; If-Match required)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/OrganizationPatch"}
                }
            }
        }
    },
    responses=sends(etag=True),
)
async def change_organization(
    organization_id: Text,
    body: OrganizationPatch,
    uow: Transaction,
    principal: Writer,
    rules: RulesDep,
    response: Response,
    if_match: IfMatch = None,
) -> OrganizationOut:
    current = await _visible(uow, organization_id, principal)
    expected = expected_version(if_match)
    changes = body.changes()
    if "region_code" in changes:
        principal.ensure_covers(changes["region_code"])
    _check_coordinates(
        changes.get("latitude", current.latitude), changes.get("longitude", current.longitude)
    )
    organization = await lifecycle.change_organization(
        uow,
        actor_of(principal),
        rules,
        organization_id,
        changes,
        expected_version=expected,
        on=local_today(),
    )
    response.headers["ETag"] = etag(organization.version)
    return OrganizationOut.of(organization)


@router.delete(
    "/{organization_id}",
    response_model=OrganizationOut,
    summary="Deregister an organisation (its file is kept, closed; If-Match required)",
    responses=sends(etag=True),
)
async def deregister_organization(
    organization_id: Text,
    uow: Transaction,
    principal: Writer,
    rules: RulesDep,
    response: Response,
    reason: Annotated[
        Text, Query(min_length=1, max_length=500, description="Why it leaves the ledger")
    ],
    on: Annotated[
        date | None, Query(description="The day it left (default: today, Asia/Shanghai)")
    ] = None,
    if_match: IfMatch = None,
) -> OrganizationOut:
    await _visible(uow, organization_id, principal)
    expected = expected_version(if_match)
    organization = await lifecycle.deregister_organization(
        uow,
        actor_of(principal),
        rules,
        organization_id,
        reason=reason,
        on=on or local_today(),
        expected_version=expected,
    )
    response.headers["ETag"] = etag(organization.version)
    return OrganizationOut.of(organization)


class ReactivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Text | None = Field(default=None, min_length=1, max_length=500)


@router.post(
    "/{organization_id}/reactivate",
    response_model=OrganizationOut,
    summary="Open a deregistered file again (If-Match required)",
    responses=sends(etag=True),
)
async def reactivate_organization(
    organization_id: Text,
    uow: Transaction,
    principal: Writer,
    rules: RulesDep,
    response: Response,
    body: ReactivateIn | None = None,
    if_match: IfMatch = None,
) -> OrganizationOut:
    await _visible(uow, organization_id, principal)
    expected = expected_version(if_match)
    organization = await lifecycle.reactivate_organization(
        uow,
        actor_of(principal),
        rules,
        organization_id,
        reason=body.reason if body else None,
        expected_version=expected,
    )
    response.headers["ETag"] = etag(organization.version)
    return OrganizationOut.of(organization)

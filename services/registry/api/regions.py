"""The region tree (division codes and names) and named areas (parks, commercial districts).

A caller reads its own region, everything below it and its ancestors (for a breadcrumb), and
names areas only inside its subtree: another region it names is a 403, an area found by id
outside it a 404.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, sends, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.problems import Forbidden
from libs.common.text import Name, Text
from libs.common.validators import RegionLevel, is_within
from services.registry.api.deps import Reader, ReadSession, Transaction, Writer, actor_of
from services.registry.domain.regions import Area, AreaKind, Region, canonical_code
from services.registry.service import regions as service

router = APIRouter(prefix="/v1", tags=["regions"])


class RegionRef(BaseModel):
    code: str
    name: str
    level: RegionLevel

    @classmethod
    def of(cls, region: Region) -> RegionRef:
        return cls(code=region.code, name=region.name, level=region.level)


class RegionOut(RegionRef):
    parent: RegionRef | None
    children: list[RegionRef]
    source: str = Field(description="Where the codes and names come from")


class AreaIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: AreaKind
    name: Name = Field(min_length=1, max_length=200)
    region_code: RegionCode = Field(description="The township (9 digits) the area lies in")


class AreaOut(BaseModel):
    id: str
    kind: AreaKind
    name: str
    region_code: str
    created_at: datetime

    @classmethod
    def of(cls, area: Area) -> AreaOut:
        return cls.model_validate(area, from_attributes=True)


class AreaPage(Page[AreaOut]):
    pass


@router.get(
    "/regions/{code}", response_model=RegionOut, summary="A division: name, parent, children"
)
async def read_region(code: Text, principal: Reader) -> RegionOut:
    canonical = canonical_code(code)
    if not (principal.covers(canonical) or is_within(principal.region_code, canonical)):
        raise Forbidden(f"region {canonical} is outside your region {principal.region_code}")
    tree = service.tree()
    region = tree.region(canonical)
    parent = tree.get(region.parent) if region.parent else None
    return RegionOut(
        **RegionRef.of(region).model_dump(),
        parent=RegionRef.of(parent) if parent else None,
        children=[RegionRef.of(r) for r in tree.children(canonical)],
        source=tree.source,
    )


@router.post(
    "/areas",
    status_code=status.HTTP_201_CREATED,
    response_model=AreaOut,
    summary="Name a park, commercial district or building in a township",
    responses=sends(201, location=True),
)
async def create_area(
    body: AreaIn, uow: Transaction, principal: Writer, response: Response
) -> AreaOut:
    principal.ensure_covers(body.region_code)
    area = await service.create_area(
        uow, actor_of(principal), kind=body.kind, name=body.name, region_code=body.region_code
    )
    response.headers["Location"] = f"{router.prefix}/areas/{area.id}"
    return AreaOut.of(area)


@router.get("/areas", response_model=AreaPage, summary="Named areas in a region's subtree")
async def list_areas(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    kind: AreaKind | None = None,
) -> AreaPage:
    found = await service.list_areas(
        uow,
        subtree_of(principal, region_code),
        kind=kind,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return AreaPage.of(pages, found, key=lambda a: (a.region_code, a.id), item=AreaOut.of)


@router.get("/areas/{area_id}", response_model=AreaOut, summary="One named area")
async def read_area(area_id: Text, uow: ReadSession, principal: Reader) -> AreaOut:
    area = principal.visible(await service.get_area(uow, area_id), "area")
    return AreaOut.of(area)

"""Mobile members (流动党员) declared at the stations, as an office reads them.

`GET /v1/mobile-members?region_code=` lists those declared in the region's subtree (the caller's own
region when none is given; another region only inside the caller's), oldest id first with a
keyset cursor. No keyed hash is shown; a declaration matched to a member record here shows that
record's masked name and ID number and its organisation.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from services.registry.api.deps import Reader, ReadSession
from services.registry.domain.mobile_members import MobileMemberView
from services.registry.service import mobile_members as service

router = APIRouter(prefix="/v1", tags=["members"])


class MobileMemberOut(BaseModel):
    id: str
    source: str
    region_code: str
    community_code: str | None
    declared_on: date
    id_given: bool  # the worker gave an ID number (or a staff list tied their phone to one)
    member_id: str | None
    organization_id: str | None
    name: str | None  # masked, from the matched member record
    id_number: str | None  # masked, from the matched member record
    membership: str | None
    matched_at: datetime | None

    @classmethod
    def of(cls, view: MobileMemberView) -> MobileMemberOut:
        m = view.member
        return cls(
            id=m.id,
            source=m.source,
            region_code=m.region_code,
            community_code=m.community_code,
            declared_on=m.declared_on,
            id_given=m.id_hash is not None,
            member_id=m.member_id,
            organization_id=view.organization_id,
            name=view.name_masked,
            id_number=view.id_masked,
            membership=view.membership,
            matched_at=m.matched_at,
        )


class MobileMembersOut(Page[MobileMemberOut]):
    pass


@router.get(
    "/mobile-members",
    response_model=MobileMembersOut,
    summary="Mobile members (流动党员) declared at the stations in a region (masked)",
)
async def list_mobile_members(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
) -> MobileMembersOut:
    after = pages.after(str)
    found = await service.mobile_members_in(
        uow,
        subtree_of(principal, region_code),
        after=None if after is None else after[0],
        limit=pages.fetch,
    )
    return MobileMembersOut.of(pages, found, key=lambda v: (v.member.id,), item=MobileMemberOut.of)

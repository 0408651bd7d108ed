"""The audit trail (who changed what and when), for an administrator of the region.

Only callers holding the `admin` scope read it, and only entries about their region's subtree
(by the region of the thing changed, not of who changed it). Newest first, with a cursor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from libs.common.audit import AuditEntry, AuditQuery
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Text
from services.registry.api.deps import Administrator, ReadSession

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="The token subject that made the change")
    actor_region: str
    action: str
    entity_type: str
    entity_id: str
    region_code: str
    changes: dict[str, Any] = Field(
        description="What changed: for an update each field's `from` and `to`"
    )

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls.model_validate(entry, from_attributes=True)


class AuditPage(Page[AuditEntryOut]):
    pass


def _aware(moment: datetime | None) -> datetime | None:
    """A time given without a zone is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", response_model=AuditPage, summary="Who changed what and when (administrators)")
async def read_trail(
    uow: ReadSession,
    principal: Administrator,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    entity_type: Annotated[Text | None, Query(max_length=50)] = None,
    entity_id: Annotated[Text | None, Query(max_length=64)] = None,
    actor: Annotated[Text | None, Query(max_length=200)] = None,
    action: Annotated[Text | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
) -> AuditPage:
    after = pages.after(int)
    entries = await uow.audit.find(
        AuditQuery(
            region_code=subtree_of(principal, region_code),
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            since=_aware(since),
            until=_aware(until),
            after_id=None if after is None else after[0],
            limit=pages.fetch,
        )
    )
    return AuditPage.of(pages, entries, key=lambda e: (e.id,), item=AuditEntryOut.of)

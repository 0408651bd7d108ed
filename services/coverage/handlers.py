"""Subscribers of the coverage service: registry events applied to its projection."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from libs.common.db import UnitOfWork
from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec
from services.coverage.store.projection import ProjectionRepository

registry_events = ConsumerSpec(name="coverage-registry", stream="PB_REGISTRY")


class OrganizationRegistered(BaseModel):
    """What coverage reads of `pb.registry.organization.registered.v1` (tolerant of additions)."""

    model_config = ConfigDict(extra="ignore")

    organization_id: str
    kind: str
    region_code: str
    industry_code: str | None = None
    staff_count: int | None = None
    registered_at: datetime


@registry_events.on_batch("pb.registry.organization.registered.v1", OrganizationRegistered)
async def on_organizations_registered(
    uow: UnitOfWork, events: list[tuple[Envelope, OrganizationRegistered]]
) -> None:
    await ProjectionRepository(uow.session).upsert_organizations(
        [event.model_dump() for _, event in events]
    )

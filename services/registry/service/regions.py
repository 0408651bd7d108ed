"""Use cases on the region tree and named areas (parks, commercial districts, buildings)."""

from __future__ import annotations

import uuid

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.tables import utcnow
from libs.common.validators import region_level
from services.registry.domain.regions import Area, AreaKind, Region, RegionTree, UnknownRegion
from services.registry.service.organizations import audit
from services.registry.store.regions import AreaRepository, region_tree


def tree() -> RegionTree:
    return region_tree()


def region(code: str) -> Region | None:
    return region_tree().get(code)


async def create_area(
    uow: UnitOfWork, actor: Actor, *, kind: AreaKind, name: str, region_code: str
) -> Area:
    """Name a park, commercial district or building in a township the published codes know."""
    if region_level(region_code) != "township":
        raise UnknownRegion(region_code, "an area lies in a township (a 9-digit code)")
    region_tree().ensure_known(region_code)
    area = Area(
        id=str(uuid.uuid4()), kind=kind, name=name, region_code=region_code, created_at=utcnow()
    )
    await AreaRepository(uow.session).add(area)
    await audit(uow).record(
        actor,
        "area.created",
        entity_type="area",
        entity_id=area.id,
        region_code=region_code,
        changes={"kind": kind, "name": name, "region_code": region_code},
    )
    return area


async def get_area(uow: UnitOfWork, area_id: str) -> Area | None:
    return await AreaRepository(uow.session).get(area_id)


async def list_areas(
    uow: UnitOfWork,
    region_code: str,
    *,
    kind: AreaKind | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Area]:
    return await AreaRepository(uow.session).find(region_code, kind=kind, after=after, limit=limit)

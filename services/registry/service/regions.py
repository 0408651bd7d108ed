"""Use cases on the region tree and named areas (parks, commercial districts, buildings)."""

from __future__ import annotations

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.tables import utcnow
from libs.common.validators import region_level
from services.registry.domain.regions import Area, AreaKind, RegionTree, check_area_region
from services.registry.store.regions import region_tree
from services.registry.store.uow import RegistryUnitOfWork


def tree() -> RegionTree:
    return region_tree()


async def create_area(
    uow: RegistryUnitOfWork, actor: Actor, *, kind: AreaKind, name: str, region_code: str
) -> Area:
    """Name a park (in a township or across a county), a commercial district or a building
    (in a township), in a region the published codes know."""
    check_area_region(kind, region_level(region_code), region_code)
    uow.regions.ensure_known(region_code)
    area = Area(id=new_id(), kind=kind, name=name, region_code=region_code, created_at=utcnow())
    await uow.areas.add(area)
    await uow.audit.record(
        actor,
        "area.created",
        entity_type="area",
        entity_id=area.id,
        region_code=region_code,
        changes={"kind": kind, "name": name, "region_code": region_code},
    )
    return area


async def get_area(uow: RegistryUnitOfWork, area_id: str) -> Area | None:
    return await uow.areas.get(area_id)


async def list_areas(
    uow: RegistryUnitOfWork,
    region_code: str,
    *,
    kind: AreaKind | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Area]:
    return await uow.areas.find(region_code, kind=kind, after=after, limit=limit)

"""Use cases that keep the operators projection: what the registry announces of organisations
and mass organisations (the handlers call these)."""

from __future__ import annotations

from datetime import datetime

from services.stations.domain.operators import ENDED_STATUSES, KnownOperator
from services.stations.store.uow import StationsUnitOfWork


async def learn_organization(
    uow: StationsUnitOfWork,
    *,
    organization_id: str,
    version: int,
    name: str,
    region_code: str,
    operating_status: str,
    at: datetime,
) -> None:
    """An organisation registered or changed: kept at its latest version."""
    await uow.operators.put(
        KnownOperator(
            id=organization_id,
            kind="organization",
            name=name or None,
            region_code=region_code,
            active=operating_status not in ENDED_STATUSES,
            version=version,
        ),
        at,
    )


async def forget_organization(
    uow: StationsUnitOfWork, *, organization_id: str, version: int, region_code: str, at: datetime
) -> None:
    """An organisation left the ledger: kept, inactive (stations it ran keep their history)."""
    known = await uow.operators.get(organization_id)
    await uow.operators.put(
        KnownOperator(
            id=organization_id,
            kind="organization",
            name=known.name if known else None,
            region_code=region_code,
            active=False,
            version=version,
        ),
        at,
    )


async def learn_mass_organization(
    uow: StationsUnitOfWork,
    *,
    mass_organization_id: str,
    organization_id: str,
    region_code: str,
    kind: str,
    active: bool,
    at: datetime,
) -> None:
    """A mass organisation established (version 1) or dissolved (version 2, final)."""
    await uow.operators.put(
        KnownOperator(
            id=mass_organization_id,
            kind="mass_organization",
            name=None,
            region_code=region_code,
            active=active,
            version=1 if active else 2,
            organization_id=organization_id,
            mass_kind=kind,
        ),
        at,
    )

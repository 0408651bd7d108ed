"""Station operators as the stations service knows them from the registry's events: organisations
(一企一档) and mass organisations (群团组织: union, youth league, women's federation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KnownKind = Literal["organization", "mass_organization"]

#: An organisation in these operating states no longer operates anything.
ENDED_STATUSES = frozenset({"closed", "revoked"})


@dataclass(frozen=True)
class KnownOperator:
    """An organisation or mass organisation, at the version last announced."""

    id: str
    kind: KnownKind
    name: str | None
    region_code: str
    active: bool
    version: int
    organization_id: str | None = None
    mass_kind: str | None = None

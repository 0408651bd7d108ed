"""Mass organisations (群团组织) in an organisation: trade union, youth league, women's federation.

Where a Party organisation cannot yet be formed, a mass organisation gives work coverage. An
organisation has at most one active mass organisation of each kind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from libs.common.personal import mask_attributes
from libs.common.refusals import NotFound, RuleBroken

MassOrganizationKind = Literal["union", "youth_league", "womens_federation"]


class MassOrganizationNotFound(NotFound):
    """No such mass organisation in this organisation."""

    def __init__(self, mass_organization_id: str) -> None:
        super().__init__("mass organisation not found")
        self.mass_organization_id = mass_organization_id


@dataclass(frozen=True)
class MassOrganization:
    id: str
    organization_id: str
    region_code: str
    kind: MassOrganizationKind
    name: str | None
    established_on: date
    dissolved_on: date | None = None
    dissolution_reason: str | None = None

    def __post_init__(self) -> None:
        mask_attributes(self, "name", "dissolution_reason")

    @property
    def active(self) -> bool:
        return self.dissolved_on is None


def check_establish(
    organization_id: str,
    organization_active: bool,
    kind: MassOrganizationKind,
    existing: list[MassOrganization],
) -> None:
    if not organization_active:
        raise RuleBroken(
            "organization_active",
            "a deregistered organisation cannot set up a mass organisation",
            [organization_id],
        )
    if any(m.kind == kind and m.active for m in existing):
        raise RuleBroken(
            "one_mass_organization_per_kind",
            f"the organisation already has an active {kind}",
            [organization_id],
        )


def dissolved(mass_organization: MassOrganization, *, on: date, reason: str) -> MassOrganization:
    if not mass_organization.active:
        raise RuleBroken(
            "mass_organization_active",
            "the mass organisation is already dissolved",
            [mass_organization.organization_id],
        )
    if on < mass_organization.established_on:
        raise RuleBroken(
            "dissolution_date",
            "a mass organisation cannot be dissolved before it was established",
            [mass_organization.organization_id],
        )
    return replace(mass_organization, dissolved_on=on, dissolution_reason=reason)

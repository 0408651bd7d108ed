"""The reads behind the provincial profile: for a page of organisations, their covering
branches, running instructor assignments and mass organisations, in three queries a page.
Assignments and mass organisations count between their dates as coverage counts them
(`services/coverage/store/projection.counts_on`): started, not past a planned end, and not
yet ended or dissolved (an end dated later still leaves them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_, select

from libs.common.db import Repository
from services.registry.domain.branches import Branch
from services.registry.domain.mass_organizations import MassOrganization
from services.registry.domain.organizations import Organization
from services.registry.domain.provincial import Surroundings
from services.registry.store.branches import branch_of
from services.registry.store.mass_organizations import mass_organization_of
from services.registry.store.party_tables import (
    branches,
    instructor_assignments,
    mass_organizations,
)


class ProvincialRepository(Repository):
    async def surroundings(
        self, page: Sequence[Organization], today: date
    ) -> dict[str, Surroundings]:
        """Each organisation of `page` with what its record needs beyond its own file."""
        ids = [o.id for o in page]
        branch_ids = sorted({o.branch_id for o in page if o.branch_id})
        found: dict[str, Branch] = {}
        if branch_ids:
            rows = await self.session.execute(select(branches).where(branches.c.id.in_(branch_ids)))
            found = {row["id"]: branch_of(row) for row in rows.mappings()}
        a = instructor_assignments.c
        assigned = set(
            (
                await self.session.execute(
                    select(a.organization_id)
                    .where(a.organization_id.in_(ids))
                    .where(a.starts_on <= today)
                    .where(or_(a.ends_on.is_(None), a.ends_on >= today))
                    .where(or_(a.ended_on.is_(None), a.ended_on > today))
                )
            ).scalars()
        )
        mass: dict[str, list[MassOrganization]] = defaultdict(list)
        m = mass_organizations.c
        rows = await self.session.execute(
            select(mass_organizations)
            .where(m.organization_id.in_(ids))
            .where(m.established_on <= today)
            .where(or_(m.dissolved_on.is_(None), m.dissolved_on > today))
        )
        for row in rows.mappings():
            mass[row["organization_id"]].append(mass_organization_of(row))
        return {
            o.id: Surroundings(
                branch=found.get(o.branch_id) if o.branch_id else None,
                instructor_assigned=o.id in assigned,
                mass_organizations=tuple(mass.get(o.id, ())),
            )
            for o in page
        }

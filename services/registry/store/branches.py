"""SQL for committees and branches, and the one write to the ledger it owns: which Party
organisation covers each organisation (`organizations.branch_id`, `organizations.branch_kind`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, tuple_, update

from libs.common.db import Repository, dialect_insert, one_of
from libs.common.subtree import within_region
from services.registry.domain.branches import Branch, Committee
from services.registry.store.party_tables import branch_organizations, branches, committees
from services.registry.store.tables import organizations


def committee_of(row: Mapping[Any, Any]) -> Committee:
    values = dict(row)
    values.pop("created_at", None)
    return Committee(**values)


class CommitteeRepository(Repository):
    async def add(self, committee: Committee, now: datetime) -> None:
        await self.session.execute(
            insert(committees).values(
                id=committee.id,
                kind=committee.kind,
                name=committee.name,
                parent_id=committee.parent_id,
                region_code=committee.region_code,
                formed_on=committee.formed_on,
                created_at=now,
            )
        )

    async def get(self, committee_id: str) -> Committee | None:
        row = await self.row_by_id(committees, committee_id)
        return committee_of(row) if row else None

    async def find(
        self,
        region_code: str,
        *,
        kind: str | None = None,
        parent_id: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Committee]:
        """A page of the committees of a region's subtree, in (region_code, id) order after a
        keyset cursor."""
        t = committees.c
        statement = select(committees).where(within_region(t.region_code, region_code))
        if kind is not None:
            statement = statement.where(t.kind == kind)
        if parent_id is not None:
            statement = statement.where(t.parent_id == parent_id)
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
        return [committee_of(row) for row in rows.mappings()]


_BRANCH_COLUMNS = (
    "kind",
    "name",
    "parent_id",
    "region_code",
    "formed_on",
    "ends_on",
    "can_develop_members",
    "status",
    "warnings",
    "dissolved_on",
    "dissolution_reason",
    "version",
    "rectification_reason",
    "rectify_by",
    "reparenting_reason",
)


def branch_of(row: Mapping[Any, Any], covered: Sequence[Any] = ()) -> Branch:
    """A branch from its row and the `branch_organizations` rows of what it covers (each with
    `organization_id` and `unable_reason`; none when the caller needs the branch alone)."""
    return Branch(
        id=row["id"],
        **{c: row[c] for c in _BRANCH_COLUMNS},
        organization_ids=[c.organization_id for c in covered],
        unable_reasons={c.organization_id: c.unable_reason for c in covered if c.unable_reason},
    )


class BranchRepository(Repository):
    async def get(self, branch_id: str, *, for_update: bool = False) -> Branch | None:
        row = await self.row_by_id(branches, branch_id, for_update=for_update)
        if row is None:
            return None
        ended_by = "dissolved" if row["status"] == "dissolved" else None
        covered = (
            await self.session.execute(
                select(branch_organizations.c.organization_id, branch_organizations.c.unable_reason)
                .where(branch_organizations.c.branch_id == branch_id)
                .where(
                    branch_organizations.c.ended_by.is_(None)
                    if ended_by is None
                    else branch_organizations.c.ended_by == ended_by
                )
                .order_by(branch_organizations.c.organization_id)
            )
        ).all()
        return branch_of(row, covered)

    async def find(
        self,
        region_code: str,
        *,
        kind: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        organization_id: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Branch]:
        """A page of the branches of a region's subtree, in (region_code, id) order after a
        keyset cursor, each with the organisations it covers (two statements a page)."""
        t = branches.c
        statement = select(branches).where(within_region(t.region_code, region_code))
        if kind is not None:
            statement = statement.where(t.kind == kind)
        if status is not None:
            statement = statement.where(t.status == status)
        if parent_id is not None:
            statement = statement.where(t.parent_id == parent_id)
        if organization_id is not None:
            b = branch_organizations.c
            statement = statement.where(
                t.id.in_(
                    select(b.branch_id)
                    .where(b.organization_id == organization_id)
                    .where(b.ended_by.is_(None))
                )
            )
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = list(
            (
                await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
            ).mappings()
        )
        if not rows:
            return []
        b = branch_organizations.c
        covered = await self.session.execute(
            select(b.branch_id, b.organization_id, b.unable_reason, b.ended_by)
            .where(one_of(self.session, b.branch_id, [row["id"] for row in rows]))
            .where(or_(b.ended_by.is_(None), b.ended_by == "dissolved"))
            .order_by(b.branch_id, b.organization_id)
        )
        by_branch: dict[str, list[Any]] = {}
        for c in covered:
            by_branch.setdefault(c.branch_id, []).append(c)
        found = []
        for row in rows:
            ended_by = "dissolved" if row["status"] == "dissolved" else None
            own = [c for c in by_branch.get(row["id"], []) if c.ended_by == ended_by]
            found.append(branch_of(row, own))
        return found

    async def rectification_overdue(self, today: date, limit: int) -> list[str]:
        """Branches still needing rectification after their deadline, not yet announced for it."""
        c = branches.c
        rows = await self.session.execute(
            select(c.id)
            .where(c.status == "needs_rectification", c.rectify_by < today)
            .where(or_(c.overdue_announced_for.is_(None), c.overdue_announced_for != c.rectify_by))
            .order_by(c.rectify_by, c.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def mark_overdue_announced(self, branch_id: str, rectify_by: date) -> None:
        """Remember the deadline announced (the branch's state and version do not change)."""
        await self.session.execute(
            update(branches)
            .where(branches.c.id == branch_id)
            .values(overdue_announced_for=rectify_by)
        )

    async def covering(self, organization_ids: Iterable[str]) -> dict[str, str | None]:
        """The active branch covering each organisation (None where none does)."""
        ids = sorted(set(organization_ids))
        found: dict[str, str | None] = dict.fromkeys(ids)
        if ids:
            rows = await self.session.execute(
                select(branch_organizations.c.organization_id, branch_organizations.c.branch_id)
                .where(branch_organizations.c.organization_id.in_(ids))
                .where(branch_organizations.c.ended_by.is_(None))
            )
            found.update({r.organization_id: r.branch_id for r in rows})
        return found

    async def add(self, branch: Branch, now: datetime) -> None:
        await self.session.execute(
            insert(branches).values(
                id=branch.id,
                **{c: getattr(branch, c) for c in _BRANCH_COLUMNS},
                created_at=now,
                updated_at=now,
            )
        )
        await self.cover(branch, branch.organization_ids, branch.formed_on)

    async def save(self, branch: Branch, *, expected_version: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(branches)
            .where(branches.c.id == branch.id)
            .where(branches.c.version == expected_version)
            .values(**{c: getattr(branch, c) for c in _BRANCH_COLUMNS}, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def cover(self, branch: Branch, organization_ids: Sequence[str], on: date) -> None:
        """The branch covers these organisations from `on` (again, if it covered them before)."""
        if not organization_ids:
            return
        statement = dialect_insert(self.session, branch_organizations)
        statement = statement.on_conflict_do_update(
            index_elements=[
                branch_organizations.c.branch_id,
                branch_organizations.c.organization_id,
            ],
            set_={
                "unable_reason": statement.excluded.unable_reason,
                "added_on": statement.excluded.added_on,
                "removed_on": None,
                "ended_by": None,
            },
        )
        await self.session.execute(
            statement,
            [
                {
                    "branch_id": branch.id,
                    "organization_id": organization_id,
                    "unable_reason": branch.unable_reasons.get(organization_id),
                    "added_on": on,
                    "removed_on": None,
                    "ended_by": None,
                }
                for organization_id in organization_ids
            ],
        )
        await self._mark_organizations(organization_ids, branch.id, branch.kind)

    async def uncover(
        self, branch_id: str, organization_ids: Sequence[str], on: date, *, ended_by: str
    ) -> None:
        """The branch stops covering these organisations (`ended_by`: removed or dissolved)."""
        if not organization_ids:
            return
        await self.session.execute(
            update(branch_organizations)
            .where(branch_organizations.c.branch_id == branch_id)
            .where(branch_organizations.c.organization_id.in_(list(organization_ids)))
            .where(branch_organizations.c.ended_by.is_(None))
            .values(removed_on=on, ended_by=ended_by)
        )
        await self._mark_organizations(organization_ids, None, None)

    async def _mark_organizations(
        self, organization_ids: Sequence[str], branch_id: str | None, kind: str | None
    ) -> None:
        # The ledger's one column pair this store writes: which branch covers the organisation.
        await self.session.execute(
            update(organizations)
            .where(organizations.c.id == bindparam("_id"))
            .values(branch_id=bindparam("_branch"), branch_kind=bindparam("_kind")),
            [{"_id": i, "_branch": branch_id, "_kind": kind} for i in organization_ids],
        )

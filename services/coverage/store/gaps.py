"""Read-only SQL over `organization_facts` for the gap list and joint-branch candidates.

The rules of `domain/gaps.py` (in scope, covered, reason, next action) are restated here as SQL
predicates so that filtering, sorting, counting and paging happen in the database;
`tests/coverage/test_gaps_store.py` checks both statements agree on every combination of facts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select, true, tuple_

from libs.common.db import Repository, containing, starting_with
from libs.common.subtree import within_region
from services.coverage.domain.facts import (
    GONE_STATUSES,
    ORGANIZATION_BRANCH_KINDS,
    CoverageFacts,
    Scope,
)
from services.coverage.domain.gaps import (
    SORT_FIELDS,
    GapFilter,
    Metric,
    NextAction,
    Reason,
)
from services.coverage.domain.proposals import Candidate, ExistingJointBranch
from services.coverage.store.projection import counts_on
from services.coverage.store.tables import branch_organizations, branches
from services.coverage.store.tables import organization_facts as facts

_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "region_code": facts.c.region_code,
    "name": facts.c.name,
    "credit_code": facts.c.credit_code,
    "industry_code": func.coalesce(facts.c.industry_code, ""),
    "staff_count": func.coalesce(facts.c.staff_count, -1),
    "full_members": facts.c.full_members,
}
#: The column of each sort key (`domain.gaps.SORT_FIELDS`); each sort ends with the organisation
#: id. Nullable columns sort as if empty so that the keyset comparison never meets a NULL.
SORT_KEYS: dict[str, ColumnElement[Any]] = {name: _SORT_COLUMNS[name] for name in SORT_FIELDS}


@dataclass(frozen=True)
class GapRow:
    """One organisation of the gap list as stored, with the value it was sorted by."""

    facts: CoverageFacts
    township_code: str
    size_band: str
    sort_value: Any


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """`CoverageFacts.in_scope` in SQL."""
    counted = and_(
        facts.c.managed == true(), facts.c.operating_status.not_in(sorted(GONE_STATUSES))
    )
    if scope == "all_registered":
        return counted
    operating = and_(counted, facts.c.operating_status != "suspended")
    if scope == "with_members":
        return and_(operating, facts.c.full_members + facts.c.probationary_members > 0)
    if scope == "three_haves":
        return and_(operating, facts.c.three_haves == true())
    return operating


def uncovered(metric: Metric) -> ColumnElement[bool]:
    """Not covered in the sense of the metric: no own or joint branch (a temporary one does not
    count) for organisation coverage; no Party organisation at all (a temporary one does),
    instructor or mass organisation for work coverage."""
    if metric is Metric.ORGANIZATION:
        return or_(
            facts.c.branch_kind.is_(None),
            facts.c.branch_kind.not_in(sorted(ORGANIZATION_BRANCH_KINDS)),
        )
    return and_(
        facts.c.branch_id.is_(None),
        facts.c.instructor_count == 0,
        facts.c.mass_organization_count == 0,
    )


def has_reason(reason: Reason, metric: Metric, min_full: int) -> ColumnElement[bool]:
    full, probationary = facts.c.full_members, facts.c.probationary_members
    if reason is Reason.ELIGIBLE_WITHOUT_BRANCH:
        return full >= min_full
    if reason is Reason.TOO_FEW_FULL_MEMBERS:
        return and_(full > 0, full < min_full)
    if reason is Reason.PROBATIONARY_MEMBERS_ONLY:
        return and_(full == 0, probationary > 0)
    if reason is Reason.NO_MEMBERS:
        return and_(full == 0, probationary == 0)
    return true() if metric is Metric.WORK else false()


def has_next_action(action: NextAction, min_full: int) -> ColumnElement[bool]:
    full, probationary = facts.c.full_members, facts.c.probationary_members
    below = full < min_full
    if action is NextAction.FORM_STANDALONE_BRANCH:
        return full >= min_full
    if action is NextAction.JOIN_OR_FORM_JOINT_BRANCH:
        return and_(below, full + probationary > 0)
    if action is NextAction.ASSIGN_INSTRUCTOR:
        return and_(below, facts.c.instructor_count == 0)
    if action is NextAction.SET_UP_MASS_ORGANIZATION:
        return and_(below, facts.c.mass_organization_count == 0)
    if action is NextAction.DEVELOP_MEMBERS:
        return and_(full == 0, probationary == 0)
    return not_(facts.c.ledger_complete)


def _where(f: GapFilter) -> list[ColumnElement[bool]]:
    conditions = [
        within_region(facts.c.region_code, f.region_code),
        in_scope(f.scope),
        uncovered(f.metric),
    ]
    if f.kind is not None:
        conditions.append(facts.c.kind == f.kind)
    if f.industry is not None:
        conditions.append(starting_with(facts.c.industry_code, f.industry))
    if f.township is not None:
        conditions.append(facts.c.township_code == f.township)
    if f.size_band is not None:
        conditions.append(facts.c.size_band == f.size_band)
    if f.area_id is not None:
        # area_ids is a JSON list of strings; match one element, quotes included
        conditions.append(containing(facts.c.area_ids, json.dumps(f.area_id)))
    if f.reason is not None:
        conditions.append(has_reason(f.reason, f.metric, f.min_full_members))
    if f.next_action is not None:
        conditions.append(has_next_action(f.next_action, f.min_full_members))
    return conditions


def to_facts(row: Any) -> CoverageFacts:
    return CoverageFacts(
        organization_id=row.organization_id,
        region_code=row.region_code,
        kind=row.kind,
        industry_code=row.industry_code,
        staff_count=row.staff_count,
        area_ids=tuple(json.loads(row.area_ids or "[]")),
        managed=row.managed,
        three_haves=row.three_haves,
        operating_status=row.operating_status,
        no_branch_reason=row.no_branch_reason,
        full_members=row.full_members,
        probationary_members=row.probationary_members,
        ledger_complete=row.ledger_complete,
        branch_id=row.branch_id,
        branch_kind=row.branch_kind,
        instructor_count=row.instructor_count,
        mass_organization_count=row.mass_organization_count,
        name=row.name,
        credit_code=row.credit_code,
        latitude=row.latitude,
        longitude=row.longitude,
        branch_formed_on=row.branch_formed_on,
    )


class GapRepository(Repository):
    async def count(self, f: GapFilter) -> int:
        query = select(func.count()).select_from(facts).where(*_where(f))
        return int((await self.session.execute(query)).scalar_one())

    def _page_query(
        self, f: GapFilter, sort: str, after: tuple[Any, str] | None, limit: int | None
    ) -> Select[Any]:
        descending = sort.startswith("-")
        key = SORT_KEYS[sort.removeprefix("-")]
        order = (
            (key.desc(), facts.c.organization_id.desc())
            if descending
            else (
                key.asc(),
                facts.c.organization_id.asc(),
            )
        )
        query = select(facts, key.label("sort_value")).where(*_where(f))
        if after is not None:
            position = tuple_(key, facts.c.organization_id)
            query = query.where(position < after if descending else position > after)
        query = query.order_by(*order)
        return query if limit is None else query.limit(limit)

    async def page(
        self, f: GapFilter, *, sort: str, after: tuple[Any, str] | None, limit: int
    ) -> list[GapRow]:
        """Up to `limit` gaps after the keyset position `after` (sort value, organisation id)."""
        rows = (await self.session.execute(self._page_query(f, sort, after, limit))).all()
        return [GapRow(to_facts(r), r.township_code, r.size_band, r.sort_value) for r in rows]

    async def chunks(self, f: GapFilter, *, sort: str, size: int) -> AsyncIterator[list[GapRow]]:
        """Every gap in sort order from one streamed query, `size` rows at a time (the export):
        one sort in the database, and never the whole list in memory."""
        query = self._page_query(f, sort, None, None).execution_options(yield_per=size)
        result = await self.session.stream(query)
        async for rows in result.partitions(size):
            yield [GapRow(to_facts(r), r.township_code, r.size_band, r.sort_value) for r in rows]

    async def joint_branches(self, region_code: str, day: date) -> list[ExistingJointBranch]:
        """The joint branches counting on `day` that cover organisations of the region, with
        those organisations still in the ledger and not closed or revoked (as candidates are
        described): a place held by an organisation that has gone is free."""
        query = (
            select(
                branch_organizations.c.branch_id,
                *[facts.c[name] for name in _CANDIDATE_COLUMNS],
            )
            .join(branches, branches.c.branch_id == branch_organizations.c.branch_id)
            .join(facts, facts.c.organization_id == branch_organizations.c.organization_id)
            .where(
                branches.c.kind == "joint",
                counts_on(day)[branches],
                within_region(facts.c.region_code, region_code),
                in_scope("all_registered"),
            )
            .order_by(branch_organizations.c.branch_id, facts.c.organization_id)
        )
        members: dict[str, list[Candidate]] = {}
        for row in await self.session.execute(query):
            members.setdefault(row.branch_id, []).append(_candidate(row))
        return [ExistingJointBranch(b, tuple(m)) for b, m in members.items()]

    async def joint_branch_candidates(
        self, region_code: str, min_full: int, *, township: str | None, limit: int
    ) -> Sequence[Candidate]:
        """Operating organisations in the ledger without a branch of their own or a joint one
        that could join a joint branch: 1..min_full-1 full members, or probationary members
        only (closed, revoked and suspended ones never). At most `limit` rows."""
        full, probationary = facts.c.full_members, facts.c.probationary_members
        query = select(
            facts.c.organization_id,
            facts.c.township_code,
            facts.c.full_members,
            facts.c.probationary_members,
            facts.c.industry_code,
            facts.c.latitude,
            facts.c.longitude,
            facts.c.name,
            facts.c.credit_code,
        ).where(
            within_region(facts.c.region_code, region_code),
            in_scope("all_managed"),
            uncovered(Metric.ORGANIZATION),
            full < min_full,
            or_(full > 0, probationary > 0),
        )
        if township is not None:
            query = query.where(facts.c.township_code == township)
        query = query.order_by(facts.c.township_code, facts.c.organization_id).limit(limit)
        rows = (await self.session.execute(query)).all()
        return [_candidate(r) for r in rows]


_CANDIDATE_COLUMNS = (
    "organization_id",
    "township_code",
    "full_members",
    "probationary_members",
    "industry_code",
    "latitude",
    "longitude",
    "name",
    "credit_code",
)


def _candidate(r: Any) -> Candidate:
    return Candidate(
        organization_id=r.organization_id,
        township_code=r.township_code,
        full_members=r.full_members,
        probationary_members=r.probationary_members,
        industry_code=r.industry_code,
        latitude=r.latitude,
        longitude=r.longitude,
        name=r.name,
        credit_code=r.credit_code,
    )

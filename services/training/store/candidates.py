"""SQL of the member-development pipeline: candidates, their deadlines, the pipeline counts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, null, select, update

from libs.common.db import Repository, dialect_insert
from libs.common.subtree import within_region
from services.training.domain.candidates import Candidate, DeadlineKind, Vote
from services.training.store.tables import candidate_deadlines, candidates

_DATES = (
    "applied_on",
    "talked_on",
    "activist_on",
    "target_on",
    "political_review_on",
    "trained_on",
    "admitted_on",
    "approved_on",
    "confirmed_on",
    "cancelled_on",
)
_PLAIN = (
    "id",
    "version",
    "region_code",
    "organization_id",
    "branch_id",
    "id_hash",
    "id_masked",
    "name_masked",
    "stage",
    "training_days",
    "training_hours",
    "approval_extended",
    "extension_months",
    "cancel_reason",
)


def _candidate(row: Mapping[Any, Any]) -> Candidate:
    vote = (
        Vote(row["vote_entitled"], row["vote_present"], row["vote_yes"])
        if row["vote_entitled"] is not None
        else None
    )
    return Candidate(
        **{name: row[name] for name in _PLAIN + _DATES},
        introducers=tuple(json.loads(row["introducers"])),
        vote=vote,
    )


def _row(candidate: Candidate, now: datetime) -> dict[str, Any]:
    vote = candidate.vote
    return {
        **{name: getattr(candidate, name) for name in _PLAIN + _DATES},
        "introducers": json.dumps(list(candidate.introducers), ensure_ascii=False),
        "vote_entitled": vote.entitled if vote else None,
        "vote_present": vote.present if vote else None,
        "vote_yes": vote.yes if vote else None,
        "updated_at": now,
    }


@dataclass(frozen=True)
class DueDeadline:
    """A deadline the timer worker has to announce: approaching or breached."""

    candidate_id: str
    kind: DeadlineKind
    due_on: date


@dataclass(frozen=True)
class StageCount:
    organization_id: str
    branch_id: str
    stage: str
    count: int


def _keep_unless(changed: Any, column: Any) -> Any:
    """`column` as it is, or NULL when the due date moved (a new deadline is announced anew)."""
    return case((changed, null()), else_=column)


class CandidateRepository(Repository):
    async def get(self, candidate_id: str, *, for_update: bool = False) -> Candidate | None:
        row = await self.row_by_id(candidates, candidate_id, for_update=for_update)
        return _candidate(row) if row else None

    async def add(self, candidate: Candidate, now: datetime) -> None:
        await self.session.execute(candidates.insert().values(**_row(candidate, now)))

    async def save(self, candidate: Candidate, now: datetime) -> None:
        values = _row(candidate, now)
        del values["id"]
        await self.session.execute(
            update(candidates).where(candidates.c.id == candidate.id).values(**values)
        )

    async def in_pipeline(self, id_hash: str, region_code: str) -> bool:
        """Whether this person is a candidate still moving in the region (not full, not left)."""
        found = await self.session.execute(
            select(candidates.c.id)
            .where(candidates.c.id_hash == id_hash)
            .where(within_region(candidates.c.region_code, region_code[:6]))
            .where(candidates.c.stage.not_in(("full", "cancelled")))
            .limit(1)
        )
        return found.first() is not None

    async def stage_counts(self, region_code: str) -> list[StageCount]:
        """Candidates per organisation, branch and stage in a region (one GROUP BY)."""
        t = candidates
        rows = await self.session.execute(
            select(t.c.organization_id, t.c.branch_id, t.c.stage, func.count())
            .where(within_region(t.c.region_code, region_code))
            .group_by(t.c.organization_id, t.c.branch_id, t.c.stage)
            .order_by(t.c.organization_id, t.c.branch_id, t.c.stage)
        )
        return [StageCount(o, b, s, int(n)) for o, b, s, n in rows]

    async def listed(
        self,
        region_code: str,
        *,
        organization_id: str | None,
        branch_id: str | None,
        stage: str | None,
        after_id: str | None,
        limit: int,
    ) -> list[Candidate]:
        """Candidates of a region by id (keyset: those after `after_id`), optionally of one
        organisation, branch or stage."""
        t = candidates
        statement = select(t).where(within_region(t.c.region_code, region_code))
        if organization_id is not None:
            statement = statement.where(t.c.organization_id == organization_id)
        if branch_id is not None:
            statement = statement.where(t.c.branch_id == branch_id)
        if stage is not None:
            statement = statement.where(t.c.stage == stage)
        if after_id is not None:
            statement = statement.where(t.c.id > after_id)
        rows = await self.session.execute(statement.order_by(t.c.id).limit(limit))
        return [_candidate(row) for row in rows.mappings()]

    async def many(self, candidate_ids: Sequence[str]) -> dict[str, Candidate]:
        if not candidate_ids:
            return {}
        rows = await self.session.execute(
            select(candidates).where(candidates.c.id.in_(list(candidate_ids)))
        )
        return {row["id"]: _candidate(row) for row in rows.mappings()}


class DeadlineRepository(Repository):
    async def replace(
        self, candidate_id: str, running: Mapping[DeadlineKind, tuple[date, date]]
    ) -> None:
        """The candidate's running deadlines (due, warn) become exactly `running`: one whose due
        date is unchanged keeps what was already announced; the others are closed."""
        t = candidate_deadlines
        await self.session.execute(
            update(t)
            .where(t.c.candidate_id == candidate_id, t.c.kind.not_in(list(running)))
            .values(closed=True)
        )
        for kind, (due_on, warn_on) in running.items():
            statement = dialect_insert(self.session, t).values(
                candidate_id=candidate_id, kind=kind, due_on=due_on, warn_on=warn_on, closed=False
            )
            changed = t.c.due_on != statement.excluded.due_on
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.c.candidate_id, t.c.kind],
                    set_={
                        "due_on": statement.excluded.due_on,
                        "warn_on": statement.excluded.warn_on,
                        "closed": False,
                        "warned_on": _keep_unless(changed, t.c.warned_on),
                        "breached_on": _keep_unless(changed, t.c.breached_on),
                    },
                )
            )

    async def approaching(self, today: date, limit: int) -> list[DueDeadline]:
        t = candidate_deadlines
        rows = await self.session.execute(
            select(t.c.candidate_id, t.c.kind, t.c.due_on)
            .where(
                t.c.closed.is_(False),
                t.c.warned_on.is_(None),
                t.c.warn_on <= today,
                t.c.due_on >= today,
            )
            .order_by(t.c.warn_on)
            .limit(limit)
        )
        return [DueDeadline(c, k, d) for c, k, d in rows]

    async def breached(self, today: date, limit: int) -> list[DueDeadline]:
        t = candidate_deadlines
        rows = await self.session.execute(
            select(t.c.candidate_id, t.c.kind, t.c.due_on)
            .where(t.c.closed.is_(False), t.c.breached_on.is_(None), t.c.due_on < today)
            .order_by(t.c.due_on)
            .limit(limit)
        )
        return [DueDeadline(c, k, d) for c, k, d in rows]

    async def mark(self, deadlines: Sequence[DueDeadline], column: str, today: date) -> None:
        t = candidate_deadlines
        for d in deadlines:
            await self.session.execute(
                update(t)
                .where(and_(t.c.candidate_id == d.candidate_id, t.c.kind == d.kind))
                .values({column: today})
            )

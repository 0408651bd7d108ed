"""Use cases of the branch routine: branches from the registry, meetings, the daily judgement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from libs.common.audit import Actor
from libs.common.calendar import add_months
from libs.common.ids import new_id
from libs.common.tables import utcnow
from libs.common.validators import is_within
from services.training.domain.periods import Period
from services.training.domain.routine import (
    BranchKind,
    BranchNotFound,
    BranchRoutine,
    Lapse,
    Meeting,
    MeetingType,
    PeriodView,
    RoutineRules,
    check_meeting,
    check_range,
    judge,
    judged_through,
    restored_by,
    routine_view,
    with_structure,
)
from services.training.events import MeetingRecordedV1, RoutineLapsedV1, RoutineRestoredV1
from services.training.store.uow import TrainingUnitOfWork


@dataclass(frozen=True)
class BranchChange:
    """A branch as one registry event leaves it."""

    branch_id: str
    version: int
    kind: BranchKind
    name: str
    region_code: str
    organization_ids: tuple[str, ...]
    on: date
    dissolved: bool = False


async def branches_changed(uow: TrainingUnitOfWork, changes: Sequence[BranchChange]) -> None:
    """Apply registry branch events in order: a newer version replaces what is known, an older
    one changes nothing; a branch first seen starts its routine on the event's date."""
    known = await uow.routines.many(sorted({c.branch_id for c in changes}))
    added: dict[str, BranchRoutine] = {}
    changed: dict[str, BranchRoutine] = {}
    for change in changes:
        before = added.get(change.branch_id) or changed.get(change.branch_id)
        before = before or known.get(change.branch_id)
        if before is not None and before.version >= change.version:
            continue
        if before is None:
            after = BranchRoutine(
                branch_id=change.branch_id,
                kind=change.kind,
                name=change.name,
                region_code=change.region_code,
                organization_ids=change.organization_ids,
                formed_on=change.on,
                version=change.version,
                dissolved_on=change.on if change.dissolved else None,
            )
            added[change.branch_id] = after
            continue
        after = replace(
            before,
            kind=change.kind,
            name=change.name,
            region_code=change.region_code,
            organization_ids=change.organization_ids,
            version=change.version,
            dissolved_on=max(change.on, before.formed_on) if change.dissolved else None,
        )
        if change.branch_id in added:
            added[change.branch_id] = after
        else:
            changed[change.branch_id] = after
    now = utcnow()
    await uow.routines.add_many(list(added.values()), now)
    await uow.routines.save_many(list(changed.values()), now)


async def _routine(
    uow: TrainingUnitOfWork, branch_id: str, scope: str, *, for_update: bool = False
) -> BranchRoutine:
    routine = await uow.routines.get(branch_id, for_update=for_update)
    if routine is None or not is_within(routine.region_code, scope):
        raise BranchNotFound(branch_id)
    return routine


async def record_meeting(
    uow: TrainingUnitOfWork,
    actor: Actor,
    rules: RoutineRules,
    *,
    branch_id: str,
    meeting_type: MeetingType,
    held_on: date,
    topic: str,
    entitled: int,
    present: int,
    today: date,
) -> Meeting:
    """Record a meeting; it restores any lapse of its type whose period began by its date."""
    routine = await _routine(uow, branch_id, actor.region_code, for_update=True)
    check_meeting(routine, held_on, today, entitled, present)
    meeting = Meeting(
        id=new_id(),
        branch_id=branch_id,
        meeting_type=meeting_type,
        held_on=held_on,
        topic=topic,
        entitled=entitled,
        present=present,
        region_code=routine.region_code,
        organization_ids=routine.organization_ids,
    )
    await uow.meetings.add(meeting, utcnow())
    branch = {
        "branch_id": branch_id,
        "region_code": routine.region_code,
        "organization_ids": list(routine.organization_ids),
    }
    await uow.record_and_audit(
        actor,
        MeetingRecordedV1(
            **branch,
            meeting_id=meeting.id,
            meeting_type=meeting_type,
            held_on=held_on,
            period=Period.containing(rules.frequency(meeting_type), held_on).label,
            entitled=entitled,
            present=present,
        ),
        entity_type="meeting",
        region_code=routine.region_code,
        extra={"topic": topic},
    )
    for lapse in restored_by(await uow.lapses.outstanding(branch_id), meeting_type, held_on):
        period_met = lapse.period.holds(held_on)
        await uow.lapses.restore(
            lapse, restored_on=today, meeting_id=meeting.id, period_met=period_met
        )
        uow.record(
            RoutineRestoredV1(
                **branch,
                **_period_fields(lapse.meeting_type, lapse.period),
                meeting_id=meeting.id,
                held_on=held_on,
                period_met=period_met,
            )
        )
    return meeting


async def set_structure(
    uow: TrainingUnitOfWork,
    actor: Actor,
    *,
    branch_id: str,
    has_committee: bool,
    has_groups: bool,
    since: date,
) -> BranchRoutine:
    """Record whether the branch has a committee and Party groups (what it then owes)."""
    before = await _routine(uow, branch_id, actor.region_code, for_update=True)
    after = with_structure(before, has_committee=has_committee, has_groups=has_groups, since=since)
    await uow.routines.save_many([after], utcnow())
    await uow.audit.record(
        actor,
        "routine.structure",
        entity_type="branch",
        entity_id=branch_id,
        region_code=after.region_code,
        changes={
            "committee_since": after.committee_since,
            "groups_since": after.groups_since,
        },
    )
    return after


def _period_fields(meeting_type: MeetingType, period: Period) -> dict[str, object]:
    return {
        "obligation": meeting_type,
        "frequency": period.frequency,
        "period": period.label,
        "period_starts_on": period.starts_on,
        "period_ends_on": period.last_day,
    }


@dataclass(frozen=True)
class RoutineReport:
    routine: BranchRoutine
    periods: list[PeriodView]


async def meetings_of(
    uow: TrainingUnitOfWork,
    branch_id: str,
    scope: str,
    *,
    meeting_type: str | None,
    after: tuple[date, str] | None,
    limit: int,
) -> list[Meeting]:
    """A page of a branch's recorded meetings, latest first; `BranchNotFound` outside `scope`."""
    await _routine(uow, branch_id, scope)
    return await uow.meetings.page_of(
        branch_id, meeting_type=meeting_type, after=after, limit=limit
    )


async def routine_of(
    uow: TrainingUnitOfWork,
    rules: RoutineRules,
    *,
    branch_id: str,
    scope: str,
    starts_on: date,
    ends_on: date,
    today: date,
) -> RoutineReport:
    check_range(starts_on, ends_on)
    routine = await _routine(uow, branch_id, scope)
    # every period nests in its calendar year: the years around the range hold all it needs
    held = await uow.meetings.held(
        [branch_id],
        Period.containing("year", starts_on).starts_on,
        Period.containing("year", ends_on).ends_before,
    )
    views = routine_view(
        routine,
        rules,
        starts_on=starts_on,
        ends_on=ends_on,
        today=today,
        held=held.get(branch_id, {}),
    )
    return RoutineReport(routine, views)


async def judge_routines(
    uow: TrainingUnitOfWork, rules: RoutineRules, *, today: date, limit: int
) -> int:
    """Judge the closed periods of up to `limit` branches not yet judged through the start of
    today's month (every period boundary is a first of month); returns how many were judged.

    A worker that was down judges every period that closed meanwhile, oldest first: each branch
    remembers how far it was judged, so a run resumes where the last one stopped."""
    through = today.replace(day=1)
    due = await uow.routines.due(through, limit)
    if not due:
        return 0
    since = min(r.judged_through or r.formed_on for r in due)
    # a period closing after `judged_through` may have begun up to a year before it
    held = await uow.meetings.held([r.branch_id for r in due], add_months(since, -12), through)
    lapses: list[tuple[BranchRoutine, Lapse]] = []
    for routine in due:
        for verdict in judge(routine, rules, through, held.get(routine.branch_id, {})):
            if not verdict.met:
                lapses.append(
                    (routine, Lapse(routine.branch_id, verdict.meeting_type, verdict.period))
                )
    added = await uow.lapses.add_many([lapse for _, lapse in lapses], today)
    uow.record_many(
        RoutineLapsedV1(
            branch_id=routine.branch_id,
            region_code=routine.region_code,
            organization_ids=list(routine.organization_ids),
            **_period_fields(lapse.meeting_type, lapse.period),
            judged_on=today,
        )
        for routine, lapse in lapses
        if (lapse.branch_id, lapse.meeting_type, lapse.period.starts_on) in added
    )
    await uow.routines.mark_judged({r.branch_id: judged_through(r, through) for r in due})
    return len(due)

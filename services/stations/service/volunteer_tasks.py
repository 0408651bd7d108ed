"""Use cases of volunteer tasks (志愿服务): post, sign up, withdraw, record attendance, complete,
rate (which awards the task's points once, through the ledger), cancel; the one place volunteer
task events are built.

Every change takes the task's row lock first (`get(..., for_update=True)`; SQLite's writer lock
does the same), so concurrent sign-ups see each other and never exceed the task's places."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.tables import utcnow
from libs.common.validators import InvalidCode, is_within
from services.stations.domain.requests import Party, UnknownStation
from services.stations.domain.volunteer_tasks import (
    Participant,
    StaleVolunteerTask,
    TaskAction,
    TaskFilter,
    VolunteerTask,
    VolunteerTaskNotFound,
    attendance_recorded,
    award_key,
    cancelled,
    check_post,
    check_task_move,
    completed,
    rated,
    signed_up,
    withdrawn,
)
from services.stations.domain.workers import Worker, WorkerNotFound
from services.stations.events import (
    VolunteerTaskCancelledV1,
    VolunteerTaskCompletedV1,
    VolunteerTaskPostedV1,
)
from services.stations.service.points import award_points
from services.stations.store.uow import StationsUnitOfWork


def _within(region_code: str, actor: Actor) -> bool:
    """Whether a task or worker lies in the region the actor answers for (outside it, it does
    not exist for the actor)."""
    try:
        return is_within(region_code, actor.region_code)
    except InvalidCode:
        return False


def _state_of(task: VolunteerTask) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "version": task.version,
        "region_code": task.region_code,
        "state": task.state,
        "station_id": task.station_id,
        "community_code": task.community_code,
        "starts_at": task.starts_at,
        "ends_at": task.ends_at,
        "places": task.places,
        "points": task.points,
    }


async def post_task(uow: StationsUnitOfWork, actor: Actor, **values: Any) -> VolunteerTask:
    """Post a volunteer task and announce it."""
    now = utcnow()
    check_post(
        region_code=values["region_code"],
        community_code=values.get("community_code"),
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        now=now,
    )
    station_id = values.get("station_id")
    if station_id is not None:
        station = await uow.stations.get(station_id)
        if station is None or not _within(station.region_code, actor):
            raise UnknownStation()
    task = VolunteerTask(id=new_id(), state="open", posted_at=now, **values)
    await uow.volunteer_tasks.add(task)
    await uow.record_and_audit(
        actor,
        VolunteerTaskPostedV1(**_state_of(task), posted_at=now),
        entity_type="volunteer_task",
        region_code=task.region_code,
        extra={"title": task.title},
    )
    return task


async def get_task(uow: StationsUnitOfWork, task_id: str) -> VolunteerTask | None:
    return await uow.volunteer_tasks.get_with_participants(task_id)


async def list_tasks(
    uow: StationsUnitOfWork, where: TaskFilter, *, after: tuple[str, str] | None, limit: int
) -> list[VolunteerTask]:
    return await uow.volunteer_tasks.find(where, after=after, limit=limit)


async def _for_move(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    action: TaskAction,
    *,
    worker_id: str | None = None,
    expected_version: int | None = None,
) -> VolunteerTask:
    """The task, locked, if the party may make `action` on it now."""
    task = await uow.volunteer_tasks.get(task_id, for_update=True)
    if task is None or not _within(task.region_code, actor):
        raise VolunteerTaskNotFound(task_id)
    if expected_version is not None and task.version != expected_version:
        raise StaleVolunteerTask(task_id, expected_version, task.version)
    check_task_move(task, action, party, worker_id)
    return task


async def _save(uow: StationsUnitOfWork, after: VolunteerTask, before: VolunteerTask) -> None:
    if not await uow.volunteer_tasks.save(after, expected_version=before.version):
        raise StaleVolunteerTask(after.id, before.version, before.version)  # not under the lock


async def _worker(uow: StationsUnitOfWork, actor: Actor, worker_id: str) -> Worker:
    worker = await uow.workers.get(worker_id)
    if worker is None or not _within(worker.region_code, actor):
        raise WorkerNotFound(worker_id)
    return worker


async def _audit(
    uow: StationsUnitOfWork, actor: Actor, task: VolunteerTask, action: str, **changes: Any
) -> None:
    await uow.audit.record(
        actor,
        f"volunteer_task.{action}",
        entity_type="volunteer_task",
        entity_id=task.id,
        region_code=task.region_code,
        changes=changes,
    )


async def sign_up(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    worker_id: str,
    *,
    now: datetime | None = None,
) -> VolunteerTask:
    """Sign a worker up for one of the task's places (again, after a withdrawal)."""
    before = await _for_move(uow, actor, party, task_id, "sign_up", worker_id=worker_id)
    await _worker(uow, actor, worker_id)
    existing = await uow.volunteer_tasks.participant(task_id, worker_id)
    after, participant = signed_up(before, existing, worker_id, now or utcnow())
    await _save(uow, after, before)
    if existing is None:
        await uow.volunteer_tasks.add_participant(participant)
    else:
        await uow.volunteer_tasks.save_participants([participant])
    await _audit(uow, actor, after, "signed_up", worker_id=worker_id, taken=after.taken)
    return await _read_back(uow, after)


async def withdraw(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    worker_id: str,
    *,
    now: datetime | None = None,
) -> VolunteerTask:
    """Give a worker's place back, before the task starts."""
    before = await _for_move(uow, actor, party, task_id, "withdraw", worker_id=worker_id)
    existing = await uow.volunteer_tasks.participant(task_id, worker_id)
    after, participant = withdrawn(before, existing, worker_id, now or utcnow())
    await _save(uow, after, before)
    await uow.volunteer_tasks.save_participants([participant])
    await _audit(uow, actor, after, "withdrawn", worker_id=worker_id, taken=after.taken)
    return await _read_back(uow, after)


async def record_attendance(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    *,
    attended: list[str],
    absent: list[str],
    now: datetime | None = None,
) -> VolunteerTask:
    """Mark the participants named present or absent (once the task has started)."""
    before = await _for_move(uow, actor, party, task_id, "attend")
    participants = await uow.volunteer_tasks.participants_of(task_id)
    after, marked = attendance_recorded(
        before, participants, attended=attended, absent=absent, now=now or utcnow()
    )
    await _save(uow, after, before)
    await uow.volunteer_tasks.save_participants(marked)
    await _audit(uow, actor, after, "attendance", attended=attended, absent=absent)
    return await _read_back(uow, after)


async def complete(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    *,
    expected_version: int | None,
    now: datetime | None = None,
) -> VolunteerTask:
    """Complete the task (once it has started): whoever was not marked present is absent."""
    before = await _for_move(
        uow, actor, party, task_id, "complete", expected_version=expected_version
    )
    at = now or utcnow()
    participants = await uow.volunteer_tasks.participants_of(task_id)
    after, unmarked = completed(before, participants, at)
    await _save(uow, after, before)
    await uow.volunteer_tasks.save_participants(unmarked)
    done = await _read_back(uow, after)
    await uow.record_and_audit(
        actor,
        VolunteerTaskCompletedV1(
            **_state_of(done),
            signed_up=done.taken,
            attended=sum(p.status == "attended" for p in done.participants),
            completed_at=at,
        ),
        entity_type="volunteer_task",
        region_code=done.region_code,
    )
    return done


async def cancel(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    *,
    reason: str,
    expected_version: int | None,
    now: datetime | None = None,
) -> VolunteerTask:
    """Cancel an open task: nobody is rated or awarded for it."""
    before = await _for_move(
        uow, actor, party, task_id, "cancel", expected_version=expected_version
    )
    at = now or utcnow()
    after = cancelled(before, at)
    await _save(uow, after, before)
    await uow.record_and_audit(
        actor,
        VolunteerTaskCancelledV1(**_state_of(after), signed_up=after.taken, cancelled_at=at),
        entity_type="volunteer_task",
        region_code=after.region_code,
        extra={"reason": reason},
    )
    return await _read_back(uow, after)


async def rate(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    task_id: str,
    worker_id: str,
    *,
    score: int,
    comment: str | None,
    now: datetime | None = None,
) -> tuple[Participant, bool]:
    """Rate an attendee's service (a new rating replaces the last) and award the task's points
    with reason `volunteer` under the key of the task and the worker: rating twice awards once.
    (The participant, whether this was its first rating.)"""
    before = await _for_move(uow, actor, party, task_id, "rate", worker_id=worker_id)
    existing = await uow.volunteer_tasks.participant(task_id, worker_id)
    participant = rated(
        before, existing, worker_id, score=score, comment=comment, now=now or utcnow()
    )
    first = existing is not None and existing.rated_at is None
    if before.points > 0:
        worker = await _worker(uow, actor, worker_id)
        transaction, _new = await award_points(
            uow,
            actor,
            worker=worker,
            reason="volunteer",
            points=before.points,
            idempotency_key=award_key(task_id, worker_id),
            volunteer_task_id=task_id,
        )
        participant = replace(participant, transaction_id=transaction.id)
    after = replace(before, version=before.version + 1)
    await _save(uow, after, before)
    await uow.volunteer_tasks.save_participants([participant])
    await _audit(uow, actor, after, "rated", worker_id=worker_id, score=score)
    return participant, first


async def _read_back(uow: StationsUnitOfWork, task: VolunteerTask) -> VolunteerTask:
    """The task after a change, with its participants (read under the lock the change holds)."""
    return replace(task, participants=tuple(await uow.volunteer_tasks.participants_of(task.id)))

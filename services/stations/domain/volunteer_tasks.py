"""Volunteer tasks (志愿服务): the office posts one, workers sign up for its places, the office
records who took part, completes it and rates each participant's service; a rating earns the
task's points (reason `volunteer`) once.

A task is `open` until the office completes or cancels it. Workers sign up (and may withdraw)
before it starts, never beyond its places nor twice; once it has started the office records
attendance and completes it (a participant nobody marked is then `absent`); only a completed
task's attendees are rated. Every move names who may make it and from which states; anything
else is refused with a `RuleBroken` (problem type `rule-violation`), as in the request loop.

Who: the office (a token with `stations:write`), or a worker (a token with `stations:request`
whose subject is `worker:<id>`) signing up or withdrawing themself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from libs.common.refusals import Invalid, NotFound, RuleBroken, Stale
from libs.common.validators import InvalidCode, is_within
from services.stations.domain.requests import Party, PartyKind

TaskState = Literal["open", "completed", "cancelled"]
TASK_STATES: tuple[TaskState, ...] = ("open", "completed", "cancelled")
ParticipantStatus = Literal["signed_up", "withdrawn", "attended", "absent"]
TaskAction = Literal["sign_up", "withdraw", "attend", "complete", "rate", "cancel"]

#: A participant who holds a place (a withdrawn one gave it back).
HOLDING: frozenset[ParticipantStatus] = frozenset({"signed_up", "attended", "absent"})


@dataclass(frozen=True)
class TaskMove:
    """Who may make a move and from which states of the task."""

    parties: frozenset[PartyKind]  # a worker (`requester`) only for themself
    from_states: frozenset[TaskState]


TASK_MOVES: dict[TaskAction, TaskMove] = {
    "sign_up": TaskMove(frozenset({"office", "requester"}), frozenset({"open"})),
    "withdraw": TaskMove(frozenset({"office", "requester"}), frozenset({"open"})),
    "attend": TaskMove(frozenset({"office"}), frozenset({"open"})),
    "complete": TaskMove(frozenset({"office"}), frozenset({"open"})),
    "rate": TaskMove(frozenset({"office"}), frozenset({"completed"})),
    "cancel": TaskMove(frozenset({"office"}), frozenset({"open"})),
}


_WHO: dict[PartyKind, str] = {"office": "office", "requester": "worker", "unit": "unit"}


class VolunteerTaskNotFound(NotFound):
    def __init__(self, task_id: str) -> None:
        super().__init__("volunteer task not found")
        self.task_id = task_id


class StaleVolunteerTask(Stale):
    def __init__(self, task_id: str, expected: int | None, current: int) -> None:
        super().__init__(
            f"volunteer task {task_id} is at version {current}, not {expected}",
            expected=expected,
            current=current,
        )


class SignUpNotFound(NotFound):
    def __init__(self, task_id: str, worker_id: str) -> None:
        super().__init__("no sign-up of this worker for this volunteer task")
        self.task_id = task_id
        self.worker_id = worker_id


@dataclass(frozen=True)
class Participant:
    """One worker's part in one task: signed up, withdrawn, attended or absent; rated once
    attended (the award's ledger transaction beside the score)."""

    task_id: str
    worker_id: str
    status: ParticipantStatus
    signed_up_at: datetime
    withdrawn_at: datetime | None = None
    attendance_at: datetime | None = None
    score: int | None = None
    comment: str | None = None
    rated_at: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True)
class VolunteerTask:
    id: str
    region_code: str
    title: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    places: int
    points: int
    state: TaskState
    posted_at: datetime
    station_id: str | None = None
    community_code: str | None = None
    taken: int = 0  # places held: signed up, attended or absent
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    version: int = 1
    participants: tuple[Participant, ...] = field(default=(), compare=False)

    @property
    def places_left(self) -> int:
        return max(self.places - self.taken, 0)

    def started(self, now: datetime) -> bool:
        return now >= self.starts_at


def check_post(
    *,
    region_code: str,
    community_code: str | None,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> None:
    """A window that ends after it starts and is not over yet; a community inside the region."""
    if ends_at <= starts_at:
        raise Invalid("ends_at", "must be after starts_at")
    if ends_at <= now:
        raise Invalid("ends_at", "the task is already over")
    if community_code is not None:
        try:
            inside = is_within(community_code, region_code)
        except InvalidCode:
            inside = False
        if not inside:
            raise Invalid("community_code", "not within the task's region")


def check_task_move(
    task: VolunteerTask, action: TaskAction, party: Party, worker_id: str | None = None
) -> None:
    """Whether `party` may make `action` on the task now; a `RuleBroken` saying why not."""
    move = TASK_MOVES[action]
    context = {"task_id": task.id, "action": action}
    if party.kind not in move.parties:
        raise RuleBroken(
            "who_may_move",
            f"the {' or the '.join(_WHO[k] for k in sorted(move.parties))} may "
            f"{action.replace('_', ' ')} here, not the {_WHO[party.kind]}",
            context={**context, "party": party.kind},
        )
    if party.kind == "requester" and party.subject != f"worker:{worker_id}":
        raise RuleBroken(
            "own_sign_up",
            "a worker signs up or withdraws only themself",
            context=context,
        )
    if task.state not in move.from_states:
        raise RuleBroken(
            "task_state",
            f"a {task.state} volunteer task cannot take this "
            f"(only an {', '.join(s for s in TASK_STATES if s in move.from_states)} one)",
            context={**context, "state": task.state},
        )


def _before_start(task: VolunteerTask, now: datetime, action: TaskAction) -> None:
    if task.started(now):
        raise RuleBroken(
            "before_start",
            "the task has started: sign-ups and withdrawals close when it starts",
            context={"task_id": task.id, "action": action},
        )


def _started(task: VolunteerTask, now: datetime, action: TaskAction) -> None:
    if not task.started(now):
        raise RuleBroken(
            "task_started",
            "the task has not started yet",
            context={"task_id": task.id, "action": action},
        )


def signed_up(
    task: VolunteerTask, existing: Participant | None, worker_id: str, now: datetime
) -> tuple[VolunteerTask, Participant]:
    """The task with one more place taken, and the worker's sign-up (again, after a
    withdrawal): before it starts, once per worker, never beyond its places."""
    _before_start(task, now, "sign_up")
    if existing is not None and existing.status in HOLDING:
        raise RuleBroken(
            "signed_up_once",
            "the worker is already signed up for this task",
            context={"task_id": task.id, "worker_id": worker_id},
        )
    if task.taken >= task.places:
        raise RuleBroken(
            "places_left",
            f"all {task.places} places of the task are taken",
            context={"task_id": task.id, "places": task.places},
        )
    participant = Participant(task.id, worker_id, "signed_up", now)
    return replace(task, taken=task.taken + 1, version=task.version + 1), participant


def withdrawn(
    task: VolunteerTask, participant: Participant | None, worker_id: str, now: datetime
) -> tuple[VolunteerTask, Participant]:
    """The task with the worker's place given back: before it starts."""
    if participant is None or participant.status == "withdrawn":
        raise SignUpNotFound(task.id, worker_id)
    _before_start(task, now, "withdraw")
    after = replace(participant, status="withdrawn", withdrawn_at=now)
    return replace(task, taken=task.taken - 1, version=task.version + 1), after


def attendance_recorded(
    task: VolunteerTask,
    participants: Iterable[Participant],
    *,
    attended: Iterable[str],
    absent: Iterable[str],
    now: datetime,
) -> tuple[VolunteerTask, list[Participant]]:
    """The participants named marked as present or absent (again, until the task is
    completed): once it has started, and only workers holding a place."""
    _started(task, now, "attend")
    present, away = set(attended), set(absent)
    both = sorted(present & away)
    if both:
        raise Invalid("attended", f"named both attended and absent: {', '.join(both)}")
    holding = {p.worker_id: p for p in participants if p.status in HOLDING}
    strangers = sorted((present | away) - holding.keys())
    if strangers:
        raise RuleBroken(
            "signed_up",
            "only workers signed up for the task take part in it",
            context={"task_id": task.id, "worker_ids": strangers},
        )
    marked = [
        replace(holding[w], status="attended" if w in present else "absent", attendance_at=now)
        for w in sorted(present | away)
    ]
    return replace(task, version=task.version + 1), marked


def completed(
    task: VolunteerTask, participants: Iterable[Participant], now: datetime
) -> tuple[VolunteerTask, list[Participant]]:
    """The task completed once it has started; whoever was not marked present is absent."""
    _started(task, now, "complete")
    unmarked = [
        replace(p, status="absent", attendance_at=now)
        for p in participants
        if p.status == "signed_up"
    ]
    return replace(task, state="completed", completed_at=now, version=task.version + 1), unmarked


def cancelled(task: VolunteerTask, now: datetime) -> VolunteerTask:
    return replace(task, state="cancelled", cancelled_at=now, version=task.version + 1)


def check_score(score: int) -> None:
    if not 1 <= score <= 5:
        raise Invalid("score", "a rating is 1 to 5")


def rated(
    task: VolunteerTask,
    participant: Participant | None,
    worker_id: str,
    *,
    score: int,
    comment: str | None,
    now: datetime,
) -> Participant:
    """The participant's service rated (again: a new rating replaces the last); only an
    attendee of a completed task."""
    check_score(score)
    if participant is None or participant.status == "withdrawn":
        raise SignUpNotFound(task.id, worker_id)
    if participant.status != "attended":
        raise RuleBroken(
            "attended",
            f"only a participant who attended is rated (this one is {participant.status})",
            context={"task_id": task.id, "worker_id": worker_id, "status": participant.status},
        )
    return replace(participant, score=score, comment=comment, rated_at=now)


def award_key(task_id: str, worker_id: str) -> str:
    """The ledger's idempotency key of a participant's award: rating twice awards once."""
    return f"volunteer-task:{task_id}:worker:{worker_id}"


@dataclass(frozen=True)
class TaskFilter:
    region_code: str
    state: TaskState | None = None
    station_id: str | None = None
    starts_after: datetime | None = None  # only those starting after this moment

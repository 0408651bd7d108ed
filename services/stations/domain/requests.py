"""The request loop 点单→派单→接单→评单 as a state machine.

A worker, an organisation or a station places a request (点单: a need, a micro-wish 微心愿, a
suggestion 诉求箱, or a 随手拍 report); the office dispatches it to a unit (派单); the unit accepts
(接单) or returns it to the office with a reason; the unit resolves it; the requester rates it
(评单, 1–5). The office may close a request at any point and reopen a resolved, rated or closed
one. Every transition names who may make it and from which states; anything else is refused
with a `RuleBroken` (problem type `rule-violation`).

Who: the office (a token with `stations:write` over the request's region), a unit (a token with
the scope `stations:unit:<unit>`, acting only on what was dispatched to it), the requester (a
token with `stations:request` whose subject is `<requester_kind>:<requester_id>`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from libs.common.refusals import Invalid, NotFound, RuleBroken

RequestState = Literal["placed", "dispatched", "accepted", "resolved", "rated", "closed"]
STATES: tuple[RequestState, ...] = (
    "placed",
    "dispatched",
    "accepted",
    "resolved",
    "rated",
    "closed",
)
Category = Literal["need", "micro_wish", "suggestion", "report"]
RequesterKind = Literal["worker", "organization", "station"]
Action = Literal["place", "dispatch", "accept", "return", "resolve", "rate", "close", "reopen"]
PartyKind = Literal["office", "unit", "requester"]


@dataclass(frozen=True)
class Party:
    """Who acts: the office, one unit, or one requester (`worker:<id>`)."""

    kind: PartyKind
    subject: str
    unit: str | None = None


@dataclass(frozen=True)
class Transition:
    """Who may make a move, from which states, and where it leads."""

    parties: frozenset[PartyKind]
    from_states: frozenset[RequestState]
    to_state: RequestState


TRANSITIONS: dict[Action, Transition] = {
    "dispatch": Transition(frozenset({"office"}), frozenset({"placed"}), "dispatched"),
    "accept": Transition(frozenset({"unit"}), frozenset({"dispatched"}), "accepted"),
    "return": Transition(frozenset({"unit"}), frozenset({"dispatched", "accepted"}), "placed"),
    "resolve": Transition(frozenset({"unit"}), frozenset({"accepted"}), "resolved"),
    "rate": Transition(frozenset({"requester", "office"}), frozenset({"resolved"}), "rated"),
    "close": Transition(
        frozenset({"office"}),
        frozenset({"placed", "dispatched", "accepted", "resolved", "rated"}),
        "closed",
    ),
    "reopen": Transition(
        frozenset({"office"}), frozenset({"resolved", "rated", "closed"}), "placed"
    ),
}


class RequestNotFound(NotFound):
    def __init__(self, request_id: str) -> None:
        super().__init__("request not found")
        self.request_id = request_id


class UnknownStation(Invalid):
    """A request names a station the service does not hold."""

    def __init__(self) -> None:
        super().__init__("station_id", "no such station")


class UnknownUnit(Invalid):
    """A unit that is not one of the configured units."""


@dataclass(frozen=True)
class HistoryEntry:
    """One move of a request: who made it, from which state to which, and why."""

    at: datetime
    action: Action
    from_state: RequestState | None
    to_state: RequestState
    party: PartyKind
    actor: str
    unit: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Request:
    id: str
    region_code: str
    category: Category
    requester_kind: RequesterKind
    requester_id: str
    title: str
    description: str | None
    state: RequestState
    placed_at: datetime
    station_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    photo_ref: str | None = None
    unit: str | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    rated_at: datetime | None = None
    closed_at: datetime | None = None
    accept_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    accept_on_time: bool | None = None
    resolve_on_time: bool | None = None
    score: int | None = None
    comment: str | None = None
    returns: int = 0
    reopens: int = 0
    escalated: bool = False
    version: int = 1
    history: tuple[HistoryEntry, ...] = field(default=(), compare=False)

    @property
    def requester(self) -> str:
        return f"{self.requester_kind}:{self.requester_id}"

    @property
    def overdue_at(self) -> datetime | None:
        """The deadline the request is running against now, if any."""
        if self.state == "dispatched":
            return self.accept_due_at
        if self.state == "accepted":
            return self.resolve_due_at
        return None

    def is_overdue(self, now: datetime) -> bool:
        due = self.overdue_at
        return due is not None and now > due


def check_place(category: Category, latitude: float | None, photo_ref: str | None) -> None:
    """A 随手拍 report says where it was taken and carries its photo."""
    if category == "report" and latitude is None:
        raise Invalid("location", "a report (随手拍) says where it was taken")
    if category == "report" and not photo_ref:
        raise Invalid("photo_ref", "a report (随手拍) carries its photo")


def check_move(request: Request, action: Action, party: Party) -> Transition:
    """The transition `action` if `party` may make it now; a `RuleBroken` saying why not."""
    transition = TRANSITIONS[action]
    if party.kind not in transition.parties:
        raise RuleBroken(
            "who_may_move",
            f"{'/'.join(sorted(transition.parties))} may {action} a request, not the {party.kind}",
            context={"request_id": request.id, "action": action, "party": party.kind},
        )
    if party.kind == "unit" and party.unit != request.unit:
        raise RuleBroken(
            "dispatched_to_unit",
            f"the request is not dispatched to unit {party.unit}",
            context={"request_id": request.id, "action": action, "unit": party.unit},
        )
    if party.kind == "requester" and party.subject != request.requester:
        raise RuleBroken(
            "own_request",
            "only the requester may rate their request",
            context={"request_id": request.id, "action": action},
        )
    if request.state not in transition.from_states:
        raise RuleBroken(
            "request_state",
            f"a {request.state} request cannot be {_past(action)} "
            f"(only from {', '.join(s for s in STATES if s in transition.from_states)})",
            context={"request_id": request.id, "action": action, "state": request.state},
        )
    return transition


def _past(action: Action) -> str:
    return {
        "dispatch": "dispatched",
        "accept": "accepted",
        "return": "returned",
        "resolve": "resolved",
        "rate": "rated",
        "close": "closed",
        "reopen": "reopened",
        "place": "placed",
    }[action]


def check_unit(unit: str, units: tuple[str, ...]) -> None:
    if unit not in units:
        raise UnknownUnit("unit", f"not one of the configured units: {', '.join(units)}")


def check_score(score: int) -> None:
    if not 1 <= score <= 5:
        raise Invalid("score", "a rating is 1 to 5")


def moved(
    request: Request,
    action: Action,
    *,
    at: datetime,
    unit: str | None = None,
    score: int | None = None,
    comment: str | None = None,
    accept_due_at: datetime | None = None,
    resolve_due_at: datetime | None = None,
) -> Request:
    """The request after `action` (already checked by `check_move`)."""
    to_state = TRANSITIONS[action].to_state
    after = replace(request, state=to_state, version=request.version + 1)
    if action == "dispatch":
        return replace(
            after, unit=unit, dispatched_at=at, accept_due_at=accept_due_at, escalated=False
        )
    if action == "accept":
        on_time = request.accept_due_at is None or at <= request.accept_due_at
        return replace(
            after,
            accepted_at=at,
            accept_on_time=on_time,
            resolve_due_at=resolve_due_at,
            escalated=False,
        )
    if action == "return":
        return replace(
            after,
            unit=None,
            dispatched_at=None,
            accepted_at=None,
            accept_due_at=None,
            resolve_due_at=None,
            accept_on_time=None,
            returns=request.returns + 1,
            escalated=False,
        )
    if action == "resolve":
        on_time = request.resolve_due_at is None or at <= request.resolve_due_at
        return replace(after, resolved_at=at, resolve_on_time=on_time)
    if action == "rate":
        assert score is not None
        check_score(score)
        return replace(after, rated_at=at, score=score, comment=comment)
    if action == "close":
        return replace(after, closed_at=at)
    # reopen: back to the office, to be dispatched again
    return replace(
        after,
        unit=None,
        dispatched_at=None,
        accepted_at=None,
        resolved_at=None,
        rated_at=None,
        closed_at=None,
        accept_due_at=None,
        resolve_due_at=None,
        accept_on_time=None,
        resolve_on_time=None,
        score=None,
        comment=None,
        reopens=request.reopens + 1,
        escalated=False,
    )


@dataclass(frozen=True)
class RequestFilter:
    region_code: str
    state: RequestState | None = None
    unit: str | None = None
    category: Category | None = None
    overdue_at: datetime | None = None  # only those overdue at this moment
    requester: tuple[str, str] | None = None  # (kind, id): only this requester's

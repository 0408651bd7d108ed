"""Use cases of the request loop 点单→派单→接单→评单, its SLA timers and its figures; the one
place request events are built."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from libs.common.audit import Actor
from libs.common.events import IntegrationEvent
from libs.common.ids import new_id
from libs.common.tables import utcnow
from libs.common.validators import InvalidCode, is_within, region_ancestors
from services.stations.domain.request_stats import RequestFigures, figures_of
from services.stations.domain.requests import (
    Action,
    HistoryEntry,
    Party,
    Request,
    RequestFilter,
    RequestNotFound,
    UnknownStation,
    check_move,
    check_place,
    check_score,
    check_unit,
    moved,
)
from services.stations.domain.sla import LoopRules, Stage, TimerKind
from services.stations.events import (
    RequestAcceptedV1,
    RequestClosedV1,
    RequestDispatchedV1,
    RequestEscalatedV1,
    RequestOverdueV1,
    RequestPlacedV1,
    RequestRatedV1,
    RequestRemindedV1,
    RequestReopenedV1,
    RequestResolvedV1,
    RequestReturnedV1,
)
from services.stations.service.points import award_points
from services.stations.store.uow import StationsUnitOfWork


def _move_fields(request: Request, at: datetime) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "version": request.version,
        "region_code": request.region_code,
        "category": request.category,
        "state": request.state,
        "unit": request.unit,
        "at": at,
    }


def visible_to(request: Request, party: Party) -> bool:
    """A unit sees what is dispatched to it, a requester their own; the office all (its region
    is checked by the route, or by `within_reach`)."""
    if party.kind == "unit":
        return request.unit == party.unit
    if party.kind == "requester":
        return request.requester == party.subject
    return True


def within_reach(request: Request, actor: Actor) -> bool:
    """Whether the request lies in the region the actor answers for (as the token's
    `Principal.covers`: outside it, the request does not exist for the actor)."""
    try:
        return is_within(request.region_code, actor.region_code)
    except InvalidCode:
        return False


#: The states whose stage has SLA timers running (scheduled by dispatch and accept): only a
#: move out of one of them has timers to cancel.
_TIMED_STATES = frozenset({"dispatched", "accepted"})


async def place_request(
    uow: StationsUnitOfWork, actor: Actor, party: Party, **values: Any
) -> Request:
    """Place a request (点单) and announce it."""
    check_place(values["category"], values.get("latitude"), values.get("photo_ref"))
    station_id = values.get("station_id")
    if station_id is not None and await uow.stations.get(station_id) is None:
        raise UnknownStation()
    now = utcnow()
    request = Request(id=new_id(), state="placed", placed_at=now, version=1, **values)
    entry = HistoryEntry(now, "place", None, "placed", party.kind, actor.subject)
    await uow.requests.add(request)
    await uow.requests.add_history(request.id, entry)
    await uow.record_and_audit(
        actor,
        RequestPlacedV1(
            **_move_fields(request, now),
            requester_kind=request.requester_kind,
            requester_id=request.requester_id,
            station_id=request.station_id,
            latitude=request.latitude,
            longitude=request.longitude,
        ),
        entity_type="request",
        region_code=request.region_code,
    )
    return replace(request, history=(entry,))  # its whole history: nothing to read back


async def get_request(uow: StationsUnitOfWork, request_id: str) -> Request | None:
    return await uow.requests.get_with_history(request_id)


async def move_request(
    uow: StationsUnitOfWork,
    actor: Actor,
    party: Party,
    rules: LoopRules,
    request_id: str,
    action: Action,
    *,
    unit: str | None = None,
    note: str | None = None,
    score: int | None = None,
    now: datetime | None = None,
) -> Request:
    """Make one move of the loop, if `party` may make it now; record it in the request's
    history, (re)schedule or cancel its SLA timers, and announce it.

    The request is read once, locked: one the actor cannot see (outside its region, or not its
    unit's or requester's) is not found, as for a read."""
    before = await uow.requests.get_with_history(request_id, for_update=True)
    if before is None or not visible_to(before, party) or not within_reach(before, actor):
        raise RequestNotFound(request_id)
    check_move(before, action, party)
    at = now or utcnow()
    level = rules.level(before.category)
    timers = rules.timers
    accept_due = resolve_due = None
    if action == "dispatch":
        assert unit is not None
        check_unit(unit, rules.units)
        accept_due = timers.accept_due(level, at)
    if action == "accept":
        resolve_due = timers.resolve_due(level, at)
    if action == "rate":
        assert score is not None
        check_score(score)
    after = moved(
        before,
        action,
        at=at,
        unit=unit,
        score=score,
        comment=note if action == "rate" else None,
        accept_due_at=accept_due,
        resolve_due_at=resolve_due,
    )
    if not await uow.requests.save(after, expected_version=before.version):
        raise RequestNotFound(request_id)  # cannot happen under the row lock; never half-write
    entry = HistoryEntry(
        at,
        action,
        before.state,
        after.state,
        party.kind,
        actor.subject,
        unit=after.unit or before.unit,
        note=note,
    )
    await uow.requests.add_history(after.id, entry)
    if before.state in _TIMED_STATES:
        await uow.timers.cancel(after.id)
    if accept_due is not None:
        await uow.timers.schedule(after.id, "accept", timers.schedule(at, accept_due))
    if resolve_due is not None:
        await uow.timers.schedule(after.id, "resolve", timers.schedule(at, resolve_due))
    await uow.record_and_audit(
        actor,
        _event_of(before, after, action, at, note),
        entity_type="request",
        region_code=after.region_code,
        extra={"note": note} if note and action != "rate" else None,
    )
    if action == "resolve":
        await _award_report(uow, actor, rules, after)
    return replace(after, history=(*before.history, entry))  # read with it, under the lock


async def _award_report(
    uow: StationsUnitOfWork, actor: Actor, rules: LoopRules, request: Request
) -> None:
    """A worker's resolved report (随手拍) earns points, once whatever reopens follow."""
    if request.category != "report" or request.requester_kind != "worker":
        return
    if rules.report_points < 1:
        return
    worker = await uow.workers.get(request.requester_id)
    if worker is None:  # placed for someone not registered as a worker: nothing to credit
        return
    await award_points(
        uow,
        actor,
        worker=worker,
        reason="report",
        points=rules.report_points,
        idempotency_key=f"request:{request.id}:report",
        request_id=request.id,
    )


def _event_of(
    before: Request, after: Request, action: Action, at: datetime, note: str | None
) -> IntegrationEvent:
    common = _move_fields(after, at)
    if action == "dispatch":
        assert after.accept_due_at is not None
        return RequestDispatchedV1(**common, accept_due_at=after.accept_due_at)
    if action == "accept":
        assert after.resolve_due_at is not None
        return RequestAcceptedV1(
            **common, on_time=bool(after.accept_on_time), resolve_due_at=after.resolve_due_at
        )
    if action == "return":
        return RequestReturnedV1(**common, returned_by=before.unit or "", reason=note or "")
    if action == "resolve":
        return RequestResolvedV1(
            **common,
            on_time=after.accept_on_time is not False and after.resolve_on_time is not False,
            requester_kind=after.requester_kind,
            requester_id=after.requester_id,
        )
    if action == "rate":
        assert after.score is not None
        return RequestRatedV1(
            **common,
            score=after.score,
            requester_kind=after.requester_kind,
            requester_id=after.requester_id,
        )
    if action == "close":
        return RequestClosedV1(**common, reason=note or "")
    return RequestReopenedV1(**common, reason=note or "")


async def list_requests(
    uow: StationsUnitOfWork, where: RequestFilter, *, after: tuple[str, str] | None, limit: int
) -> list[Request]:
    return await uow.requests.find(where, after=after, limit=limit)


async def request_figures(
    uow: StationsUnitOfWork,
    where: RequestFilter,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RequestFigures:
    return figures_of(await uow.requests.placed_between(where, since, until))


_TIMER_EVENTS: dict[TimerKind, type[RequestRemindedV1 | RequestOverdueV1]] = {
    "reminder": RequestRemindedV1,
    "overdue": RequestOverdueV1,
}


def _office_above(region_code: str) -> str:
    ancestors = region_ancestors(region_code)  # from the province down to the code itself
    return ancestors[-2] if len(ancestors) > 1 else region_code


async def fire_due_timers(uow: StationsUnitOfWork, now: datetime, *, limit: int = 500) -> int:
    """Fire the SLA timers due by `now`: a reminder, `overdue`, or escalation to the office
    above; each timer once (marked in the same transaction as its event). Returns how many."""
    due = await uow.timers.due(now, limit)
    for _timer_id, request_id, stage, kind in due:
        request = await uow.requests.get(request_id, for_update=True)
        if request is None or request.state != _STAGE_STATE[stage]:
            continue  # its stage ended; a cancelled timer is never due, this is belt and braces
        deadline = request.accept_due_at if stage == "accept" else request.resolve_due_at
        assert deadline is not None
        fields: dict[str, Any] = {
            "request_id": request.id,
            "region_code": request.region_code,
            "category": request.category,
            "unit": request.unit,
            "stage": stage,
            "due_at": deadline,
        }
        if kind == "escalation":
            await uow.requests.save(
                replace(request, escalated=True, version=request.version + 1),
                expected_version=request.version,
            )
            uow.record(
                RequestEscalatedV1(**fields, to_region_code=_office_above(request.region_code))
            )
        else:
            uow.record(_TIMER_EVENTS[kind](**fields))
    await uow.timers.fired([timer_id for timer_id, *_ in due], now)
    return len(due)


_STAGE_STATE: dict[Stage, str] = {"accept": "dispatched", "resolve": "accepted"}

"""HTTP routes of the request loop 点单→派单→接单→评单: place, list, read with history, the moves,
and the figures.

The office (`stations:write`) places, dispatches, closes and reopens; a unit
(`stations:unit:<unit>`) sees only what is dispatched to it and accepts, returns or resolves it;
a requester
(`stations:request`, subject `<kind>:<id>`) places and rates its own. A move that is not allowed
to the caller or not from the request's state is a `rule-violation` problem naming the rule.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.calendar import SHANGHAI
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.problems import FieldError, Forbidden, InvalidInput, NotFound
from libs.common.tables import utcnow
from libs.common.text import FreeText, Name, Text
from services.stations.api.deps import Caller, ReadSession, RulesDep, Transaction, party_of
from services.stations.api.stations import LocationIn
from services.stations.domain.request_stats import RequestFigures
from services.stations.domain.requests import (
    Action,
    Category,
    HistoryEntry,
    Party,
    Request,
    RequesterKind,
    RequestFilter,
    RequestState,
)
from services.stations.service import StationsUnitOfWork
from services.stations.service import requests as service

router = APIRouter(prefix="/v1/requests", tags=["requests"])

Note = Annotated[FreeText, Field(min_length=1, max_length=2000)]


class RequesterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RequesterKind
    id: Text = Field(min_length=1, max_length=64, description="An opaque id (a worker's id)")


class RequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "category": "micro_wish",
                    "title": "希望驿站增设电动车充电桩",
                    "description": "夜间配送后充电不便",
                    "region_code": "140212101",
                    "requester": {"kind": "worker", "id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"},
                    "station_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
                }
            ]
        },
    )

    category: Category = Field(description="need, micro_wish (微心愿), suggestion (诉求箱), report")
    title: Name = Field(min_length=1, max_length=200)
    description: FreeText | None = Field(default=None, max_length=4000)
    region_code: RegionCode
    requester: RequesterIn | None = Field(
        default=None, description="Who asks (the office names them; a requester is itself)"
    )
    station_id: Text | None = Field(default=None, max_length=36)
    location: LocationIn | None = Field(default=None, description="Where (a report's place)")
    photo_ref: Text | None = Field(default=None, max_length=300, description="A report's photo")


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Text = Field(min_length=1, max_length=64)
    note: FreeText | None = Field(default=None, max_length=2000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: FreeText | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: StrictInt = Field(ge=1, le=5)
    comment: FreeText | None = Field(default=None, max_length=2000)


class HistoryOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    party: str
    actor: str
    unit: str | None
    note: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls(**entry.__dict__)


_REQUEST_EXAMPLE: dict[str, Any] = {
    "id": "8e7d6c5b-4a3f-4e2d-8c1b-0a9f8e7d6c5b",
    "region_code": "140212101",
    "category": "micro_wish",
    "requester_kind": "worker",
    "requester_id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
    "title": "希望驿站增设电动车充电桩",
    "description": "夜间配送后充电不便",
    "state": "dispatched",
    "station_id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "latitude": None,
    "longitude": None,
    "photo_ref": None,
    "unit": "xinrong-town-office",
    "placed_at": "2026-11-30T02:15:00Z",
    "dispatched_at": "2026-11-30T02:40:00Z",
    "accepted_at": None,
    "resolved_at": None,
    "rated_at": None,
    "closed_at": None,
    "accept_due_at": "2026-11-30T10:40:00Z",
    "resolve_due_at": None,
    "overdue": False,
    "escalated": False,
    "score": None,
    "comment": None,
    "returns": 0,
    "reopens": 0,
    "version": 2,
    "history": [
        {
            "at": "2026-11-30T02:40:00Z",
            "action": "dispatch",
            "from_state": "placed",
            "to_state": "dispatched",
            "party": "office",
            "actor": "xinrong-office",
            "unit": "xinrong-town-office",
            "note": None,
        }
    ],
}


class RequestOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_REQUEST_EXAMPLE]})

    id: str
    region_code: str
    category: str
    requester_kind: str
    requester_id: str
    title: str
    description: str | None
    state: RequestState
    station_id: str | None
    latitude: float | None
    longitude: float | None
    photo_ref: str | None
    unit: str | None
    placed_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    rated_at: datetime | None
    closed_at: datetime | None
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    overdue: bool
    escalated: bool
    score: int | None
    comment: str | None
    returns: int
    reopens: int
    version: int
    history: list[HistoryOut] = Field(default_factory=list)

    @classmethod
    def of(cls, r: Request, *, now: datetime | None = None) -> RequestOut:
        values = {name: getattr(r, name) for name in cls.model_fields if hasattr(r, name)}
        values.pop("history", None)
        return cls(
            **values,
            overdue=r.is_overdue(now or utcnow()),
            history=[HistoryOut.of(e) for e in r.history],
        )


class RequestPage(Page[RequestOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_REQUEST_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


class FiguresOut(BaseModel):
    region_code: str
    unit: str | None
    total: int
    by_state: dict[str, int]
    median_hours_to_accept: float | None
    median_hours_to_resolve: float | None
    resolved: int
    on_time: int
    on_time_rate: float | None = Field(description="Resolved requests handled within both SLAs")
    rated: int
    mean_rating: float | None

    @classmethod
    def of(cls, region_code: str, unit: str | None, f: RequestFigures) -> FiguresOut:
        return cls(region_code=region_code, unit=unit, **f.__dict__)


def _requester(principal: Principal, party: Party, body: RequestIn) -> tuple[str, str]:
    if party.kind == "requester":
        kind, _, ident = principal.subject.partition(":")
        if kind not in ("worker", "organization", "station") or not ident:
            raise Forbidden("a requester's token has the subject <kind>:<id>")
        if body.requester is not None and (body.requester.kind, body.requester.id) != (kind, ident):
            raise Forbidden("a requester places requests for itself only")
        return kind, ident
    if body.requester is None:
        raise InvalidInput(
            "the office names the requester",
            errors=[FieldError("requester", "required when the office places a request")],
        )
    return body.requester.kind, body.requester.id


async def _visible(
    uow: StationsUnitOfWork,
    request_id: str,
    principal: Principal,
    party: Party,
) -> Request:
    request = await service.get_request(uow, request_id)
    if request is None or not service.visible_to(request, party):
        raise NotFound("request not found")
    principal.ensure_visible(request.region_code, "request")
    return request


@router.post("", status_code=status.HTTP_201_CREATED, summary="Place a request (点单)")
async def place_request(body: RequestIn, uow: Transaction, principal: Caller) -> RequestOut:
    party = party_of(principal, moving=True)
    if party.kind == "unit":
        raise Forbidden("a unit does not place requests")
    principal.ensure_covers(body.region_code)
    kind, ident = _requester(principal, party, body)
    point = body.location.point() if body.location else None
    request = await service.place_request(
        uow,
        Actor.of(principal),
        party,
        region_code=body.region_code,
        category=body.category,
        requester_kind=kind,
        requester_id=ident,
        title=body.title,
        description=body.description,
        station_id=body.station_id,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        photo_ref=body.photo_ref,
    )
    return RequestOut.of(request)


@router.get("", summary="List requests by state, unit, category, region or overdue")
async def list_requests(
    uow: ReadSession,
    principal: Caller,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    state: RequestState | None = None,
    unit: Text | None = None,
    category: Category | None = None,
    overdue: bool = False,
) -> RequestPage:
    party = party_of(principal, moving=False)
    if party.kind == "unit":
        unit = party.unit  # a unit sees only what is dispatched to it
    requester = None
    if party.kind == "requester":
        kind, _, ident = principal.subject.partition(":")
        requester = (kind, ident)
    now = utcnow()
    where = RequestFilter(
        region_code=subtree_of(principal, region_code),
        state=state,
        unit=unit,
        category=category,
        overdue_at=now if overdue else None,
        requester=requester,
    )
    found = await service.list_requests(uow, where, after=pages.after(str, str), limit=pages.fetch)
    return RequestPage.of(
        pages,
        found,
        key=lambda r: (r.region_code, r.id),
        item=lambda r: RequestOut.of(r, now=now),
    )


@router.get("/stats", summary="Figures of the loop for a region (and a unit)")
async def read_request_stats(
    uow: ReadSession,
    principal: Caller,
    region_code: RegionCodeQuery = None,
    unit: Text | None = None,
    since: Annotated[date | None, Query(alias="from", description="Placed on or after")] = None,
    until: Annotated[date | None, Query(alias="to", description="Placed on or before")] = None,
) -> FiguresOut:
    party = party_of(principal, moving=False)
    if party.kind == "requester":
        raise Forbidden("figures are for offices and units")
    if party.kind == "unit":
        unit = party.unit
    region = subtree_of(principal, region_code)
    figures = await service.request_figures(
        uow,
        RequestFilter(region_code=region, unit=unit),
        since=datetime.combine(since, time(), SHANGHAI) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), SHANGHAI) if until else None,
    )
    return FiguresOut.of(region, unit, figures)


@router.get("/{request_id}", summary="One request with its full history")
async def read_request(request_id: Text, uow: ReadSession, principal: Caller) -> RequestOut:
    party = party_of(principal, moving=False)
    return RequestOut.of(await _visible(uow, request_id, principal, party))


async def _move(
    uow: StationsUnitOfWork,
    principal: Principal,
    rules: RulesDep,
    request_id: str,
    action: Action,
    *,
    unit: str | None = None,
    note: str | None = None,
    score: int | None = None,
) -> RequestOut:
    party = party_of(principal, moving=True)
    request = await service.move_request(
        uow,
        Actor.of(principal),
        party,
        rules,
        request_id,
        action,
        unit=unit,
        note=note,
        score=score,
    )
    return RequestOut.of(request)


@router.post("/{request_id}/dispatch", summary="Dispatch to a unit (派单; the office)")
async def dispatch_request(
    request_id: Text, body: DispatchIn, uow: Transaction, principal: Caller, rules: RulesDep
) -> RequestOut:
    return await _move(
        uow, principal, rules, request_id, "dispatch", unit=body.unit, note=body.note
    )


@router.post("/{request_id}/accept", summary="Accept (接单; the unit it is dispatched to)")
async def accept_request(
    request_id: Text,
    uow: Transaction,
    principal: Caller,
    rules: RulesDep,
    body: NoteIn | None = None,
) -> RequestOut:
    return await _move(
        uow, principal, rules, request_id, "accept", note=body.note if body else None
    )


@router.post("/{request_id}/return", summary="Return to the office, with a reason (the unit)")
async def return_request(
    request_id: Text, body: ReasonIn, uow: Transaction, principal: Caller, rules: RulesDep
) -> RequestOut:
    return await _move(uow, principal, rules, request_id, "return", note=body.reason)


@router.post("/{request_id}/resolve", summary="Resolve (the unit that accepted it)")
async def resolve_request(
    request_id: Text,
    uow: Transaction,
    principal: Caller,
    rules: RulesDep,
    body: NoteIn | None = None,
) -> RequestOut:
    return await _move(
        uow, principal, rules, request_id, "resolve", note=body.note if body else None
    )


@router.post("/{request_id}/rate", summary="Rate 1–5 (评单; the requester, or the office for them)")
async def rate_request(
    request_id: Text, body: RateIn, uow: Transaction, principal: Caller, rules: RulesDep
) -> RequestOut:
    return await _move(
        uow, principal, rules, request_id, "rate", score=body.score, note=body.comment
    )


@router.post("/{request_id}/close", summary="Close (the office)")
async def close_request(
    request_id: Text, body: ReasonIn, uow: Transaction, principal: Caller, rules: RulesDep
) -> RequestOut:
    return await _move(uow, principal, rules, request_id, "close", note=body.reason)


@router.post("/{request_id}/reopen", summary="Reopen: placed again (the office)")
async def reopen_request(
    request_id: Text, body: ReasonIn, uow: Transaction, principal: Caller, rules: RulesDep
) -> RequestOut:
    return await _move(uow, principal, rules, request_id, "reopen", note=body.reason)

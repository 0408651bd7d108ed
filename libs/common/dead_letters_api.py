"""`/v1/dead-letters` on every service (`build_app` includes it): list what the consumers gave
up on, and re-drive chosen ones once (`libs.common.dead_letters`). Callers need the `admin`
scope; dead letters are the service's own operations data, not a region's, so the list is not
cut to the caller's region (it shows an event only as the consumer's model reads it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.dead_letters import (
    DeadLetterNotFound,
    DeadLetterQuery,
    DeadLetters,
    DeadLetterView,
    RedriveResult,
)
from libs.common.pagination import Page, Pages
from libs.common.problems import PROBLEM_JSON
from libs.common.text import Text

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

Administrator = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]

_LETTER_EXAMPLE: dict[str, Any] = {
    "id": 17,
    "consumer": "coverage-registry",
    "event_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
    "event_type": "pb.registry.organization.registered.v1",
    "subject": "pb.registry.organization.registered.v1",
    "stream_sequence": 4711,
    "deliveries": 5,
    "reason": "IntegrityError: duplicate key value violates unique constraint",
    "failed_at": "2026-11-30T08:15:02Z",
    "resolved_at": None,
    "redriven_at": None,
    "redrive_outcome": None,
    "redrives": 0,
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "event": {"organization_id": "0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20"},
}


class DeadLetterOut(BaseModel):
    """A message a consumer gave up on; its data only as the consumer's event model reads it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LETTER_EXAMPLE]})

    id: int
    consumer: str = Field(description="The durable consumer that gave up on it")
    event_id: str | None = Field(description="The CloudEvent id (null: not a readable event)")
    event_type: str | None
    subject: str = Field(description="The NATS subject it was delivered on")
    stream_sequence: int | None = Field(description="Its sequence in the producer's stream")
    deliveries: int = Field(description="How many times it was delivered before giving up")
    reason: str = Field(description="Why it failed (the last re-drive's reason once re-driven)")
    failed_at: datetime
    resolved_at: datetime | None = Field(description="When a re-drive applied it (null: open)")
    redriven_at: datetime | None = Field(description="When it was last re-driven")
    redrive_outcome: Literal["applied", "already_applied", "failed"] | None
    redrives: int = Field(description="How many times it was re-driven")
    traceparent: str | None = Field(description="The W3C trace it belongs to")
    event: dict[str, Any] | None = Field(
        description="The data as the consumer's model of the type reads it; null when it does "
        "not match the model or the message is not a readable CloudEvent"
    )

    @classmethod
    def of(cls, view: DeadLetterView) -> DeadLetterOut:
        return cls.model_validate(view, from_attributes=True)


class DeadLetterPage(Page[DeadLetterOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_LETTER_EXAMPLE], "next_cursor": None, "next": None}]
        }
    )


class RedriveRequest(BaseModel):
    """Which dead letters to re-drive: `ids`, or a filter (`consumer`, `event_type`) choosing
    the oldest unresolved ones, at most `limit`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ids": [17, 18]}, {"consumer": "coverage-registry", "limit": 100}]
        },
    )

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        default=None, min_length=1, max_length=500
    )
    consumer: Text | None = Field(default=None, max_length=100)
    event_type: Text | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)

    @model_validator(mode="after")
    def ids_or_filter(self) -> RedriveRequest:
        if self.ids is not None and (self.consumer is not None or self.event_type is not None):
            raise ValueError("give either ids or a filter (consumer, event_type), not both")
        if self.ids is None and self.consumer is None and self.event_type is None:
            raise ValueError("give ids or a filter (consumer, event_type)")
        return self


class RedriveResultOut(BaseModel):
    id: int
    outcome: Literal[
        "applied", "already_applied", "failed", "not_found", "already_resolved", "no_consumer"
    ]
    reason: str | None = Field(default=None, description="Why it failed or was not re-driven")

    @classmethod
    def of(cls, result: RedriveResult) -> RedriveResultOut:
        return cls.model_validate(result, from_attributes=True)


class RedriveReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {"id": 17, "outcome": "applied", "reason": None},
                        {"id": 18, "outcome": "already_resolved", "reason": None},
                    ]
                }
            ]
        }
    )

    results: list[RedriveResultOut]


def dead_letters_of(request: Request) -> DeadLetters:
    """The service's dead letters, with the running consumers that re-drive them."""
    runtime = request.app.state.runtime
    return DeadLetters(runtime.db, runtime.consumers)


Letters = Annotated[DeadLetters, Depends(dead_letters_of)]


def letter_id(
    dead_letter_id: Annotated[
        str, Path(description="The dead letter's id (its `id`)", examples=["17"])
    ],
) -> int:
    """The id in the path; one that is not a number names no dead letter (404, as an unknown
    number does)."""
    if not (dead_letter_id.isascii() and dead_letter_id.isdigit() and len(dead_letter_id) <= 18):
        raise DeadLetterNotFound(dead_letter_id)
    return int(dead_letter_id)


LetterId = Annotated[int, Depends(letter_id)]
#: Documented by hand: the id is read by a dependency, which `libs.common.openapi` does not see.
_NO_SUCH_LETTER: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No such dead letter",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


@router.get(
    "",
    response_model=DeadLetterPage,
    summary="What the consumers gave up on, newest first (administrators)",
)
async def list_dead_letters(
    letters: Letters,
    _: Administrator,
    pages: Pages,
    consumer: Annotated[Text | None, Query(max_length=100)] = None,
    event_type: Annotated[Text | None, Query(max_length=200)] = None,
    resolved: Annotated[
        bool | None, Query(description="true: re-driven and applied; false: still open")
    ] = None,
) -> DeadLetterPage:
    after = pages.after(int)
    found = await letters.find(
        DeadLetterQuery(
            consumer=consumer,
            event_type=event_type,
            resolved=resolved,
            before_id=None if after is None else after[0],
            limit=pages.fetch,
        )
    )
    return DeadLetterPage.of(pages, found, key=lambda v: (v.id,), item=DeadLetterOut.of)


@router.get(
    "/{dead_letter_id}",
    response_model=DeadLetterOut,
    summary="One dead letter (administrators)",
    responses=_NO_SUCH_LETTER,
)
async def read_dead_letter(
    letters: Letters, _: Administrator, dead_letter_id: LetterId
) -> DeadLetterOut:
    return DeadLetterOut.of(await letters.get(dead_letter_id))


@router.post(
    "/{dead_letter_id}/redrive",
    response_model=DeadLetterOut,
    summary="Send a dead letter back through its consumer, once (administrators)",
    responses={
        **_NO_SUCH_LETTER,
        409: {"description": "Already resolved, or its consumer no longer runs here"},
    },
    description="Applies the stored message through its consumer as if delivered again (an "
    "event already applied is not applied twice). Applied: `resolved_at` is set. Failed "
    "again: 200 with `redrive_outcome` `failed`, the new `reason`, still unresolved. 409 when "
    "it is already resolved or its consumer no longer runs.",
)
async def redrive_dead_letter(
    letters: Letters, _: Administrator, dead_letter_id: LetterId
) -> DeadLetterOut:
    return DeadLetterOut.of(await letters.redrive(dead_letter_id))


@router.post(
    "/redrive",
    response_model=RedriveReport,
    summary="Re-drive several dead letters, by id or by filter (administrators)",
    description="Each is re-driven once, in the order they failed; one that cannot be "
    "(unknown, already resolved, its consumer gone) is reported and the others go on.",
)
async def redrive_dead_letters(
    letters: Letters, _: Administrator, body: RedriveRequest
) -> RedriveReport:
    ids = body.ids
    if ids is None:
        ids = await letters.unresolved_ids(body.consumer, body.event_type, body.limit)
    return RedriveReport(results=[RedriveResultOut.of(r) for r in await letters.redrive_many(ids)])

"""Dead letters: what a service's consumers gave up on, listed for an operator and re-driven.

The inbox stores each message it gives up on in `pb_dead_letters` (its subject, headers, data,
the reason and how many deliveries it had) and copies it to `pb.dlq.<service>.<consumer>`. Here
an operator reads them (`GET /v1/dead-letters`, `python -m services.<name> dead-letters --list`)
and, once the cause is fixed, sends chosen ones back through their consumer
(`POST /v1/dead-letters/{id}/redrive`, `... dead-letters redrive ID...`).

A re-drive applies the stored message through the consumer's own path
(`InboxConsumer.redeliver`): read as a delivery, its id claimed in the inbox in the same
transaction as the effect, so an event the consumer has applied meanwhile (a copy delivered
again) is not applied twice. It does not publish anything: the other consumers of the event
never see it again. The row then records the re-drive: `resolved_at` when it was applied (or
found already applied), or, when it failed again, the new reason, left unresolved. A resolved
dead letter is never re-driven again (409).

What is shown of a message: its attributes (type, id, subject, sequence, trace) and its data
only as the consumer's event model reads it (`event`; null when the data does not match the
model or the message was not a readable CloudEvent). The raw bytes never leave the store: the
model holds only what the consumer keeps of an event, and events carry no personal data.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import RowMapping, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common import refusals
from libs.common.db import Database
from libs.common.events import Envelope, MalformedEnvelope
from libs.common.inbox import InboxConsumer
from libs.common.logging import get_logger
from libs.common.tables import dead_letters, utcnow

log = get_logger(__name__)

#: How a re-drive went: applied now; already applied (by a copy delivered meanwhile, or by a
#: re-drive that committed its effect but not its mark); failed again (still unresolved).
Outcome = Literal["applied", "already_applied", "failed"]
#: Besides those, how one id of a bulk re-drive went without being re-driven.
Skipped = Literal["not_found", "already_resolved", "no_consumer"]


class DeadLetterNotFound(refusals.NotFound):
    def __init__(self, letter_id: int | str) -> None:
        super().__init__(f"no dead letter {letter_id}", context={"dead_letter_id": letter_id})


class AlreadyResolved(refusals.Conflict):
    def __init__(self, letter_id: int, resolved_at: datetime | None) -> None:
        super().__init__(
            f"dead letter {letter_id} is already resolved: it is not re-driven again",
            context={
                "dead_letter_id": letter_id,
                "resolved_at": resolved_at.isoformat() if resolved_at else None,
            },
        )


class NoSuchConsumer(refusals.Conflict):
    def __init__(self, letter_id: int, consumer: str) -> None:
        super().__init__(
            f"dead letter {letter_id} belongs to consumer {consumer}, which this service no "
            "longer runs",
            context={"dead_letter_id": letter_id, "consumer": consumer},
        )


@dataclass(frozen=True)
class DeadLetterQuery:
    """Which dead letters to list: newest first, after the cursor's id."""

    consumer: str | None = None
    resolved: bool | None = None
    event_type: str | None = None
    before_id: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class DeadLetterView:
    """One dead letter as an operator sees it (never the raw data)."""

    id: int
    consumer: str
    event_id: str | None
    event_type: str | None
    subject: str
    stream_sequence: int | None
    deliveries: int
    reason: str
    failed_at: datetime
    resolved_at: datetime | None
    redriven_at: datetime | None
    redrive_outcome: str | None
    redrives: int
    traceparent: str | None
    event: dict[str, Any] | None


@dataclass(frozen=True)
class RedriveResult:
    id: int
    outcome: Outcome | Skipped
    reason: str | None = None


class DeadLetters:
    """The dead letters of one service: its store and its consumers (by name)."""

    def __init__(self, db: Database, consumers: Iterable[InboxConsumer]) -> None:
        self.db = db
        self.consumers: Mapping[str, InboxConsumer] = {c.spec.name: c for c in consumers}

    async def find(self, query: DeadLetterQuery) -> list[DeadLetterView]:
        statement = _columns().order_by(dead_letters.c.id.desc()).limit(query.limit)
        if query.consumer is not None:
            statement = statement.where(dead_letters.c.consumer == query.consumer)
        if query.event_type is not None:
            statement = statement.where(dead_letters.c.event_type == query.event_type)
        if query.resolved is not None:
            resolved = dead_letters.c.resolved_at
            statement = statement.where(
                resolved.is_not(None) if query.resolved else resolved.is_(None)
            )
        if query.before_id is not None:
            statement = statement.where(dead_letters.c.id < query.before_id)
        async with self.db.read() as session:
            rows = (await session.execute(statement)).mappings().all()
        return [self._view(row) for row in rows]

    async def get(self, letter_id: int) -> DeadLetterView:
        async with self.db.read() as session:
            row = (
                (await session.execute(_columns().where(dead_letters.c.id == letter_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise DeadLetterNotFound(letter_id)
        return self._view(row)

    async def unresolved_ids(
        self, consumer: str | None, event_type: str | None, limit: int
    ) -> list[int]:
        """The oldest unresolved dead letters matching a filter (in the order they failed)."""
        statement = (
            select(dead_letters.c.id)
            .where(dead_letters.c.resolved_at.is_(None))
            .order_by(dead_letters.c.id)
            .limit(limit)
        )
        if consumer is not None:
            statement = statement.where(dead_letters.c.consumer == consumer)
        if event_type is not None:
            statement = statement.where(dead_letters.c.event_type == event_type)
        async with self.db.read() as session:
            return list((await session.scalars(statement)).all())

    async def redrive(self, letter_id: int) -> DeadLetterView:
        """Send one dead letter back through its consumer, once; the row as it is afterwards.

        Raises `DeadLetterNotFound`, `AlreadyResolved`, or `NoSuchConsumer` (nothing re-driven).

        Re-drives of one letter (two replicas, the API and the CLI) go one after the other, so
        the second finds it resolved. On PostgreSQL a transaction holds the row (`FOR UPDATE`)
        while the consumer applies the event in a transaction of its own, and records the
        outcome. SQLite has one writer at a time, which the apply needs, so there the letter is
        read, applied and recorded in turn, one re-drive at a time in the process (SQLite is the
        store of one process)."""
        if self.db.engine.dialect.name == "postgresql":
            async with self.db.unit_of_work() as uow:
                row = await _load(uow.session, letter_id, for_update=True)
                outcome, reason = await self._apply(letter_id, row)
                await _record(uow.session, letter_id, outcome, reason)
        else:
            async with _process_lock():
                async with self.db.read() as session:
                    row = await _load(session, letter_id, for_update=False)
                outcome, reason = await self._apply(letter_id, row)
                async with self.db.unit_of_work() as uow:
                    await _record(uow.session, letter_id, outcome, reason)
        log.info(
            "dead letter re-driven",
            consumer=row["consumer"],
            dead_letter_id=letter_id,
            outcome=outcome,
            reason=reason,
        )
        return await self.get(letter_id)

    async def _apply(self, letter_id: int, row: RowMapping) -> tuple[Outcome, str | None]:
        consumer = self.consumers.get(row["consumer"])
        if consumer is None:
            raise NoSuchConsumer(letter_id, row["consumer"])
        return await consumer.redeliver(row["nats_subject"], _headers(row["headers"]), row["data"])

    async def redrive_many(self, ids: Sequence[int]) -> list[RedriveResult]:
        """Re-drive each id in turn, in the order they failed (ascending id): one that cannot be
        re-driven is reported and the others go on."""
        results: list[RedriveResult] = []
        for letter_id in sorted(set(ids)):
            try:
                view = await self.redrive(letter_id)
            except DeadLetterNotFound:
                results.append(RedriveResult(letter_id, "not_found"))
            except AlreadyResolved:
                results.append(RedriveResult(letter_id, "already_resolved"))
            except NoSuchConsumer as exc:
                results.append(RedriveResult(letter_id, "no_consumer", exc.message))
            else:
                outcome: Outcome = view.redrive_outcome  # type: ignore[assignment]
                reason = view.reason if outcome == "failed" else None
                results.append(RedriveResult(letter_id, outcome, reason))
        return results

    def _view(self, row: Mapping[str, Any]) -> DeadLetterView:
        headers = _headers(row["headers"])
        return DeadLetterView(
            id=row["id"],
            consumer=row["consumer"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            subject=row["nats_subject"],
            stream_sequence=row["stream_sequence"],
            deliveries=row["deliveries"],
            reason=row["reason"],
            failed_at=row["failed_at"],
            resolved_at=row["resolved_at"],
            redriven_at=row["redriven_at"],
            redrive_outcome=row["redrive_outcome"],
            redrives=row["redrives"],
            traceparent=headers.get("traceparent"),
            event=self._event(row["consumer"], headers, row["data"]),
        )

    def _event(self, consumer: str, headers: dict[str, str], data: bytes) -> dict[str, Any] | None:
        """The data as the consumer's model of its type reads it, or None."""
        found = self.consumers.get(consumer)
        if found is None:
            return None
        try:
            envelope = Envelope.from_nats(headers, data)
        except MalformedEnvelope:
            return None
        model = next(
            (s.model for s in found.spec.subscriptions if s.event_type == envelope.type), None
        )
        if model is None:
            return None
        try:
            event: dict[str, Any] = envelope.decode(model).model_dump(mode="json")
        except ValidationError:
            return None
        return event


def _columns() -> Select[Any]:
    return select(dead_letters)


def _headers(stored: str) -> dict[str, str]:
    try:
        headers = json.loads(stored)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


async def _load(session: AsyncSession, letter_id: int, *, for_update: bool) -> RowMapping:
    """What a re-drive needs of an unresolved letter."""
    statement = select(
        dead_letters.c.consumer,
        dead_letters.c.nats_subject,
        dead_letters.c.headers,
        dead_letters.c.data,
        dead_letters.c.resolved_at,
    ).where(dead_letters.c.id == letter_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise DeadLetterNotFound(letter_id)
    if row["resolved_at"] is not None:
        raise AlreadyResolved(letter_id, row["resolved_at"])
    return row


async def _record(
    session: AsyncSession, letter_id: int, outcome: Outcome, reason: str | None
) -> None:
    """Mark the re-drive on the row (which no other re-drive has touched meanwhile)."""
    now = utcnow()
    values: dict[str, Any] = {
        "redriven_at": now,
        "redrive_outcome": outcome,
        "redrives": dead_letters.c.redrives + 1,
    }
    if outcome == "failed":
        values["reason"] = (reason or "failed")[:4000]
    else:
        values["resolved_at"] = now
    await session.execute(
        update(dead_letters).where(dead_letters.c.id == letter_id).values(**values)
    )


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    """One re-drive at a time in this process (per event loop)."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock

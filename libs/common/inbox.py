"""The inbox: a durable JetStream consumer that applies each event at most once per consumer.

Messages are pulled in batches and applied in one transaction, each in its own savepoint, with
the event ids stored in the same transaction as their effect; then they are acknowledged. A
failing event is retried with backoff; after `inbox_max_deliveries` deliveries, or at once when it
cannot be read at all, it is dead-lettered: stored with its reason and copied to the DLQ subject.

The ack wait is short (`inbox_ack_wait_seconds`, 10 s), so the batch of a consumer that dies is
handed to another within seconds; while a batch is worked on, the server is told every third of
the ack wait that its messages are in progress, so a slow batch is never handed out twice.

A consumer may wrap each group of events applied together in a batch scope
(`@spec.batch_scope`): the handlers accumulate into it, and it writes what they accumulated once
on its way out, inside the same savepoint (see `ConsumerSpec.batch_scope`).

A consumer that applies one ordered stream with a single writer (a projection) may instead be
deduplicated by stream sequence (`ConsumerSpec(dedupe="sequence")`): it records the last stream
sequence it applied in the same transaction as its effects and skips what is at or below it, with
no inbox row per event (see "Ordered consumers" below).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, cast

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from typing_extensions import TypeVar

from libs.common.broker import BrokerLink
from libs.common.collector import collector_paused
from libs.common.db import Database, UnitOfWork, insert_new, upsert_many
from libs.common.events import MSG_ID_HEADER, Envelope, MalformedEnvelope
from libs.common.logging import get_logger
from libs.common.metrics import ServiceMetrics
from libs.common.settings import ServiceSettings
from libs.common.tables import consumer_positions, dead_letters, inbox, utcnow
from libs.common.tasks import StopSignal, stop_loop
from libs.common.tracing import span_context_of, span_from

log = get_logger(__name__)

#: The unit of work a consumer's handlers take: the service's own, carrying its repositories.
U = TypeVar("U", bound=UnitOfWork, default=Any)

Handler = Callable[[U, Envelope, Any], Awaitable[None]]
BatchHandler = Callable[[U, list[tuple[Envelope, Any]]], Awaitable[None]]
BatchScope = Callable[[U], AbstractAsyncContextManager[object]]

#: How a consumer recognises an event it applied before: by its id in the inbox table, or, for
#: an ordered single-writer consumer, by its stream sequence (see `ConsumerSpec.dedupe`).
Dedupe = Literal["inbox", "sequence"]


@dataclass(frozen=True)
class Subscription(Generic[U]):
    """One event type a consumer applies: the consumer's own tolerant model and its handler,
    called per event or, for a batch handler, once per run of consecutive events of the type."""

    event_type: str  # the versioned type name, which is also the NATS subject
    model: type[BaseModel]
    handler: Handler[U] | None = None
    batch_handler: BatchHandler[U] | None = None

    async def apply(self, uow: U, items: list[tuple[Envelope, Any]]) -> None:
        if self.batch_handler is not None:
            await self.batch_handler(uow, items)
            return
        assert self.handler is not None
        for envelope, event in items:
            await self.handler(uow, envelope, event)


@dataclass
class ConsumerSpec(Generic[U]):
    """A durable consumer on another service's stream; its handlers and batch scope get the
    service's own unit of work (`ServiceDefinition.unit_of_work`, carrying its repositories):
    annotate the spec with it, `ConsumerSpec[CoverageUnitOfWork](...)`."""

    name: str
    stream: str
    subscriptions: list[Subscription[U]] = field(default_factory=list)
    scope: BatchScope[U] | None = None
    #: "inbox": each applied event id is stored with the effect (any consumer). "sequence": the
    #: last applied stream sequence is stored instead and everything at or below it is skipped;
    #: events are applied strictly in stream order (a failing one holds up those after it until
    #: it succeeds or is dead-lettered), for a projection with one writer. Its store needs the
    #: `pb_consumer_positions` table (`libs.common.tables.consumer_positions`).
    dedupe: Dedupe = "inbox"

    def on(self, event_type: str, model: type[BaseModel]) -> Callable[[Handler[U]], Handler[U]]:
        """Register `handler` for `event_type`: `@consumer.on("pb.x.y.z.v1", Model)`."""

        def decorate(handler: Handler[U]) -> Handler[U]:
            self.subscriptions.append(Subscription(event_type, model, handler=handler))
            return handler

        return decorate

    def on_batch(
        self, event_type: str, model: type[BaseModel]
    ) -> Callable[[BatchHandler[U]], BatchHandler[U]]:
        """Register a handler that takes a run of consecutive events of `event_type` at once
        (in stream order), so a projection can write them in one statement."""

        def decorate(handler: BatchHandler[U]) -> BatchHandler[U]:
            self.subscriptions.append(Subscription(event_type, model, batch_handler=handler))
            return handler

        return decorate

    def batch_scope(self, scope: BatchScope[U]) -> BatchScope[U]:
        """Register an async context manager entered around each group of events applied
        together, inside the group's savepoint: the whole fetched batch (all its runs), or a
        single event while a failing one is being isolated.

        The handlers accumulate into it (roll-up deltas, say) and it writes the sum once as it
        exits cleanly, so the writes are per batch rather than per run; when a handler raises,
        it exits with the exception, writes nothing, and the savepoint undoes the rest, so an
        isolated event's accumulation never reaches the store."""
        self.scope = scope
        return scope

    def scoped(self, uow: U) -> AbstractAsyncContextManager[object]:
        """The batch scope for `uow` (a no-op when none is registered)."""
        return self.scope(uow) if self.scope is not None else _no_scope()


class DeadLetter(Exception):
    """Raised by a handler for an event that can never succeed: dead-letter it at once."""


@dataclass(frozen=True)
class _Delivery:
    """A message this consumer can apply: its envelope, decoded event and subscription."""

    msg: Msg
    envelope: Envelope
    event: Any
    subscription: Subscription


#: Messages read ahead at a time before the event loop is let go (`_fetch_ahead`).
READ_AHEAD_SLICE = 64


@dataclass(frozen=True)
class _Unreadable:
    """A message that can never be applied, and why."""

    msg: Msg
    reason: str
    envelope: Envelope | None = None


class InboxConsumer:
    """Pulls, applies and acknowledges the messages of one `ConsumerSpec`."""

    def __init__(
        self,
        spec: ConsumerSpec[Any],
        db: Database,
        link: BrokerLink,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        tracer: trace.Tracer,
        unit_of_work: type[UnitOfWork] = UnitOfWork,
    ) -> None:
        self.spec = spec
        self.unit_of_work = unit_of_work
        self.db = db
        self.link = link
        self.settings = settings
        self.metrics = metrics
        self.tracer = tracer
        self._by_type = {s.event_type: s for s in spec.subscriptions}
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None
        # an ordered consumer's next batch, fetched while the current one is applied
        self._next_batch: asyncio.Task[list[Msg]] | None = None
        # the next batch's messages read (decoded) as soon as it arrived, by id (an ordered
        # consumer, while the batch before it waits on its store): see `_fetch_ahead`
        self._read_ahead: dict[int, _Delivery | _Unreadable] = {}
        self._stopping = StopSignal()
        # -inf, not 0.0: the monotonic clock starts near zero at boot, and a machine up for
        # less than an hour would otherwise never purge.
        self._last_purge = float("-inf")
        self.dead_letter_subject = f"pb.dlq.{settings.service_name}.{spec.name}"
        # an ordered consumer's lease on PostgreSQL: a session advisory lock on a connection kept,
        # which its batches are applied on; proven held by the last batch's commit on it
        self._lease: AsyncConnection | None = None
        self._lease_proven = False
        self._lease_key = zlib.crc32(f"pb-consumer-{settings.service_name}-{spec.name}".encode())

    @property
    def ordered(self) -> bool:
        """Deduplicated by stream sequence, and so applied in stream order."""
        return self.spec.dedupe == "sequence"

    def consumer_config(self) -> ConsumerConfig:
        # No server-side max_deliver: the consumer counts deliveries itself and dead-letters,
        # so nothing is ever dropped silently by the server.
        return ConsumerConfig(
            durable_name=self.spec.name,
            filter_subjects=sorted(self._by_type),
            deliver_policy=DeliverPolicy.ALL,
            # an ordered consumer settles a batch in stream order, everything below its last
            # message included: one ack says so (see "Ordered consumers" below)
            ack_policy=AckPolicy.ALL if self.ordered else AckPolicy.EXPLICIT,
            ack_wait=self.settings.inbox_ack_wait_seconds,
            max_ack_pending=max(1000, self.settings.inbox_batch_size * 8),
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"inbox-{self.spec.name}")

    async def stop(self) -> None:
        # Let the current fetch run out rather than cancel it: nats-py's fetch does not always
        # survive a cancellation (its inner wait can be left pending forever).
        await stop_loop(self._task, self._stopping, grace=self.settings.inbox_fetch_seconds + 5)
        self._task = None
        await self._drop_next_batch()
        await self._give_up_lease()
        if self._subscription is not None:
            # An open pull request would hold up the connection's drain at shutdown.
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _subscribe(self) -> Any:
        if self._subscription is not None:  # a broken one from an earlier round
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        js = self.link.js
        config = await self._config_for_durable()
        # The server creates the durable consumer, or updates it to this configuration.
        await js.add_consumer(self.spec.stream, config)
        self._subscription = await js.pull_subscribe_bind(
            durable=self.spec.name, stream=self.spec.stream
        )
        quicken_fetch(self._subscription)
        return self._subscription

    async def _config_for_durable(self) -> ConsumerConfig:
        """This consumer's configuration, fit to update its durable with: the server cannot
        change a durable's ack policy, so a durable made with another one (an ordered consumer's
        from before it acknowledged a batch at once, or after a change back) is deleted and made
        again from its ack floor, everything above which it delivers again; what the consumer
        had already applied of that is skipped (the position) or found in the inbox, so nothing
        is lost or applied twice. One made again so keeps its starting sequence from then on."""
        config = self.consumer_config()
        js = self.link.js
        try:
            info = await js.consumer_info(self.spec.stream, self.spec.name)
        except NotFoundError:
            return config  # a new durable (or no stream yet: adding the consumer says so)
        if info.config.ack_policy != config.ack_policy:
            start = int(info.ack_floor.stream_seq if info.ack_floor else 0) + 1
            log.info(
                "consumer made again with its new ack policy",
                consumer=self.spec.name,
                ack_policy=str(config.ack_policy),
                from_sequence=start,
            )
            await js.delete_consumer(self.spec.stream, self.spec.name)
            if start > 1:
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = start
        elif info.config.deliver_policy == DeliverPolicy.BY_START_SEQUENCE:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = info.config.opt_start_seq
        return config

    async def _run(self) -> None:
        subscription = None
        while not self._stopping.is_set:
            try:
                if not self.link.ready.is_set():
                    await self._stopping.sleep(0.2, wake=self.link.ready)
                    continue
                if self.ordered and not await self._holds_lease():
                    await self._stopping.sleep(self.settings.inbox_ack_wait_seconds / 2)
                    continue
                if subscription is None:
                    subscription = await self._subscribe()
                    log.info("consumer started", consumer=self.spec.name, stream=self.spec.stream)
                await self._forget_old_ids()
                fetching, self._next_batch = self._next_batch, None
                try:
                    msgs = await (
                        fetching
                        if fetching is not None
                        else subscription.fetch(
                            self.settings.inbox_batch_size,
                            timeout=self.settings.inbox_fetch_seconds,
                        )
                    )
                except (NatsTimeoutError, TimeoutError):
                    continue
                await self.process(msgs)
            except asyncio.CancelledError:
                raise
            except NotFoundError:
                # the producer has not declared its stream yet
                await self._stopping.sleep(1.0)
            except Exception:
                log.exception("consumer round failed", consumer=self.spec.name)
                await self._drop_next_batch()
                subscription = None
                await self._stopping.sleep(1.0)

    async def _forget_old_ids(self) -> None:
        """Hourly, drop applied ids older than the retention window (the table stays small)."""
        now = time.monotonic()
        if self.ordered or now - self._last_purge < 3600.0:
            return
        self._last_purge = now
        cutoff = utcnow() - timedelta(days=self.settings.inbox_retention_days)
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                delete(inbox).where(
                    inbox.c.consumer == self.spec.name, inbox.c.processed_at < cutoff
                )
            )

    async def redeliver(
        self, subject: str, headers: dict[str, str], data: bytes
    ) -> tuple[Literal["applied", "already_applied", "failed"], str | None]:
        """Apply a stored message (a dead letter) once more, as if it were delivered: read as a
        delivery is, claimed in the inbox (an event already applied is not applied again) and
        handled in one transaction. Returns the outcome and, when it failed, why."""
        msg = Msg(_client=cast(Any, None), subject=subject, headers=headers, data=data)
        read = self._read(msg)
        if isinstance(read, _Unreadable):
            return "failed", read.reason
        applied, _, failed = await self._apply_batch([read])
        if failed:
            return "failed", failed[0][1]
        if applied:
            self.metrics.events_consumed.labels(self.spec.name, read.envelope.type).inc()
            return "applied", None
        return "already_applied", None

    def _read(self, msg: Msg) -> _Delivery | _Unreadable:
        try:
            envelope = Envelope.from_nats(msg.headers, msg.data)
        except MalformedEnvelope as exc:
            return _Unreadable(msg, f"not a readable CloudEvent: {exc}")
        subscription = self._by_type.get(envelope.type)
        if subscription is None:
            return _Unreadable(msg, f"no handler for event type {envelope.type}", envelope)
        try:
            event = envelope.decode(subscription.model)
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors()
            )
            return _Unreadable(msg, f"data does not match {envelope.type}: {fields}", envelope)
        return _Delivery(msg, envelope, event, subscription)

    async def process(self, msgs: Sequence[Msg]) -> None:
        """Apply one fetched batch, then acknowledge, retry or dead-letter each message; the
        messages are kept in progress on the server all the while."""
        if not msgs:
            return
        subscription = self._subscription
        batch = list(msgs)  # an ordered consumer adds what it fetches while gathering

        def held() -> list[Msg]:  # the batch, and what the next fetch will hand over
            return [*batch, *buffered(subscription)]

        async with kept_in_progress(held, self.settings.inbox_ack_wait_seconds / 3):
            try:
                with collector_paused():
                    if self.ordered:
                        await self._settle_in_order(batch)
                    else:
                        await self._settle(batch)
            except Exception:
                # The batch's transaction failed (the store went away, say): what it did not
                # settle comes back after the first backoff, not after the whole ack wait.
                await self._release(batch)
                raise

    async def _release(self, msgs: Sequence[Msg], delay: float | None = None) -> None:
        delay = (self.settings.inbox_backoff_seconds or [1.0])[0] if delay is None else delay
        for msg in msgs:
            if not msg.is_acked:
                with contextlib.suppress(Exception):  # a lost nak only waits for the ack wait
                    await msg.nak(delay=delay)

    async def _settle(self, msgs: Sequence[Msg]) -> None:
        read = [self._read(m) for m in msgs]
        readable = [d for d in read if isinstance(d, _Delivery)]
        poison = [d for d in read if isinstance(d, _Unreadable)]
        applied, duplicates, failed = (
            await self._apply_batch(readable) if readable else ([], [], [])
        )
        for d in applied + duplicates:
            await d.msg.ack()
        self._count_consumed(applied)
        if duplicates:
            self.metrics.events_duplicate.labels(self.spec.name).inc(len(duplicates))
        for d, error, give_up in failed:
            if give_up or d.msg.metadata.num_delivered >= self.settings.inbox_max_deliveries:
                poison.append(_Unreadable(d.msg, error, d.envelope))
            else:
                await self._retry_later(d, error)
        if poison:
            await self._dead_letter(poison)
        if msgs:
            self.metrics.consumer_lag.labels(self.spec.name).set(msgs[-1].metadata.num_pending)

    def _count_consumed(self, applied: list[_Delivery]) -> None:
        """Count the applied events, once per type (a counter's labels cost more than its
        increment, and a batch is mostly of one or two types)."""
        for event_type, count in Counter(d.envelope.type for d in applied).items():
            self.metrics.events_consumed.labels(self.spec.name, event_type).inc(count)

    async def _apply_batch(
        self, batch: list[_Delivery]
    ) -> tuple[list[_Delivery], list[_Delivery], list[tuple[_Delivery, str, bool]]]:
        """One transaction for the batch: claim the event ids, apply what was not applied before,
        and keep the claims only of what was applied.

        The fresh events are first applied all at once in one savepoint (the common case costs
        no per-event round trips); only when that fails is each applied in its own savepoint,
        so the failing ones are found and the others still commit."""
        applied: list[_Delivery] = []
        duplicates: list[_Delivery] = []
        failed: list[tuple[_Delivery, str, bool]] = []
        async with self.unit_of_work(self.db) as uow:
            claimed = await self._claim(uow, batch)
            fresh: list[_Delivery] = []
            for d in batch:
                if d.envelope.id in claimed:
                    claimed.discard(d.envelope.id)  # a second copy in the batch is a duplicate
                    fresh.append(d)
                else:
                    duplicates.append(d)
            if fresh and await self._apply_together(uow, fresh):
                applied = fresh
            else:
                for d in fresh:
                    error = await self._apply(uow, d)
                    if error is None:
                        applied.append(d)
                    else:
                        failed.append((d, *error))
            if failed:
                await uow.session.execute(
                    delete(inbox).where(
                        inbox.c.consumer == self.spec.name,
                        inbox.c.event_id.in_([d.envelope.id for d, _, _ in failed]),
                    )
                )
        return applied, duplicates, failed

    async def _claim(self, uow: UnitOfWork, batch: list[_Delivery]) -> set[str]:
        """Insert the batch's ids into the inbox, skipping those already there; returns the ids
        that were new. The unique index decides, so no query plan can turn this into a scan
        (a `SELECT ... IN (...)` on a freshly grown table did: 70 ms a batch on PostgreSQL)."""
        now = utcnow()
        rows = {
            d.envelope.id: {
                "consumer": self.spec.name,
                "event_id": d.envelope.id,
                "event_type": d.envelope.type,
                "processed_at": now,
            }
            for d in batch
        }
        return await insert_new(uow.session, inbox, list(rows.values()), returning="event_id")

    async def _apply_together(self, uow: UnitOfWork, fresh: list[_Delivery]) -> bool:
        """Apply the events in runs of one type, all in one savepoint and one batch scope;
        False if any failed."""
        runs = _runs(fresh)
        try:
            async with uow.savepoint():
                # the batch scope writes under a span too: the run's, when there is one run
                with self._group_span(runs) as group:
                    async with self.spec.scoped(uow):
                        for run in runs:
                            with self._run_span(run) if len(runs) > 1 else nullcontext(group):
                                await run[0].subscription.apply(
                                    uow, [(d.envelope, d.event) for d in run]
                                )
        except Exception:  # noqa: BLE001 - found again, per event, by the caller
            return False
        return True

    def _run_span(self, run: list[_Delivery]) -> AbstractContextManager[trace.Span]:
        """The span of a run of one event type: it continues the trace of the run's first
        event and links the others."""
        first = run[0].envelope
        return span_from(
            self.tracer,
            f"{first.type} process",
            traceparent=first.traceparent,
            tracestate=first.tracestate,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.spec.name,
                "messaging.message.id": first.id,
                "messaging.batch.message_count": len(run),
            },
            links=_links(run[1:]),
        )

    def _group_span(self, runs: list[list[_Delivery]]) -> AbstractContextManager[trace.Span]:
        """The span of a group applied together: its run's span when it has one run, else a
        span of the batch (continuing its first event's trace, linking each other run)."""
        if len(runs) == 1:
            return self._run_span(runs[0])
        first = runs[0][0].envelope
        return span_from(
            self.tracer,
            f"{self.spec.name} process",
            traceparent=first.traceparent,
            tracestate=first.tracestate,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.spec.name,
                "messaging.batch.message_count": sum(len(run) for run in runs),
            },
            links=_links([run[0] for run in runs[1:]]),
        )

    async def _apply(self, uow: UnitOfWork, d: _Delivery) -> tuple[str, bool] | None:
        """Run the handler in a savepoint under the trace the event carries.

        Returns None when it worked, else the reason and whether to give up at once."""
        with span_from(
            self.tracer,
            f"{d.envelope.type} process",
            traceparent=d.envelope.traceparent,
            tracestate=d.envelope.tracestate,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.spec.name,
                "messaging.message.id": d.envelope.id,
            },
        ) as span:
            try:
                async with uow.savepoint(), self.spec.scoped(uow):
                    await d.subscription.apply(uow, [(d.envelope, d.event)])
            except DeadLetter as exc:
                span.record_exception(exc)
                return str(exc), True
            except Exception as exc:  # noqa: BLE001 - a handler's failure is this event's failure
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR))
                return f"{type(exc).__name__}: {exc}", False
        return None

    # --- ordered consumers: deduplicated by stream sequence ----------------------------------
    #
    # Skipping what is at or below the last applied sequence is only right if nothing below a
    # message is still to be applied when it is. Three things could break that, and each is
    # handled: a message handed out to a consumer process that died (it comes back after the ack
    # wait), one nak'd for a retry (it comes back after its backoff), and a second replica
    # fetching beside this one. So a batch is applied only once every message the server has
    # handed out and not had acknowledged is in this process's hands (`_gather`: the consumer's
    # `num_ack_pending` equals what is held; what is missing is fetched, redeliveries first, in
    # the same batch); then in sequence order; and a failing event stops the batch there: the
    # events before it commit with their position, it and those after it are retried together
    # (or it is dead-lettered and the rest go on). On PostgreSQL the position row is read FOR
    # UPDATE, so two writers take turns and the second skips what the first applied; SQLite's
    # writers are serial. A crash between the commit and the acks only redelivers what the
    # position already covers: acknowledged as duplicates.

    async def _holds_lease(self) -> bool:
        """Whether this process is the one that consumes (an ordered consumer has one writer): on
        PostgreSQL the holder of a session advisory lock on a connection it keeps, so a replica
        beside it waits and takes over within half an ack wait of the holder's connection
        closing (its death); SQLite serves one process.

        The batches are applied on that connection (`_apply_in_order`): a batch that commits
        proves the lock held through its commit, so a busy consumer checks nothing more, and
        after a round without one the connection is checked (`SELECT 1`). That spares each
        batch a connection from the pool (its pre-ping was then BEGIN, a statement and
        ROLLBACK) and the check's BEGIN, SELECT 1 and COMMIT: six of some 27 round trips of a
        coverage batch, 0.58 ms of the worker's CPU and 0.83 ms of wall time a batch (1.0 → 0.43
        ms and 1.35 → 0.53 ms, measured alone). A connection that failed is dropped, never used
        again: SQLAlchemy would reconnect it, without the lock."""
        if self.db.dialect != "postgresql":
            return True
        if self._lease is not None and self._lease.invalidated:
            log.warning("ordered consumer lost its lease", consumer=self.spec.name)
            await self._give_up_lease()
        if self._lease is not None and self._lease_proven:
            self._lease_proven = False  # proven again by the next commit, else checked
            return True
        if self._lease is not None:
            try:
                await self._lease.execute(text("SELECT 1"))
                await self._lease.commit()  # never left idle in a transaction
                return True
            except Exception:  # noqa: BLE001 - the connection, and with it the lock, is gone
                log.warning("ordered consumer lost its lease", consumer=self.spec.name)
                await self._give_up_lease()
        conn = await self.db.engine.connect()
        taken = await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lease_key})
        if taken.scalar_one():
            await conn.commit()
            self._lease = conn
            log.info("ordered consumer took the lease", consumer=self.spec.name)
            return True
        await conn.close()
        return False

    async def _give_up_lease(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(Exception):
                await self._lease.close()
            self._lease = None

    async def _settle_in_order(self, batch: list[Msg]) -> None:
        """Apply a batch of an ordered consumer (`batch` grows with what gathering fetches).

        Once gathered, a full batch (a backlog) has the next one fetched while it is decoded and
        applied: the next round gathers from there as from any fetch. The next batch comes after
        everything this one holds, so the order and the gathering hold as before; when this
        batch fails, the next is released with it (`_drop_next_batch`)."""
        ahead, self._read_ahead = self._read_ahead, {}
        if not await self._gather(batch):
            return
        if len(batch) >= self.settings.inbox_batch_size and not self._stopping.is_set:
            self._next_batch = asyncio.create_task(
                self._fetch_ahead(), name=f"inbox-{self.spec.name}-next"
            )
        read = [ahead.get(id(m)) or self._read(m) for m in _in_stream_order(batch)]
        del ahead
        if not await self._settle_read_in_order(read):
            # what comes after waits for what is retried, as it did unfetched
            await self._drop_next_batch()
        self.metrics.consumer_lag.labels(self.spec.name).set(batch[-1].metadata.num_pending)

    async def _settle_read_in_order(self, read: list[_Delivery | _Unreadable]) -> bool:
        """Apply, skip or dead-letter the read batch in stream order, and acknowledge what is
        settled; False when it stopped at an event retried later (or a store that is down),
        what is after it released to come back with it.

        A message that cannot be read is dead-lettered (stored first) once everything before it
        has committed, never before: its termination acknowledges everything below it on an
        ack-all durable, and a crash must not leave an event acknowledged and not applied. Each
        transaction's events are acknowledged with one ack of the last of them."""
        position = 0
        while position < len(read):
            pending: list[_Delivery] = []
            while position < len(read) and isinstance(read[position], _Delivery):
                pending.append(cast(_Delivery, read[position]))
                position += 1
            while pending:
                applied, duplicates, failure = await self._apply_in_order(pending)
                if applied or duplicates:  # one ack settles them all (the durable is ack-all)
                    # the last in stream order: the applied follow what the position covered
                    await (applied or duplicates)[-1].msg.ack()
                self._count_consumed(applied)
                if duplicates:
                    self.metrics.events_duplicate.labels(self.spec.name).inc(len(duplicates))
                if failure is None:
                    break
                failed, error, give_up = failure
                after_failed = pending[pending.index(failed) + 1 :]
                rest = [*(d.msg for d in after_failed), *(d.msg for d in read[position:])]
                if (
                    give_up
                    or failed.msg.metadata.num_delivered >= self.settings.inbox_max_deliveries
                ):
                    if await self._dead_letter([_Unreadable(failed.msg, error, failed.envelope)]):
                        pending = after_failed
                        continue
                    await self._release(rest, delay=5.0)
                    return False
                # retried together, in order: the gathering waits for all of them to come back
                await self._retry_later(failed, error)
                await self._release(rest, delay=self._retry_delay(failed))
                return False
            poison: list[_Unreadable] = []
            while position < len(read) and isinstance(read[position], _Unreadable):
                poison.append(cast(_Unreadable, read[position]))
                position += 1
            # stored before anything after them commits, so neither a crash nor a store that
            # is down lets the position pass a message that was never recorded
            if poison and not await self._dead_letter(poison):
                await self._release([d.msg for d in read[position:]], delay=5.0)
                return False
        return True

    async def _fetch_ahead(self) -> list[Msg]:
        """The next batch, fetched while this one is applied, and read (decoded: a fifth of a
        projection's CPU) as it arrives, `READ_AHEAD_SLICE` messages at a time, the event loop
        let go after each: the slices run while the batch being applied waits on its store
        (its writes), which the worker otherwise spent idle (0.80 of a core busy at 200,000
        events on PostgreSQL, 0.88 read ahead). Reading is the same whenever it is done (no
        state, no side effect); what the next round's gathering adds is read then."""
        msgs: list[Msg] = await self._subscription.fetch(
            self.settings.inbox_batch_size, timeout=self.settings.inbox_fetch_seconds
        )
        read: dict[int, _Delivery | _Unreadable] = {}
        for start in range(0, len(msgs), READ_AHEAD_SLICE):
            with collector_paused():
                read.update((id(m), self._read(m)) for m in msgs[start : start + READ_AHEAD_SLICE])
            await asyncio.sleep(0)  # the batch being applied goes on as soon as it can
        self._read_ahead = read
        return msgs

    async def _drop_next_batch(self) -> None:
        """Release the next batch fetched ahead, if any (the batch before it did not settle, or
        the consumer stops): its messages come back, in order, after the first backoff."""
        fetching, self._next_batch = self._next_batch, None
        if fetching is None:
            return
        try:
            msgs = await fetching
            self._read_ahead = {}
        except Exception:  # noqa: BLE001 - nothing fetched, or the pull failed: nothing held
            return
        await self._release(msgs)

    async def _gather(self, batch: list[Msg]) -> bool:
        """Fetch into `batch` until it holds every message the server has handed out to this
        consumer and not had acknowledged, but for those already buffered for the next fetch
        that come after all of the batch (the next batch, prefetched while this one writes); a
        batch not yet full first takes what is buffered (a backlog is applied in full batches).
        False when that did not happen in time (a second replica holds some): then the batch is
        released at once and this replica pauses a random while before its next try."""
        size = self.settings.inbox_batch_size
        wait = max(self.settings.inbox_backoff_seconds or [1.0])
        deadline = time.monotonic() + wait + 3 * self.settings.inbox_ack_wait_seconds
        timeout = 0.02
        while True:
            held = {_sequence(m) for m in batch}
            ahead = {_sequence(m) for m in buffered(self._subscription)}
            if not ahead or len(held) >= size:
                info = await self.link.js.consumer_info(self.spec.stream, self.spec.name)
                outstanding = int(info.num_ack_pending or 0)
                if outstanding <= len(held | ahead) and (not ahead or min(ahead) > max(held)):
                    return True
                if time.monotonic() > deadline:
                    log.warning(
                        "ordered consumer could not gather what is outstanding; another replica?",
                        consumer=self.spec.name,
                        held=len(held),
                        outstanding=outstanding,
                    )
                    # released at once, then a random pause: a replica still gathering takes
                    # them and has all it needs, or the one that wakes first does. (Released
                    # after the same pause as its sleep, the messages came back just as their
                    # holder woke: two replicas split them again, round after round.)
                    pause = random.uniform(0.5, 2.0)
                    await self._release(batch, delay=0.0)
                    await self._stopping.sleep(pause)
                    return False
            topping_up = bool(ahead) and len(held) < size
            try:
                batch.extend(
                    await self._subscription.fetch(
                        size - len(held) if topping_up else size, timeout=timeout
                    )
                )
            except (NatsTimeoutError, TimeoutError):
                timeout = min(1.0, timeout * 2)

    async def _apply_in_order(
        self, batch: list[_Delivery]
    ) -> tuple[list[_Delivery], list[_Delivery], tuple[_Delivery, str, bool] | None]:
        """One transaction: skip what the stored position covers, apply the rest in stream order
        up to the first that fails, and move the position to the last applied."""
        applied: list[_Delivery] = []
        failure: tuple[_Delivery, str, bool] | None = None
        lease, self._lease_proven = self._lease, False
        async with self.unit_of_work(self.db, connection=lease) as uow:
            last = await self._position(uow)
            # the batch is in stream order: what the position covers is a prefix of it
            covered = bisect_right(batch, last, key=_delivery_sequence)
            duplicates, fresh = batch[:covered], batch[covered:]
            if fresh and await self._apply_together(uow, fresh):
                applied = fresh
            else:
                for d in fresh:
                    error = await self._apply(uow, d)
                    if error is not None:
                        failure = (d, *error)
                        break
                    applied.append(d)
            if applied:
                await upsert_many(
                    uow.session,
                    consumer_positions,
                    [
                        {
                            "consumer": self.spec.name,
                            "stream": self.spec.stream,
                            "last_sequence": _sequence(applied[-1].msg),
                            "updated_at": utcnow(),
                        }
                    ],
                    key="consumer",
                )
        self._lease_proven = lease is not None and lease is self._lease
        return applied, duplicates, failure

    async def _position(self, uow: UnitOfWork) -> int:
        """The last stream sequence this consumer applied (0: none), locked for the batch."""
        query = (
            select(consumer_positions.c.last_sequence)
            .where(consumer_positions.c.consumer == self.spec.name)
            .with_for_update()
        )
        return int((await uow.session.execute(query)).scalar_one_or_none() or 0)

    def _retry_delay(self, d: _Delivery) -> float:
        delays = self.settings.inbox_backoff_seconds or [1.0]
        return delays[min(d.msg.metadata.num_delivered - 1, len(delays) - 1)]

    async def _retry_later(self, d: _Delivery, error: str) -> None:
        self.metrics.events_failed.labels(self.spec.name).inc()
        attempt = d.msg.metadata.num_delivered
        delays = self.settings.inbox_backoff_seconds or [1.0]
        delay = delays[min(attempt - 1, len(delays) - 1)]
        log.warning(
            "event failed, will retry",
            consumer=self.spec.name,
            event_id=d.envelope.id,
            attempt=attempt,
            retry_in=delay,
            error=error,
        )
        await d.msg.nak(delay=delay)

    async def _dead_letter(self, items: list[_Unreadable]) -> bool:
        """Store, copy to the DLQ subject, then terminate: a message is never just dropped.
        False when they could not be stored (then they are nak'd, to come back)."""
        now = utcnow()
        rows = [
            {
                "consumer": self.spec.name,
                "event_id": d.envelope.id if d.envelope else None,
                "event_type": d.envelope.type if d.envelope else None,
                "nats_subject": d.msg.subject,
                "stream_sequence": d.msg.metadata.sequence.stream,
                "headers": json.dumps(dict(d.msg.headers or {}), ensure_ascii=False),
                "data": d.msg.data,
                "reason": d.reason[:4000],
                "deliveries": d.msg.metadata.num_delivered,
                "failed_at": now,
            }
            for d in items
        ]
        try:
            async with self.db.unit_of_work() as uow:
                await uow.session.execute(insert(dead_letters), rows)
        except Exception:
            log.exception(
                "could not store dead letters; they will be redelivered", consumer=self.spec.name
            )
            for d in items:
                await d.msg.nak(delay=5.0)
            return False
        for d in items:
            with self._dead_letter_span(d):
                await self._copy_and_terminate(d)
                self.metrics.events_dead_lettered.labels(self.spec.name).inc()
                log.error(  # inside the span: the line carries the event's trace id
                    "event dead-lettered",
                    consumer=self.spec.name,
                    event_id=d.envelope.id if d.envelope else None,
                    event_type=d.envelope.type if d.envelope else None,
                    reason=d.reason,
                )
        return True

    def _dead_letter_span(self, d: _Unreadable) -> AbstractContextManager[trace.Span]:
        """An error span in the trace the event carries (its envelope's, else the message's
        `traceparent` header), so a dead letter shows in the trace of the write that caused it."""
        headers = d.msg.headers or {}
        traceparent = d.envelope.traceparent if d.envelope else headers.get("traceparent")
        tracestate = d.envelope.tracestate if d.envelope else headers.get("tracestate")
        return _error_span(
            span_from(
                self.tracer,
                f"{d.envelope.type if d.envelope else d.msg.subject} dead-letter",
                traceparent=traceparent,
                tracestate=tracestate,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.consumer.group.name": self.spec.name,
                    "messaging.message.id": d.envelope.id if d.envelope else "",
                    "pb.dead_letter.reason": d.reason[:1000],
                },
            ),
            d.reason,
        )

    async def _copy_and_terminate(self, d: _Unreadable) -> None:
        headers = dict(d.msg.headers or {})
        headers.pop(MSG_ID_HEADER, None)
        headers["pb-dead-letter-reason"] = d.reason[:1000].replace("\n", " ")
        headers["pb-dead-letter-consumer"] = self.spec.name
        try:
            await self.link.js.publish(self.dead_letter_subject, d.msg.data, headers=headers)
        except Exception:  # noqa: BLE001 - the stored row is the record that matters
            log.warning(
                "dead letter stored but not copied to the DLQ subject", consumer=self.spec.name
            )
        await d.msg.term()


@contextmanager
def _error_span(opened: AbstractContextManager[trace.Span], reason: str) -> Iterator[trace.Span]:
    with opened as span:
        span.set_status(trace.Status(trace.StatusCode.ERROR, reason[:200]))
        yield span


@asynccontextmanager
async def kept_in_progress(held: Callable[[], Sequence[Msg]], every: float) -> AsyncIterator[None]:
    """While the block runs, tell the server every `every` seconds that the messages `held()`
    names and that are not yet acknowledged, nak'd or terminated are still being worked on
    (`+WPI` restarts their ack wait). A batch settled sooner costs one timer and sends
    nothing; the hot path never awaits a progress message."""
    task = asyncio.create_task(_keep_in_progress(held, every), name="inbox-in-progress")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _keep_in_progress(held: Callable[[], Sequence[Msg]], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            for msg in held():
                if not msg.is_acked:
                    await msg.in_progress()  # a buffered publish, no round trip
        except Exception as exc:  # noqa: BLE001 - a lost extension only risks a redelivery
            log.warning("could not extend the ack wait", error=type(exc).__name__)


def buffered(subscription: Any) -> list[Msg]:
    """The messages the server has already delivered to a pull subscription for its next fetch.

    nats-py's `fetch` returns once it has some messages while the server's pull request for the
    rest lingers until it expires; what arrives meanwhile waits in the subscription's queue
    while the batch is worked on, its ack wait running. nats-py offers no view of that queue,
    hence the guarded look inside (nothing is found if its shape ever changes, and
    `tests/common/test_recovery.py` fails)."""
    queue = getattr(getattr(subscription, "_sub", None), "_pending_queue", None)
    return [
        m
        for m in list(getattr(queue, "_queue", ()))
        if isinstance(m, Msg) and (m.reply or "").startswith("$JS.ACK.")
    ]


def quicken_fetch(subscription: Any) -> None:
    """Have nats-py's `fetch` take a message already in the subscription's queue at once.

    Its `fetch` waits for each message of a batch with `next_msg`, which makes a task, a
    `wait_for` and a uuid for every message and goes round the event loop for it, even when the
    message is already queued (it mostly is: a read of the socket queues hundreds); that cost the
    coverage worker about 20 µs of CPU per event. Here a queued message is taken as nats-py would
    take it (the pending size and `task_done` kept right) without any of that; only a wait for
    one not yet arrived goes through nats-py's own `next_msg`, so a timeout, a closed connection
    or an unsubscription while waiting behave as before. A private API, guarded by
    `tests/common/test_nats_internals.py`."""
    sub = subscription._sub
    waiting = sub.next_msg

    async def next_msg(timeout: float | None = 1.0) -> Msg:
        queue = sub._pending_queue
        if queue.empty() or sub._conn.is_closed:
            return cast(Msg, await waiting(timeout))
        msg = queue.get_nowait()
        sub._pending_size -= len(msg.data)
        queue.task_done()
        return cast(Msg, msg)

    sub.next_msg = next_msg


@asynccontextmanager
async def _no_scope() -> AsyncIterator[object]:
    yield None


#: The links a span keeps (OpenTelemetry's default span limit): the rest would be parsed and
#: dropped, a thousand a batch.
MAX_LINKS = 128


def _links(deliveries: list[_Delivery]) -> list[trace.Link]:
    """A link to each distinct trace context the deliveries carry, the first `MAX_LINKS` of them
    (an import's chunk of thousands of events carries one)."""
    found = distinct_traceparents(d.envelope.traceparent for d in deliveries)
    return [trace.Link(span_context_of(t)) for t in found]


def distinct_traceparents(traceparents: Iterable[str | None]) -> list[str]:
    """The distinct traceparents given, in order, at most `MAX_LINKS` (none for None or "")."""
    seen: dict[str, None] = {}
    for t in traceparents:
        if t and t not in seen:
            seen[t] = None
            if len(seen) == MAX_LINKS:
                break
    return list(seen)


def delivery_sequences(msg: Msg) -> tuple[int, int]:
    """A JetStream delivery's (consumer, stream) sequence, read from its reply subject
    (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`);
    nats-py's `metadata` builds a dataclass, a date and all, each time it is asked."""
    tokens = msg.reply.split(".")
    if len(tokens) == 9:
        return int(tokens[6]), int(tokens[5])
    sequence = msg.metadata.sequence  # the longer form, with a domain and an account
    return int(sequence.consumer), int(sequence.stream)


def _sequence(msg: Msg) -> int:
    return delivery_sequences(msg)[1]


def _delivery_sequence(d: _Delivery) -> int:
    return _sequence(d.msg)


def _in_stream_order(msgs: list[Msg]) -> list[Msg]:
    """The messages by stream sequence, one of each: a second copy of one (handed out again
    while the first was held) is settled on the server with its twin."""
    by_sequence = {_sequence(msg): msg for msg in msgs}
    return [by_sequence[seq] for seq in sorted(by_sequence)]


def _runs(deliveries: list[_Delivery]) -> list[list[_Delivery]]:
    """Consecutive deliveries of the same type, in stream order."""
    runs: list[list[_Delivery]] = []
    for d in deliveries:
        if runs and runs[-1][0].subscription is d.subscription:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs

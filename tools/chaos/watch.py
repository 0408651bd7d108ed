"""What the suite reads off JetStream while it runs: each durable consumer's position and lag.

The consumers are read from the services' own definitions (`ServiceDefinition.consumers`), so a
consumer added to a service is watched and checked without touching the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from libs.common.service import ServiceDefinition
from tools.chaos.cluster import SERVICES


@dataclass(frozen=True)
class Consumer:
    """One durable consumer: who runs it, the stream it reads and the event types it applies."""

    service: str
    name: str
    stream: str
    event_types: frozenset[str]
    dedupe: str = "inbox"  # "sequence": what it applied is what its stored position covers

    @property
    def producer(self) -> str:
        """The service whose stream it reads (`PB_REGISTRY` -> `registry`)."""
        return self.stream.removeprefix("PB_").lower()


def consumers() -> list[Consumer]:
    found = []
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.app")
        definition: ServiceDefinition = app.definition()
        for spec in definition.consumers:
            types = frozenset(s.event_type for s in spec.subscriptions)
            found.append(Consumer(service, spec.name, spec.stream, types, spec.dedupe))
    return found


@dataclass(frozen=True)
class Position:
    """A consumer's state on the server: delivered, acknowledged, held and not yet delivered."""

    delivered: int  # the stream sequence of the last message delivered
    ack_floor: int  # the stream sequence below which everything is acknowledged
    ack_pending: int  # delivered, not yet acknowledged (held by a running or dead consumer)
    pending: int  # matching messages not yet delivered

    @property
    def lag(self) -> int:
        return self.ack_pending + self.pending

    def caught_up_to(self, horizon: int) -> bool:
        """Everything delivered up to `horizon` (a stream sequence) is acknowledged."""
        return self.ack_floor >= horizon or (self.ack_pending == 0 and self.delivered >= horizon)


async def _quiet(_error: Exception) -> None:
    """nats-server is killed on purpose: its connection errors are expected, not printed."""


async def _nothing() -> None:
    pass


class Watch:
    """A NATS connection of the suite's own that outlives nats-server restarts."""

    def __init__(self, url: str, watched: list[Consumer]) -> None:
        self.url = url
        self.consumers = watched
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    async def connect(self) -> None:
        self._nc = await nats.connect(
            self.url,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=2,
            error_cb=_quiet,
            disconnected_cb=_nothing,
            reconnected_cb=_nothing,
        )
        self._js = self._nc.jetstream(timeout=2)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def position(self, consumer: Consumer) -> Position | None:
        """None while the server or the consumer is not there (yet)."""
        assert self._js is not None
        try:
            info = await self._js.consumer_info(consumer.stream, consumer.name, timeout=1)
        except Exception:  # noqa: BLE001 - down, restarting or not created yet: no answer
            return None
        return Position(
            delivered=int(info.delivered.stream_seq or 0),
            ack_floor=int(info.ack_floor.stream_seq or 0),
            ack_pending=int(info.num_ack_pending or 0),
            pending=int(info.num_pending or 0),
        )

    async def positions(self) -> dict[str, Position | None]:
        answers = await asyncio.gather(*(self.position(c) for c in self.consumers))
        return {c.name: p for c, p in zip(self.consumers, answers, strict=True)}

    async def event_ids(self, consumer: Consumer, up_to: int) -> set[str]:
        """The ids of the events of `consumer`'s types in its stream up to sequence `up_to`
        (what an ordered consumer at that position has applied or dead-lettered)."""
        assert self._js is not None
        if up_to <= 0:
            return set()
        subscription = await self._js.pull_subscribe(
            "",
            stream=consumer.stream,
            config=ConsumerConfig(
                filter_subjects=sorted(consumer.event_types),
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
            ),
        )
        ids: set[str] = set()
        try:
            while True:
                try:
                    msgs = await subscription.fetch(1000, timeout=2)
                except (NatsTimeoutError, TimeoutError):
                    return ids
                for msg in msgs:
                    if msg.metadata.sequence.stream > up_to:
                        return ids
                    ids.add((msg.headers or {}).get("Nats-Msg-Id", ""))
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def stream_messages(self, stream: str) -> int | None:
        assert self._js is not None
        try:
            info = await self._js.stream_info(stream)
        except Exception:  # noqa: BLE001 - not there (yet)
            return None
        return int(info.state.messages)

"""Recovery in seconds on real NATS: a killed consumer's batch comes back within the ack wait,
a slow batch is never handed out twice while it is worked on, and a durable made with an older
ack wait takes the configured one."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import string
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo
from sqlalchemy import func, select

from libs.common.broker import BrokerLink
from libs.common.db import Database
from libs.common.events import Envelope
from libs.common.inbox import InboxConsumer
from libs.common.settings import ServiceSettings
from libs.common.tables import dead_letters, inbox, platform_metadata
from tests.common.note_consumer import (
    Noted,
    note_consumer,
    note_metadata,
    note_settings,
    note_spec,
    note_type,
    notes,
)
from tests.harness import NatsServer, wait_for

ACK_WAIT = 2.0  # seconds, short for the test; the default is 10
MARGIN = 3.0  # for the redelivery to be fetched and applied on a loaded machine


@dataclass
class Notes:
    settings: ServiceSettings
    db: Database
    link: BrokerLink

    @property
    def service(self) -> str:
        return self.settings.service_name

    @property
    def durable(self) -> str:
        return f"{self.service}-notes"

    async def publish(self, count: int, prefix: str = "n") -> list[str]:
        values = [f"{prefix}-{i}" for i in range(count)]
        for value in values:
            env = Envelope(
                id=f"evt-{value}-{random.random()}",
                source=f"/pb/{self.service}",
                type=note_type(self.service),
                subject=value,
                time=datetime.now(UTC),
                data=Noted(value=value).model_dump_json().encode(),
            )
            await self.link.js.publish(env.type, env.data, headers=env.headers())
        return values

    async def applied(self) -> dict[str, int]:
        """How often each note was written."""
        query = select(notes.c.value, func.count()).group_by(notes.c.value)
        async with self.db.read() as session:
            return {value: int(n) for value, n in (await session.execute(query)).all()}

    async def inbox_ids(self) -> int:
        query = select(func.count()).select_from(inbox).where(inbox.c.consumer == self.durable)
        async with self.db.read() as session:
            return int((await session.execute(query)).scalar_one())

    async def dead_letters(self) -> int:
        async with self.db.read() as session:
            query = select(func.count()).select_from(dead_letters)
            return int((await session.execute(query)).scalar_one())

    async def info(self) -> ConsumerInfo:
        info: ConsumerInfo = await self.link.js.consumer_info(
            self.settings.stream_name, self.durable
        )
        return info

    async def deliveries(self) -> int:
        """How many deliveries the durable made (each one, first or again, advances it)."""
        delivered = (await self.info()).delivered
        assert delivered is not None
        return delivered.consumer_seq


@asynccontextmanager
async def notes_on(nats_url: str, database_url: str) -> AsyncIterator[Notes]:
    """A fresh notes service's store and NATS link, closed when the block ends."""
    service = "r" + "".join(random.choices(string.ascii_lowercase, k=8))
    settings = note_settings(nats_url, database_url, service, ACK_WAIT)
    db = Database(database_url, source=f"/pb/{service}")
    async with db.engine.begin() as conn:
        await conn.run_sync(platform_metadata.create_all)
        await conn.run_sync(note_metadata.create_all)
    link = BrokerLink(settings)
    link.start()
    try:
        await asyncio.wait_for(link.ready.wait(), 10)
        yield Notes(settings, db, link)
    finally:
        await link.stop()
        await db.dispose()


@pytest.fixture
async def notes_setup(nats_server: NatsServer, database_url: str) -> AsyncIterator[Notes]:
    async with notes_on(nats_server.url, database_url) as notes:
        yield notes


def test_the_ack_wait_is_seconds_not_a_minute() -> None:
    settings = ServiceSettings()
    assert settings.inbox_ack_wait_seconds == 10.0
    consumer = InboxConsumer(note_spec("x"), None, None, settings, None, None)  # type: ignore[arg-type]
    assert consumer.consumer_config().ack_wait == 10.0


async def test_a_killed_consumers_batch_is_applied_by_another_within_the_ack_wait(
    notes_setup: Notes,
) -> None:
    n = notes_setup
    values = await n.publish(20)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.common.note_consumer",
        n.settings.nats_url,
        n.settings.database_url,
        n.service,
        str(ACK_WAIT),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PB_LOG_LEVEL": "WARNING"},
    )
    successor = note_consumer(n.settings, n.db, n.link)
    try:
        assert process.stdout is not None
        line = b""
        while not line.startswith(b"holding"):  # past the log lines
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, "the consumer process ended"
        assert line == b"holding 20\n"
        # another replica pulls, but the batch held well past the ack wait is not handed to
        # it: the holder keeps it in progress (on SQLite the holder's write transaction keeps
        # the other from even pulling; PostgreSQL shows it)
        successor.start()
        await asyncio.sleep(2 * ACK_WAIT)
        assert await n.applied() == {}
        assert ((await n.info()).num_ack_pending, await n.deliveries()) == (20, 20)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        killed = time.monotonic()
        await wait_for(lambda: _all_applied(n, len(values)), timeout=ACK_WAIT + 30)
        recovered = time.monotonic() - killed
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await successor.stop()
    print(f"killed consumer's batch applied by another {recovered:.2f} s after the kill")
    assert recovered < ACK_WAIT + MARGIN
    # nothing lost, nothing doubled, nothing dead-lettered, nothing left with the server
    assert await n.applied() == dict.fromkeys(values, 1)
    assert await n.inbox_ids() == len(values)
    assert await n.dead_letters() == 0
    info = await n.info()
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    assert await n.deliveries() == 2 * len(values)  # each delivered twice, applied once


async def _all_applied(n: Notes, count: int) -> bool:
    return sum((await n.applied()).values()) >= count


async def test_a_batch_slower_than_the_ack_wait_is_not_handed_to_another_replica(
    notes_setup: Notes,
) -> None:
    n = notes_setup
    slow: list[int] = []

    async def slow_first_batch(items: list[tuple[Envelope, Noted]]) -> None:
        if not slow:
            slow.append(len(items))
            await asyncio.sleep(3 * ACK_WAIT)

    # two replicas on the same durable, each with its own connection
    other_link = BrokerLink(n.settings)
    other_link.start()
    await asyncio.wait_for(other_link.ready.wait(), 10)
    replicas = [
        note_consumer(n.settings, n.db, n.link, slow_first_batch),
        note_consumer(n.settings, n.db, other_link, slow_first_batch),
    ]
    for replica in replicas:
        replica.start()
    try:
        await asyncio.sleep(1.0)  # both pulling
        values = await n.publish(10)
        await wait_for(lambda: _all_applied(n, len(values)), timeout=3 * ACK_WAIT + 20)
        await asyncio.sleep(ACK_WAIT)  # a redelivery, had there been one, would show by now
    finally:
        for replica in replicas:
            await replica.stop()
        await other_link.stop()
    assert slow, "the slow batch never ran"
    assert await n.applied() == dict.fromkeys(values, 1)
    info = await n.info()
    assert await n.deliveries() == len(values)  # ten events, ten deliveries
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
    for replica in replicas:
        duplicates = replica.metrics.registry.get_sample_value(
            "pb_events_duplicate_total", {"consumer": replica.spec.name}
        )
        assert not duplicates


async def test_a_durable_made_with_another_ack_wait_takes_the_configured_one(
    notes_setup: Notes,
) -> None:
    n = notes_setup
    old = ConsumerConfig(
        durable_name=n.durable,
        filter_subjects=[note_type(n.service)],
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=60.0,
    )
    await n.link.js.add_consumer(n.settings.stream_name, old)
    assert (await n.info()).config.ack_wait == 60.0
    consumer = note_consumer(n.settings, n.db, n.link)
    consumer.start()
    try:

        async def updated() -> bool:
            return (await n.info()).config.ack_wait == ACK_WAIT

        await wait_for(updated, timeout=10)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("store_kept", [True, False], ids=["store-kept", "store-lost"])
async def test_a_consumer_carries_on_after_nats_server_is_killed_and_started_again(
    private_nats: NatsServer, sqlite_url: str, store_kept: bool
) -> None:
    """The connection retries for ever and the pull loop survives; a server that lost its store
    gets the streams declared again on reconnect, and the durable is made again."""
    async with notes_on(private_nats.url, sqlite_url) as n:
        first, more = await _through_a_server_kill(private_nats, n, store_kept)
    assert await n.applied() == dict.fromkeys(first + more, 1)


async def _through_a_server_kill(
    private_nats: NatsServer, n: Notes, store_kept: bool
) -> tuple[list[str], list[str]]:
    settings, link = n.settings, n.link
    consumer = note_consumer(settings, n.db, link)
    consumer.start()
    try:
        first = await n.publish(5)
        await wait_for(lambda: _all_applied(n, len(first)), timeout=10)

        assert private_nats.process is not None
        private_nats.process.kill()  # SIGKILL: no goodbye to the clients
        private_nats.process.wait()
        await asyncio.sleep(1.5)  # a few reconnect attempts fail meanwhile
        if not store_kept:
            shutil.rmtree(private_nats.store)
        private_nats.start()
        restarted = time.monotonic()

        async def stream_there() -> bool:
            try:
                await link.js.stream_info(settings.stream_name)
            except Exception:  # noqa: BLE001 - not yet
                return False
            return True

        await wait_for(stream_there, timeout=10)
        more = await n.publish(5, prefix="after")
        await wait_for(lambda: _all_applied(n, len(first) + len(more)), timeout=10)
        print(f"applying again {time.monotonic() - restarted:.2f} s after the server restarted")
    finally:
        await consumer.stop()
    return first, more

"""What the registry consumes, at a county's yearly scale and beyond: training's member steps and
stations' member declarations applied by the registry as it runs.

Per store and repetition, on a nats-server of its own:

* set up (not timed): the registry served on a fresh store, `ORGANIZATIONS` organisations filed
  through its API, the service stopped;
* produced (not timed): `--events` events published with nats-py `publish_async` into
  PB_TRAINING and PB_STATIONS: per candidate an admission, then for 60 % a confirmation and for
  10 % a cancellation, a tenth of the confirmations published again under new ids (an outbox
  re-published as new events); and one declaration per worker (a fifth of the events);
* consumed (timed): the registry started again (`serve(definition(settings))`) until both its
  durable consumers have nothing pending or unacknowledged: events per second;
* checks: the organisations' full and probationary counts sum to what the generator counted;
  the mobile members are one per worker; no dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from libs.common.broker import ensure_stream, service_streams
from libs.common.events import Envelope
from libs.common.logging import configure_logging
from libs.common.settings import ServiceSettings
from libs.common.tables import dead_letters
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.intake_tables import mobile_members
from services.registry.store.tables import organizations
from tests.bench.common import (
    BenchOptions,
    Repetition,
    Table,
    Timing,
    median,
    phase_timeout,
    rate,
    repeat_per_store,
    store,
)
from tests.factories import organization
from tests.harness import serve

NAME = "registry_intake"
DEFAULT_EVENTS = 20_000
ORGANIZATIONS = 200
DURABLES = {"PB_TRAINING": "registry-training", "PB_STATIONS": "registry-stations"}
NOW = datetime(2026, 11, 30, tzinfo=UTC)


@dataclass
class Generator:
    """The events, and the counts they must leave."""

    organization_ids: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(20261130))
    full: int = 0
    probationary: int = 0
    workers: int = 0

    def events(self, total: int) -> list[Envelope]:
        steps: list[Envelope] = []
        declarations: list[Envelope] = []
        n = 0
        while len(steps) + len(declarations) < total:
            n += 1
            org = self.rng.choice(self.organization_ids)
            steps.append(_candidate(f"c{n}", org, "admitted"))
            self.probationary += 1
            roll = self.rng.random()
            if roll < 0.6:
                steps.append(_candidate(f"c{n}", org, "confirmed"))
                self.probationary -= 1
                self.full += 1
                if self.rng.random() < 0.1:
                    steps.append(_candidate(f"c{n}", org, "confirmed"))
            elif roll < 0.7:
                steps.append(_candidate(f"c{n}", org, "cancelled"))
                self.probationary -= 1
            if n % 4 == 0:
                self.workers += 1
                declarations.append(_declared(f"w{self.workers}"))
        return steps + declarations


def _candidate(candidate_id: str, organization_id: str, step: str) -> Envelope:
    data: dict[str, Any] = {
        "candidate_id": candidate_id,
        "organization_id": organization_id,
        "branch_id": "b-1",
        "region_code": "140212101",
        f"{step}_on": "2026-11-30",
    }
    return _envelope("training", f"pb.training.member.{step}.v1", candidate_id, data)


def _declared(worker_id: str) -> Envelope:
    data = {
        "worker_id": worker_id,
        "region_code": "140212101",
        "match_key": uuid.uuid5(uuid.NAMESPACE_OID, worker_id).hex * 2,
        "declared_on": "2026-11-30",
    }
    return _envelope("stations", "pb.stations.worker.member_declared.v1", worker_id, data)


def _envelope(service: str, type_: str, subject: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"/pb/{service}",
        type=type_,
        subject=subject,
        time=NOW,
        data=json.dumps(data).encode(),
    )


async def produce(js: JetStreamContext, batch: list[Envelope]) -> None:
    for service in ("training", "stations"):
        for spec in service_streams(ServiceSettings(service_name=service)):
            await ensure_stream(js, spec)
    for e in batch:
        await js.publish_async(e.type, e.data, headers=e.headers())
    await asyncio.wait_for(js.publish_async_completed(), timeout=phase_timeout(len(batch)))


async def drained(js: JetStreamContext) -> bool:
    for stream, durable in DURABLES.items():
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            return False
        if int(info.num_pending or 0) + int(info.num_ack_pending or 0):
            return False
    return True


async def repetition(kind: str, nats_url: str, options: BenchOptions) -> Repetition:
    total = options.size(DEFAULT_EVENTS)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    for stream in DURABLES:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    try:
        async with store(kind) as url:
            settings = RegistrySettings(database_url=url, nats_url=nats_url)
            async with serve(definition(settings)) as registry:
                ids = []
                for n in range(ORGANIZATIONS):
                    response = await registry.client.post(
                        "/v1/organizations",
                        json=organization(900_000 + n),
                        headers=registry.as_region("14"),
                    )
                    ids.append(response.json()["id"])
            generator = Generator(ids)
            batch = generator.events(total)
            await produce(js, batch)
            started, cpu = time.perf_counter(), time.process_time()
            async with serve(
                definition(RegistrySettings(database_url=url, nats_url=nats_url))
            ) as r:
                deadline = started + phase_timeout(total)
                while not await drained(js):
                    if time.perf_counter() > deadline:
                        raise RuntimeError("the registry did not drain its consumers in time")
                    await asyncio.sleep(0.05)
                measured = Timing(time.perf_counter() - started, time.process_time() - cpu)
                problems = await check(r.runtime, generator)
    finally:
        await client.close()
    return Repetition(raw=measured, measured=measured, events=len(batch), problems=problems)


async def check(runtime: Any, generator: Generator) -> list[str]:
    async with runtime.db.read() as session:
        full, probationary = (
            await session.execute(
                select(
                    func.sum(organizations.c.full_members),
                    func.sum(organizations.c.probationary_members),
                )
            )
        ).one()
        declared = await session.scalar(select(func.count()).select_from(mobile_members))
        dead = await session.scalar(select(func.count()).select_from(dead_letters))
    problems = []
    if (full, probationary) != (generator.full, generator.probationary):
        problems.append(
            f"counts {(full, probationary)} != {(generator.full, generator.probationary)}"
        )
    if declared != generator.workers:
        problems.append(f"{declared} mobile members, {generator.workers} workers declared")
    if dead:
        problems.append(f"{dead} dead letters")
    return problems


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service="registry")
    table = Table(
        title=(
            f"registry intake: {options.size(DEFAULT_EVENTS):,} training and stations events, "
            f"median of {options.repeats} repetition(s)"
        ),
        columns=["store", "events/s", "seconds", "CPU µs/ev", "checks"],
    )
    results = await repeat_per_store(options, "consumed", repetition, table)
    for kind, runs in results.items():
        problems = [p for r in runs for p in r.problems]
        table.rows.append(
            [
                kind,
                rate(median([r.measured_rate for r in runs])),
                f"{median([r.measured_seconds for r in runs]):.2f}",
                f"{median([r.measured_cpu_us for r in runs]):.0f}",
                "ok" if not problems else "; ".join(problems[:3]),
            ]
        )
    table.notes += [
        "consumed: from the registry's start (migrations at head already) until both durable "
        "consumers have nothing pending or unacknowledged; the events were published before "
        f"it started; {ORGANIZATIONS} organisations share the candidates (each batch adjusts "
        "each organisation's file once: a new version and organization.updated per batch)",
        "CPU: this process's CPU time (service and poller) per event",
    ]
    return [table]


if __name__ == "__main__":
    print("\n".join(t.render() for t in asyncio.run(run(BenchOptions(events=2000, repeats=1)))))

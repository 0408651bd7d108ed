"""Request-loop throughput end to end: place → dispatch → accept → resolve → rate through the
HTTP API of a served stations service, until every event is in its JetStream stream.

Per store and repetition (a fresh database and streams, one nats-server): `--events` requests
(default 300) go round the loop, 8 at a time, each move a real HTTP call with its token. The
clients run in a process of their own, so that the figures are the service's (its process,
one core) and not shared with the load generator's HTTP client. Printed: transitions per second
answered by the API (5 per request), and per second until the stream holds all of their events
(the outbox relay included).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import nats

from services.stations.app import definition
from services.stations.settings import StationsSettings
from tests.bench.common import (
    BenchOptions,
    Repetition,
    Table,
    Timing,
    drop_streams,
    median,
    phase_timeout,
    rate,
    repeat_per_store,
    store,
    stream_messages,
)
from tests.harness import serve, token

NAME = "stations_requests"
DEFAULT_REQUESTS = 300
CONCURRENCY = 8
MOVES = 5
REGION = "140212"


def headers(scopes: tuple[str, ...], subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(REGION, scopes=scopes, subject=subject)}"}


OFFICE = headers(("stations:read", "stations:write"), "office")
UNIT = headers(("stations:unit:union",), "union-desk")
WORKER = headers(("stations:request",), "worker:w1")


async def one_loop(client: httpx.AsyncClient, n: int) -> list[str]:
    problems: list[str] = []
    placed = await client.post(
        "/v1/requests",
        json={"category": "need", "title": f"需求{n}", "region_code": REGION},
        headers=WORKER,
    )
    if placed.status_code != 201:
        return [f"place: {placed.status_code}"]
    rid = placed.json()["id"]
    steps: list[tuple[str, dict[str, str], dict[str, Any] | None]] = [
        ("dispatch", OFFICE, {"unit": "union"}),
        ("accept", UNIT, None),
        ("resolve", UNIT, {"note": "已办"}),
        ("rate", WORKER, {"score": 5}),
    ]
    for action, who, body in steps:
        response = await client.post(f"/v1/requests/{rid}/{action}", json=body, headers=who)
        if response.status_code != 200:
            problems.append(f"{action}: {response.status_code}")
            break
    return problems


async def _clients(base_url: str, requests: int) -> tuple[float, float, list[str]]:
    problems: list[str] = []
    queue = list(range(requests))
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:

        async def one_client() -> None:
            while queue:
                problems.extend(await one_loop(client, queue.pop()))

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
        return started, time.perf_counter(), problems


def load(base_url: str, requests: int) -> tuple[float, float, list[str]]:
    """The clients, in a process of their own: when they started and ended (`perf_counter`,
    the system's monotonic clock, comparable across processes) and what went wrong."""
    return asyncio.run(_clients(base_url, requests))


async def repetition(kind: str, nats_url: str, options: BenchOptions) -> Repetition:
    requests = options.size(DEFAULT_REQUESTS)
    expected = requests * MOVES
    problems: list[str] = []
    async with store(kind) as url:
        settings = StationsSettings(database_url=url, nats_url=nats_url)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await drop_streams(js, settings)
        try:
            async with serve(definition(settings)) as service:
                spawn = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=spawn) as clients:
                    cpu = time.process_time()
                    started, ended, failed = await asyncio.get_running_loop().run_in_executor(
                        clients, load, service.base_url, requests
                    )
                problems.extend(failed)
                answered = Timing(ended - started, time.process_time() - cpu)
                deadline = time.monotonic() + phase_timeout(expected)
                while time.monotonic() < deadline:
                    if await stream_messages(js, settings.stream_name) >= expected:
                        break
                    await asyncio.sleep(0.05)
                relayed = Timing(time.perf_counter() - started, time.process_time() - cpu)
                held = await stream_messages(js, settings.stream_name)
                if held != expected:
                    problems.append(f"{held} events in the stream, expected {expected}")
        finally:
            await drop_streams(js, settings)
            await nc.close()
    return Repetition(answered, relayed, expected, problems)


async def run(options: BenchOptions) -> list[Table]:
    table = Table(
        title=f"request loop through the API: transitions/s, median of {options.repeats}",
        columns=[
            "store",
            "transitions",
            "answered/s",
            "with events in stream/s",
            "service CPU µs/transition",
        ],
    )
    results = await repeat_per_store(options, "with events", repetition, table)
    for kind, runs in results.items():
        table.rows.append(
            [
                kind,
                f"{runs[0].events:,}",
                rate(median([r.raw_rate for r in runs])),
                rate(median([r.measured_rate for r in runs])),
                f"{median([r.raw_cpu_us for r in runs]):,.0f}",
            ]
        )
    table.notes.append(
        f"{CONCURRENCY} concurrent clients in a process of their own, each request placed by the "
        "worker, dispatched by the office, accepted and resolved by the unit, rated by the "
        "worker: every move one HTTP call, one transaction, one event; one service process "
        "(one core). Its CPU per transition depends less than the rates on what else "
        "the machine runs"
    )
    return [table]

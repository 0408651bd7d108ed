"""POST /v1/organizations with 20 concurrent clients, beside a bare FastAPI + SQLAlchemy endpoint
inserting one row per request, in the same run.

Per store and repetition (fresh database and streams, the same nats-server):

* bare: a FastAPI app of one route, `POST /things`, that validates a small body with pydantic
  and inserts one row with SQLAlchemy Core in a transaction of its own (the platform's engine
  settings: WAL and `BEGIN IMMEDIATE` on SQLite, a pool on PostgreSQL), served by uvicorn in
  this process;
* service: the registry as it is run on that store, `POST /v1/organizations` of new
  organisations, each a ledger row, its audit entry and its `organization.registered` event.
  SQLite is what `make run` runs: one process of role `all` (uvicorn and its runtime: auth,
  tracing, problem details, the workers), served in this process, beside the registry's relay
  process (`python -m services.registry relay`). PostgreSQL is what the manifests in deploy/
  run: the API (`PB_REGISTRY_ROLE=api`) served in this process, beside the registry's worker
  process (`python -m services.registry worker`: the relay, consumers and background workers),
  on the same store and nats-server;
* the load: a separate process (`tests/bench/http_load.py`) of `CONCURRENCY` clients, each
  one keep-alive connection sending its next request when the last is answered, `--events`
  requests in all (after a warm-up of `WARM_UP`): requests/s and the latency percentiles by its
  clock, and its own CPU per request (it shares the 2 cores with the server).

The floors (issue 15): service/bare >= 0.5, and the service's p99 under 250 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import Column, DateTime, Integer, MetaData, String, func, insert, select
from sqlalchemy import Table as SqlTable
from sqlalchemy.ext.asyncio import async_sessionmaker

from libs.common.db import create_engine
from libs.common.logging import configure_logging
from libs.common.tables import utcnow
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.tables import organizations
from tests.bench.common import (
    BenchOptions,
    Repetition,
    Table,
    Timing,
    median,
    processes_beside,
    rate,
    record,
    repeat_per_store,
    store,
)
from tests.harness import _stop as stop_server
from tests.harness import free_port, serve, token

NAME = "registry_writes"
DEFAULT_REQUESTS = 1_000
CONCURRENCY = 20
WARM_UP = 40
COUNTY = "140212"
FLOOR = 0.5  # the service keeps at least this share of the bare endpoint's requests/s
P99_CEILING_MS = 250.0

# -- the bare endpoint -----------------------------------------------------------------------------

bare_metadata = MetaData()
things = SqlTable(
    "bench_things",
    bare_metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class ThingIn(BaseModel):
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)


class ThingOut(BaseModel):
    id: int
    code: str
    name: str
    created_at: datetime


def bare_app(database_url: str) -> FastAPI:
    engine = create_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()

    @app.post("/things", status_code=201, response_model=ThingOut)
    async def add_thing(body: ThingIn) -> ThingOut:
        now = utcnow()
        async with sessions() as session, session.begin():
            key = (
                await session.execute(
                    insert(things)
                    .values(code=body.code, name=body.name, created_at=now)
                    .returning(things.c.id)
                )
            ).scalar_one()
        return ThingOut(id=key, code=body.code, name=body.name, created_at=now)

    app.state.engine = engine
    return app


@contextlib.asynccontextmanager
async def serve_bare(database_url: str) -> AsyncIterator[str]:
    """The bare app on uvicorn at a free port; yields its base URL."""
    app = bare_app(database_url)
    engine = app.state.engine
    async with engine.begin() as conn:
        await conn.run_sync(bare_metadata.create_all)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup()
    await server.on_tick(0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_server(server)
        await engine.dispose()


# -- how the registry runs ----------------------------------------------------------------------

#: Per store, the role of the process serving the API and the processes beside it: `make run`
#: runs the registry whole on SQLite but for its relay; the manifests in deploy/ (PostgreSQL)
#: run its API and its worker (which relays) as two processes.
API_ROLE = {"sqlite": "all", "postgresql": "api"}
BESIDE = {"sqlite": ("relay",), "postgresql": ("worker",)}


# -- the load ------------------------------------------------------------------------------------


async def http_load(
    url: str, path: str, kind: str, first: int, requests: int, headers: dict[str, str]
) -> dict[str, Any]:
    """`requests` POSTs from `CONCURRENCY` clients in a process of their own."""
    job = {
        "url": url,
        "path": path,
        "body": kind,
        "first": first,
        "requests": requests,
        "concurrency": CONCURRENCY,
        "headers": headers,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.http_load",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(json.dumps(job).encode())
    if process.returncode != 0:
        raise RuntimeError(f"the load process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measured_load(
    url: str, path: str, kind: str, requests: int, headers: dict[str, str], problems: list[str]
) -> tuple[Timing, list[float], float]:
    """A warm-up, then the measured load: the wall and this process's CPU time of the latter,
    its latencies and the load process's own CPU seconds."""
    await http_load(url, path, kind, 10_000_000, WARM_UP, headers)
    started, cpu = time.perf_counter(), time.process_time()
    result = await http_load(url, path, kind, 0, requests, headers)
    elapsed = Timing(time.perf_counter() - started, time.process_time() - cpu)
    wall = float(result["wall"])
    statuses = {int(k): v for k, v in result["statuses"].items()}
    if statuses != {201: requests}:
        problems.append(f"{path}: answers {statuses}, expected {{201: {requests}}}")
    # the load process's own clock, from the first request to the last answer
    return Timing(wall, elapsed.cpu), [float(v) for v in result["latencies"]], result["cpu"]


# -- a repetition --------------------------------------------------------------------------------

#: p50 and p99 (seconds) of each repetition, per store: bare, then service.
latencies: dict[str, list[tuple[float, float, float, float]]] = {}
#: The load process's CPU ms per request of each repetition, per store: bare, then service.
load_cpu: dict[str, list[tuple[float, float]]] = {}


async def repetition(kind: str, nats_url: str, options: BenchOptions) -> Repetition:
    requests = options.size(DEFAULT_REQUESTS)
    problems: list[str] = []
    async with store(kind) as url:
        async with serve_bare(url) as bare_url:
            bare, bare_latencies, bare_load_cpu = await measured_load(
                bare_url, "/things", "thing", requests, {}, problems
            )
        settings = RegistrySettings(
            database_url=url,
            nats_url=nats_url,
            tracing_exporter="none",
            log_level="WARNING",
            role=API_ROLE[kind],
            relay_process="relay" in BESIDE[kind],
        )
        headers = {"Authorization": f"Bearer {token(COUNTY)}"}
        beside = processes_beside("registry", BESIDE[kind], url, nats_url)
        async with beside, serve(definition(settings)) as service:
            real, real_latencies, real_load_cpu = await measured_load(
                service.base_url, "/v1/organizations", "organization", requests, headers, problems
            )
            async with service.runtime.db.read() as session:
                rows = (
                    await session.execute(select(func.count()).select_from(organizations))
                ).scalar_one()
            if rows != requests + WARM_UP:
                expected = requests + WARM_UP
                problems.append(f"{rows} organisations in the ledger, expected {expected}")
    latencies.setdefault(kind, []).append(
        (
            percentile(bare_latencies, 0.5),
            percentile(bare_latencies, 0.99),
            percentile(real_latencies, 0.5),
            percentile(real_latencies, 0.99),
        )
    )
    load_cpu.setdefault(kind, []).append(
        (bare_load_cpu / requests * 1000, real_load_cpu / requests * 1000)
    )
    return Repetition(bare, real, requests, problems)


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service="registry")
    latencies.clear()
    load_cpu.clear()
    table = Table(
        title=(
            f"POST /v1/organizations, {CONCURRENCY} concurrent clients, "
            f"{options.size(DEFAULT_REQUESTS):,} requests, median of {options.repeats} "
            "repetition(s)"
        ),
        columns=[
            "store",
            "bare req/s",
            "service req/s",
            "service/bare",
            "floor 0.5",
            "p50 / p99 ms bare",
            "p50 / p99 ms service",
            "p99 < 250",
            "CPU ms/req bare/service",
            "load CPU ms/req",
            "checks",
        ],
    )
    results = await repeat_per_store(options, "service", repetition, table)
    for kind, runs in results.items():
        bare = median([r.raw_rate for r in runs])
        real = median([r.measured_rate for r in runs])
        p = [median([q[i] for q in latencies[kind]]) * 1000 for i in range(4)]
        problems = sum(len(r.problems) for r in runs)
        table.rows.append(
            [
                kind,
                rate(bare),
                rate(real),
                f"{real / bare:.2f}",
                "met" if real / bare >= FLOOR else "NOT MET",
                f"{p[0]:.0f} / {p[1]:.0f}",
                f"{p[2]:.0f} / {p[3]:.0f}",
                "met" if p[3] < P99_CEILING_MS else "NOT MET",
                f"{median([r.raw_cpu_us for r in runs]) / 1000:.1f} / "
                f"{median([r.measured_cpu_us for r in runs]) / 1000:.1f}",
                " / ".join(f"{median([q[i] for q in load_cpu[kind]]):.2f}" for i in range(2)),
                "ok" if not problems else f"{problems} PROBLEM(S)",
            ]
        )
        record(NAME, real, bare, FLOOR, "req/s", kind)
        record("registry_writes_p99", p[3], None, P99_CEILING_MS, "ms", kind)
    table.notes += [
        f"load: a separate process of {CONCURRENCY} clients (a keep-alive connection each, "
        "asyncio streams), each sending its next request when the last is answered, after "
        f"{WARM_UP} warm-up requests; req/s and latencies by its clock; load CPU: that "
        "process's own per request, bare / service (on the same cores as the server); with "
        f"{CONCURRENCY} clients waiting for their answers the mean latency is {CONCURRENCY} "
        "÷ req/s, so p99 < 250 ms needs about 100 req/s or more",
        "bare: FastAPI + SQLAlchemy Core, one INSERT per request in its own transaction, the "
        "platform's engine settings; service: the registry as each store runs it: SQLite as "
        "`make run` (role all: API and workers, beside `python -m services.registry relay`), "
        "PostgreSQL as deploy/ (the API, role api, in this process beside `python -m "
        "services.registry worker`); CPU: this "
        "process's only",
    ]
    return [table]

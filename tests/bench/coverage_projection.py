"""The coverage projection at province scale: a province of organisations, published as registry
events, consumed by the coverage service while its rates are read.

One run per store (a run at province scale takes minutes), on a nats-server of its own:

* produced (not timed): `--events` organisations (province scale: 1,000,000) across 1,430
  townships of 11 cities and 110 counties (a few townships much busier than most), 85 % without
  members, about 4 % with a standalone or joint branch, 4 % with an instructor, 2 % with a
  union, 5 % in a park; township by township as surveys fill the ledger (the township's
  `pb.registry.organization.registered.v1`, then its `branch.formed`, `instructor.assigned` and
  `massorg.established`), built with the registry's event classes and published with
  `publish_async` into PB_REGISTRY;
* raw: a plain nats-py durable pull consumer, `fetch(500)` and ack each, nothing stored;
* live: the coverage service as `make run` runs it, two processes on one store: its API
  (`python -m services.coverage`, `PB_COVERAGE_ROLE=api`) and its worker (`python -m
  services.coverage worker`: consumers, relay, background loops), from the creation of the
  worker's durable consumer (after the interpreter's start-up) until it has nothing pending:
  events per second with the projection and roll-ups kept up to date; meanwhile
  `GET /v1/coverage/{region}` is asked over HTTP, in turn, for the province, a city, a county,
  a township and a village (p50/p99 per level; the API's cold first answers timed apart), and
  once more when idle (the client is this process's asyncio loop, one request at a time on one
  keep-alive connection read with asyncio streams, `tests.bench.http_load.KeepAlive`, which
  does nothing else but poll the consumer every 200 ms: what it times is what a user's client
  would see, less the client's own CPU: httpx, used until session 22, cost about 0.7 ms of CPU
  a GET on the same 2 cores, counted in every latency and slowing the server beside it);
* checks: the province's figures equal the counts the generator made;
* rebuild: `services.coverage.rebuild.rebuild` from sequence 1 (in this process, its stream
  reader a process of its own, whose peak RSS is shown), then the same check;
* peak memory: the peak RSS (`VmHWM`) of each service process, the API's and the worker's, read
  from /proc just before it is stopped; and `ru_maxrss` of this process (generator, publisher,
  rebuild) for reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from libs.common.broker import ensure_stream, service_streams
from libs.common.db import Database
from libs.common.events import Envelope, IntegrationEvent
from libs.common.logging import configure_logging
from libs.common.settings import ServiceSettings
from libs.common.tables import utcnow
from services.coverage.rebuild import rebuild
from services.coverage.service import rates as coverage
from services.coverage.settings import CoverageSettings
from services.coverage.store.uow import CoverageUnitOfWork
from services.registry.events import (
    BranchFormedV1,
    InstructorAssignedV1,
    MassOrganizationEstablishedV1,
    OrganizationRegisteredV1,
)
from tests.bench.common import (
    BenchOptions,
    ServiceProcess,
    Table,
    median,
    phase_timeout,
    rate,
    record,
    store,
)
from tests.bench.http_load import KeepAlive, request
from tests.harness import NatsServer, postgres_available, token

NAME = "coverage_projection"
#: Province scale; `--events` sets the number of organisations.
DEFAULT_ORGANIZATIONS = 1_000_000
STREAM = "PB_REGISTRY"
CONSUMER = "coverage-registry"
RAW_CONSUMER = "bench-raw"
RAW_BATCH = 500
#: The coverage processes' own settings beyond the store, port and role: the day worker looks
#: for a new day (and takes the daily snapshot) once an hour, not every minute of a run.
SETTINGS = {"SNAPSHOT_CHECK_SECONDS": "3600"}
PUBLISH_CHUNK = 20_000
PROVINCE = "14"
CITY = "1401"
COUNTY = "140101"
TOWNSHIP = "140101001"
VILLAGE = "140101001001"
LEVELS = {
    "province": PROVINCE,
    "city": CITY,
    "county": COUNTY,
    "township": TOWNSHIP,
    "village": VILLAGE,
}
INDUSTRIES = ("I6513", "C1311", "F5191", "H6210", "L7212", "E4710", "G5430", "O8010", "M7320")


def townships() -> list[str]:
    """11 cities x 10 counties x 13 townships = 1,430 townships."""
    return [
        f"14{city:02d}{county:02d}{town:03d}"
        for city in range(1, 12)
        for county in range(1, 11)
        for town in range(1, 14)
    ]


@dataclass
class Expected:
    """The province's figures, counted while generating."""

    with_members: int = 0
    covered: int = 0
    standalone: int = 0
    managed: int = 0
    work: int = 0
    events: int = 0


@dataclass
class Generator:
    """A province of organisations and the registry events that describe it."""

    organizations: int
    rng: random.Random = field(default_factory=lambda: random.Random(20261123))
    expected: Expected = field(default_factory=Expected)
    worked: set[str] = field(default_factory=set)  # organisations Party work reaches

    def events(self) -> Iterator[IntegrationEvent]:
        """Township by township, as surveys (摸排) fill the ledger: a township's organisations
        are registered, then its branches are formed, instructors assigned, unions set up."""
        towns = townships()
        weights = [self.rng.paretovariate(1.5) for _ in towns]  # a few busy townships
        per_town = [0] * len(towns)
        for i in self.rng.choices(range(len(towns)), weights, k=self.organizations):
            per_town[i] += 1
        n = 0
        branch = 0
        for town, count in zip(towns, per_town, strict=True):
            branches: list[IntegrationEvent] = []
            links: list[IntegrationEvent] = []
            joint: list[str] = []
            for _ in range(count):
                org_id = f"o{n:07d}"
                region = (
                    town + f"{self.rng.randint(1, 20):03d}" if self.rng.random() < 0.7 else town
                )
                full, probationary = self._members()
                yield OrganizationRegisteredV1(
                    organization_id=org_id,
                    credit_code=f"91{n:016d}",
                    name=f"企业{n}",
                    kind="enterprise" if self.rng.random() < 0.85 else "social_organization",
                    region_code=region,
                    industry_code=self.rng.choice(INDUSTRIES),
                    staff_count=int(self.rng.lognormvariate(2.3, 1.0)),
                    area_ids=[f"park-{town[:6]}"] if self.rng.random() < 0.05 else [],
                    three_haves=self.rng.random() < 0.3,
                    full_members=full,
                    probationary_members=probationary,
                    registered_at=utcnow(),
                )
                self.expected.managed += 1
                self.expected.with_members += full + probationary > 0
                if full >= 3 and self.rng.random() < 0.7:
                    branch += 1
                    branches.append(_branch(f"b{branch:07d}", "standalone", town, [org_id]))
                    self.expected.covered += 1
                    self.expected.standalone += 1
                    self.worked.add(org_id)
                elif 0 < full < 3 and self.rng.random() < 0.5:
                    joint.append(org_id)
                    if len(joint) == 4:
                        branch += 1
                        branches.append(_branch(f"b{branch:07d}", "joint", town, joint))
                        self.expected.covered += len(joint)
                        self.worked.update(joint)
                        joint = []
                if not full and self.rng.random() < 0.04:
                    links.append(
                        InstructorAssignedV1(
                            assignment_id=f"a{n:07d}",
                            instructor_id=f"i{n % 5000:05d}",
                            organization_id=org_id,
                            region_code=region,
                            starts_on=utcnow().date(),
                        )
                    )
                    self.worked.add(org_id)
                if self.rng.random() < 0.02:
                    links.append(
                        MassOrganizationEstablishedV1(
                            mass_organization_id=f"m{n:07d}",
                            organization_id=org_id,
                            region_code=region,
                            kind="union",
                            established_on=utcnow().date(),
                        )
                    )
                    self.worked.add(org_id)
                n += 1
            yield from branches
            yield from sorted(links, key=lambda e: e.type_name())
        self.expected.work = len(self.worked)

    def _members(self) -> tuple[int, int]:
        """Most organisations have no Party member; a few have three or more."""
        draw = self.rng.random()
        if draw < 0.85:
            return 0, 0
        full = self.rng.randint(1, 2) if draw < 0.95 else self.rng.randint(3, 12)
        return full, 1 if self.rng.random() < 0.2 else 0


def _branch(branch_id: str, kind: str, region: str, org_ids: list[str]) -> BranchFormedV1:
    return BranchFormedV1(
        branch_id=branch_id,
        kind=kind,
        name=branch_id,
        region_code=region[:9],
        organization_ids=list(org_ids),
        formed_on=utcnow().date(),
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def produce(js: JetStreamContext, generator: Generator) -> int:
    """Publish the province into PB_REGISTRY (pipelined), returns the number of events."""
    for spec in service_streams(ServiceSettings(service_name="registry")):
        await ensure_stream(js, spec)
    sent = 0
    pending = 0
    for event in generator.events():
        envelope = Envelope.wrap(event, source="/pb/registry")
        await js.publish_async(envelope.type, envelope.data, headers=envelope.headers())
        sent += 1
        pending += 1
        if pending >= PUBLISH_CHUNK:
            await asyncio.wait_for(js.publish_async_completed(), timeout=120)
            pending = 0
    await asyncio.wait_for(js.publish_async_completed(), timeout=120)
    generator.expected.events = sent
    return sent


async def raw_consume(js: JetStreamContext, events: int) -> float:
    subscription = await js.pull_subscribe(
        "pb.registry.>",
        durable=RAW_CONSUMER,
        stream=STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=4000
        ),
    )
    received = 0
    deadline = time.monotonic() + phase_timeout(events)
    started = time.perf_counter()
    while received < events and time.monotonic() < deadline:
        try:
            msgs = await subscription.fetch(RAW_BATCH, timeout=1)
        except (NatsTimeoutError, TimeoutError):
            continue
        for msg in msgs:
            await msg.ack()
        received += len(msgs)
    elapsed = time.perf_counter() - started
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
    await js.delete_consumer(STREAM, RAW_CONSUMER)
    return elapsed


async def pending(js: JetStreamContext) -> int | None:
    try:
        info = await js.consumer_info(STREAM, CONSUMER)
    except Exception:  # noqa: BLE001 - not created yet
        return None
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LEVELS})
    cpu_seconds: float = 0.0  # the API process's user + system time while they were asked

    def cpu_ms_per_get(self) -> str:
        asked = sum(len(values) for values in self.samples.values())
        return f"{self.cpu_seconds / asked * 1000:.2f}" if asked and self.cpu_seconds else "-"

    def p(self, level: str, q: float) -> str:
        value = self.ms(level, q)
        return "-" if value != value else f"{value:.1f}"

    def ms(self, level: str, q: float) -> float:
        values = sorted(self.samples[level])
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def sample_once(http: KeepAlive, latencies: Latencies, pause: float = 0.0) -> None:
    """Each level read once, in turn (each request's bytes made before its clock starts)."""
    headers = {"Authorization": f"Bearer {token(PROVINCE)}"}
    for level, region in LEVELS.items():
        data = request(http.host, f"/v1/coverage/{region}", headers)
        started = time.perf_counter()
        status = await http.send(data)
        latencies.samples[level].append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"GET /v1/coverage/{region}: {status}")
        await asyncio.sleep(pause)


def cpu_seconds(pid: int) -> float:
    """User + system time of process `pid` so far (/proc/<pid>/stat, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sample(
    http: KeepAlive,
    latencies: Latencies,
    stop: asyncio.Event,
    pause: float,
    api_pid: int | None = None,
) -> None:
    """Each level in turn until `stop`; with `api_pid`, the API process's CPU time meanwhile
    (what a GET costs it, whatever the machine's load does to the latencies)."""
    started = cpu_seconds(api_pid) if api_pid else 0.0
    while not stop.is_set():
        await sample_once(http, latencies, pause)
    if api_pid:
        latencies.cpu_seconds += cpu_seconds(api_pid) - started


@dataclass
class Run:
    store: str
    organizations: int
    events: int = 0
    raw_seconds: float = float("nan")
    live_seconds: float = float("nan")
    rebuild_seconds: float = float("nan")
    rebuild_stages: str = ""  # replay and roll-ups, seconds
    rebuild_reader_mb: float = float("nan")  # peak RSS of the rebuild's stream reader process
    under_load: Latencies = field(default_factory=Latencies)
    idle: Latencies = field(default_factory=Latencies)
    service_rss_mb: dict[str, float] = field(default_factory=dict)  # role: VmHWM
    first_read_ms: float = float("nan")  # the API's first answers (one per level), cold
    worker_start_seconds: float = float("nan")  # spawn → its durable consumer exists
    peak_mb: float = 0.0  # this process
    problems: list[str] = field(default_factory=list)


def check(figures: coverage.Figures, expected: Expected, what: str, problems: list[str]) -> None:
    got = (
        figures.organization.in_scope,
        figures.organization.covered,
        figures.standalone.covered,
        figures.work.in_scope,
        figures.work.covered,
    )
    want = (
        expected.with_members,
        expected.covered,
        expected.standalone,
        expected.managed,
        expected.work,
    )
    if got != want:
        problems.append(f"{what}: province figures {got} != generated {want}")


async def live(url: str, nats_url: str, js: JetStreamContext, result: Run) -> None:
    """The coverage API and worker processes on the store: the worker consumes the stream while
    the API is read; the peak RSS of each process."""
    with tempfile.TemporaryDirectory(prefix="pb-bench-coverage-") as tmp:
        folder = Path(tmp)
        http = httpx.AsyncClient(timeout=30, trust_env=False)
        # the API migrates the store
        api = ServiceProcess.start("coverage", "api", url, nats_url, folder, SETTINGS)
        processes = [api]
        try:
            await api.ready(http)
            reads = await KeepAlive.open(api.url)
            # the API's first answer loads what it loads once (the division names): timed
            # apart, not a read "while consuming"
            first = time.perf_counter()
            await sample_once(reads, Latencies())
            result.first_read_ms = (time.perf_counter() - first) * 1000
            spawned = time.perf_counter()
            worker = ServiceProcess.start("coverage", "worker", url, nats_url, folder, SETTINGS)
            processes.append(worker)
            # timed from its durable consumer's creation: the interpreter's start-up is not
            # the projection's (a few seconds, most of a small run)
            while await pending(js) is None:
                if worker.process.poll() is not None or time.perf_counter() - spawned > 120:
                    raise RuntimeError(f"coverage worker did not start: {worker.tail()}")
                await asyncio.sleep(0.02)
            started = time.perf_counter()
            result.worker_start_seconds = started - spawned
            stop = asyncio.Event()
            sampler = asyncio.create_task(
                sample(reads, result.under_load, stop, 0.05, api.process.pid)
            )
            deadline = time.monotonic() + phase_timeout(result.events) * 4
            while time.monotonic() < deadline:
                if worker.process.poll() is not None:
                    result.problems.append(f"live: the worker exited: {worker.tail()}")
                    break
                if await pending(js) == 0:
                    break
                await asyncio.sleep(0.2)
            else:
                result.problems.append("live: events still pending at timeout")
            result.live_seconds = time.perf_counter() - started
            stop.set()
            await sampler
            idle_stop = asyncio.Event()
            idle = asyncio.create_task(sample(reads, result.idle, idle_stop, 0.0, api.process.pid))
            await asyncio.sleep(3)
            idle_stop.set()
            await idle
            await reads.aclose()
            for process in processes:
                if process.process.poll() is None:
                    result.service_rss_mb[process.role] = process.peak_rss_mb()
        finally:
            for process in processes:
                process.stop()
            await http.aclose()


async def province(url: str) -> coverage.Figures:
    """The province's figures as the store holds them (never from this process's cache)."""
    coverage.cache.clear()
    db = Database(url, source="/pb/bench")
    try:
        async with CoverageUnitOfWork(db, readonly=True) as uow:
            return await coverage.figures(uow, (PROVINCE, ""))
    finally:
        await db.dispose()


async def one_run(kind: str, organizations: int) -> Run:
    result = Run(kind, organizations)
    server = NatsServer()
    server.start()
    try:
        async with store(kind) as url:
            client = await nats.connect(server.url)
            js = client.jetstream(publish_async_max_pending=4000)
            generator = Generator(organizations)
            started = time.perf_counter()
            result.events = await produce(js, generator)
            print(
                f"  {kind}: {result.events:,} events published in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            gc.collect()
            result.raw_seconds = await raw_consume(js, result.events)
            await live(url, server.url, js, result)
            check(await province(url), generator.expected, "live", result.problems)
            print(
                f"  {kind}: live projection {rate(result.events / result.live_seconds)}/s",
                flush=True,
            )
            settings = CoverageSettings(
                database_url=url,
                nats_url=server.url,
                log_level="WARNING",
                tracing_exporter="none",
                snapshot_check_seconds=3600,
            )
            lines: list[str] = []
            report = await rebuild(settings, progress=lines.append)
            result.rebuild_seconds = report.seconds
            result.rebuild_reader_mb = report.reader_peak_rss_mb
            result.rebuild_stages = (
                f"replay {report.replay_seconds:.1f}, roll-ups {report.rollups_seconds:.1f}; "
                f"reader CPU {report.reader_cpu_seconds:.1f} s"
            )
            check(await province(url), generator.expected, "rebuild", result.problems)
            await client.close()
    finally:
        server.close()
    result.peak_mb = peak_mb()
    return result


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service="coverage")
    organizations = options.size(DEFAULT_ORGANIZATIONS)
    runs: list[Run] = []
    notes: list[str] = []
    for kind in options.stores:
        if kind == "postgresql" and not await postgres_available():
            notes.append("postgresql: SKIPPED, not reachable")
            continue
        runs.append(await one_run(kind, organizations))
    throughput = Table(
        title=f"coverage projection: {organizations:,} organisations, one run per store",
        columns=[
            "store",
            "events",
            "raw nats-py ev/s",
            "live projection ev/s",
            "live/raw",
            "rebuild s (ev/s)",
            "peak RSS MB api / worker (bench)",
            "checks",
        ],
        notes=notes,
    )
    latency = Table(
        title="GET /v1/coverage/{region}: p50 / p99 ms, while consuming | idle",
        columns=["store", *LEVELS, "API CPU ms / GET"],
    )
    for r in runs:
        raw = r.events / r.raw_seconds
        live = r.events / r.live_seconds
        throughput.rows.append(
            [
                r.store,
                f"{r.events:,}",
                rate(raw),
                rate(live),
                f"{live / raw:.2f}",
                f"{r.rebuild_seconds:.1f} ({rate(r.events / r.rebuild_seconds)}; "
                f"{r.rebuild_stages}, {r.rebuild_reader_mb:,.0f} MB)",
                f"{r.service_rss_mb.get('api', float('nan')):,.0f} / "
                f"{r.service_rss_mb.get('worker', float('nan')):,.0f} ({r.peak_mb:,.0f})",
                "ok" if not r.problems else "; ".join(r.problems),
            ]
        )
        latency.rows.append(
            [r.store]
            + [
                f"{r.under_load.p(level, 0.5)} / {r.under_load.p(level, 0.99)} | "
                f"{r.idle.p(level, 0.5)} / {r.idle.p(level, 0.99)}"
                for level in LEVELS
            ]
            + [f"{r.under_load.cpu_ms_per_get()} | {r.idle.cpu_ms_per_get()}"]
        )
        record("projection_live", live, raw, 0.5, "ev/s", r.store)
        # the floor is for a province of 1,000,000: a smaller run is scaled up to it (linearly)
        # and says so, so that a small run never passes for the province
        province = 1_000_000
        rebuild = r.rebuild_seconds * max(1.0, province / r.organizations)
        scaled = (
            ""
            if r.organizations >= province
            else f" (×{province / r.organizations:g} of {r.organizations:,})"
        )
        record("projection_rebuild", rebuild, None, 120, "s", f"{r.store}{scaled}")
        for level in LEVELS:
            p99 = r.under_load.ms(level, 0.99)
            record("coverage_read_p99", p99, None, 20, "ms", f"{r.store} {level}")
        for role in ("api", "worker"):
            peak = r.service_rss_mb.get(role, float("nan"))
            record("service_rss", peak, None, 300, "MB", f"{r.store} coverage {role}")
    throughput.notes += [
        "live: the coverage worker process (python -m services.coverage worker, default "
        "settings) from the creation of its durable consumer (its start-up before that: "
        + ", ".join(f"{r.store} {r.worker_start_seconds:.1f} s" for r in runs)
        + ") until it has nothing pending or unacked, beside the API process on the same "
        "store; the projection, roll-ups, pending rate changes and targets are written in "
        "each batch",
        "rebuild: services.coverage.rebuild from sequence 1 (the projection emptied first), "
        "in the bench process, its stream reader a process of its own; the seconds of its "
        "two stages (the streams replayed into the facts, the roll-ups added up from them) "
        "and the reader's CPU time and peak RSS",
        "peak RSS: VmHWM of the coverage API and worker processes (/proc/<pid>/status) just "
        "before they stop; in brackets this bench process's ru_maxrss (generator, publisher, "
        "rebuild)",
        f"checks: province figures equal to the generator's counts after live and rebuild; "
        f"{median([len(r.under_load.samples['province']) for r in runs] or [0]):.0f} "
        "province reads sampled under load per run",
    ]
    latency.notes.append(
        f"regions: province {PROVINCE}, city {CITY}, county {COUNTY}, township {TOWNSHIP}, "
        f"village {VILLAGE}; "
        "asked in turn over HTTP (one keep-alive connection on asyncio streams, not httpx), "
        "one request every 50 ms while consuming (20 a second), back "
        "to back for 3 s when idle; the API process (PB_COVERAGE_ROLE=api) answers while the "
        "worker process consumes at full speed; the API's first answers (cold: it loads the "
        "division names) are timed apart: "
        + ", ".join(f"{r.store} {r.first_read_ms:,.0f} ms for the four levels" for r in runs)
        + "; API CPU: the API process's user + system time (/proc/<pid>/stat) over the reads "
        "of each phase, per read, while consuming | idle"
    )
    return [throughput, latency]

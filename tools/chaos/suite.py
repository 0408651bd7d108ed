"""The fault suite from start to verdict: start the cluster, run the load in segments with one
fault injected in the middle of each (the last segment runs clean), let everything settle,
check every consumer against the source of truth, and report."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from libs.common.db import Database
from libs.common.outbox import outbox_backlog
from tests.harness import postgres_available
from tools.chaos.cluster import POSTGRES_URL, Cluster
from tools.chaos.faults import Fault, Injector, Outcome, schedule
from tools.chaos.load import Registry, Segment, Tally, api_writes, plan
from tools.chaos.verify import Verdict, verify
from tools.chaos.watch import Watch, consumers


@dataclass(frozen=True)
class Options:
    events: int = 100_000
    store: str = "sqlite"
    #: PB_<SERVICE>_INBOX_ACK_WAIT_SECONDS for every service; None: the services' default.
    ack_wait: float | None = None
    nats_outage: float = 1.0
    mid_batch_wait: float = 15.0
    recovery_limit: float = 600.0
    settle_limit: float = 600.0
    keep: bool = False
    #: Print a line per segment and fault as the suite goes (the CLI does; the test does not).
    progress: bool = False

    @classmethod
    def short(cls, store: str = "sqlite", events: int = 2_000) -> Options:
        """The CI form: a few thousand events, a 2 s ack wait, short waits."""
        return cls(
            events=events,
            store=store,
            ack_wait=2.0,
            nats_outage=0.5,
            mid_batch_wait=5.0,
            recovery_limit=90.0,
            settle_limit=90.0,
        )


@dataclass
class Result:
    options: Options
    faults: list[Fault]
    verdict: Verdict
    answers: dict[str, int]
    seconds: float
    folder: Path
    notes: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return [o for f in self.faults for o in f.outcomes]

    @property
    def unrecovered(self) -> list[str]:
        return [o.name for o in self.outcomes if o.recovered_after is None]

    @property
    def ok(self) -> bool:
        return (
            self.verdict.lost == 0
            and self.verdict.doubled == 0
            and self.verdict.dead_letters_without_reason == 0
            and not self.unrecovered
            and len(self.outcomes) == len(self.faults)
        )


def _environment(options: Options) -> dict[str, str]:
    env: dict[str, str] = {}
    if options.ack_wait is not None:
        env["PB_<SERVICE>_INBOX_ACK_WAIT_SECONDS"] = f"{options.ack_wait:g}"
    return env


async def _settle(watch: Watch, cluster: Cluster, limit: float) -> bool:
    """Wait until no consumer has anything pending or unacknowledged, no stream grows and no
    service's outbox holds an event not yet published, three polls in a row, half a second
    apart. The streams alone do not say the relays are done: one backing off after a publish
    JetStream did not acknowledge (a nats-server just restarted) leaves them still for seconds
    with its events unsent, and the verdict then counted those events as lost."""
    databases = [
        Database(service.database_url, source=f"/pb/chaos/{service.name}")
        for service in cluster.services.values()
    ]
    try:
        deadline = time.monotonic() + limit
        quiet = 0
        streams = sorted({c.stream for c in watch.consumers})
        before: list[int | None] = []
        while time.monotonic() < deadline:
            positions = await watch.positions()
            held = [await watch.stream_messages(stream) for stream in streams]
            unsent = [(await outbox_backlog(db))[0] for db in databases]
            if (
                held == before
                and not any(unsent)
                and all(p is not None and p.lag == 0 for p in positions.values())
            ):
                quiet += 1
                if quiet >= 3:
                    return True
            else:
                quiet = 0
            before = held
            await asyncio.sleep(0.5)
        return False
    finally:
        for db in databases:
            await db.dispose()


async def run(options: Options) -> Result:
    if options.store == "postgresql" and not await postgres_available(POSTGRES_URL):
        raise SystemExit("PostgreSQL is not reachable (set PB_CHAOS_POSTGRES_URL)")
    folder = Path(tempfile.mkdtemp(prefix="pb-chaos-"))
    started = time.monotonic()
    cluster = Cluster(folder, options.store, _environment(options))
    faults = schedule(options.store)
    tally = Tally()
    jobs: list[dict[str, Any]] = []
    notes: list[str] = []
    watch = Watch(cluster.nats.url, consumers())
    ok = False
    try:
        await cluster.start()
        await watch.connect()
        registry = Registry(cluster, tally, patience=options.recovery_limit)
        injector = Injector(
            cluster,
            watch,
            registry,
            nats_outage=options.nats_outage,
            mid_batch_wait=options.mid_batch_wait,
            recovery_limit=options.recovery_limit,
        )
        try:
            committee = await registry.committee()
            segments = plan(options.events, len(faults) + 1)
            for i, segment in enumerate(segments):
                fault = faults[i] if i < len(faults) else None
                jobs += await _segment(registry, injector, committee, segment, fault, options)
                if options.progress:
                    done = f"{fault.name}: {_outcome(fault)}" if fault else "no fault"
                    elapsed = time.monotonic() - started
                    print(
                        f"[chaos] {elapsed:6.0f} s  segment {i + 1}/{len(segments)} "
                        f"({segment.rows:,} rows, {segment.units:,} API units): {done}",
                        file=sys.stderr,
                        flush=True,
                    )
            notes += [f"server error seen by the load: {e}" for e in tally.server_errors]
            if not await _settle(watch, cluster, options.settle_limit):
                notes.append(f"consumers still lagging after {options.settle_limit:.0f} s")
            verdict = await verify(cluster, watch, tally, jobs)
        finally:
            await registry.close()
        result = Result(
            options, faults, verdict, dict(tally.answers), time.monotonic() - started, folder, notes
        )
        ok = result.ok
        return result
    finally:
        await watch.close()
        await cluster.close()
        if ok and not options.keep:
            shutil.rmtree(folder, ignore_errors=True)


async def _segment(
    registry: Registry,
    injector: Injector,
    committee: str,
    segment: Segment,
    fault: Fault | None,
    options: Options,
) -> list[dict[str, Any]]:
    job = await registry.submit_import(segment.first_row, segment.rows) if segment.rows else None
    writes = asyncio.create_task(api_writes(registry, committee, segment))
    recovery = None
    if fault is not None:
        await asyncio.sleep(0.3)  # the load under way
        _, recovery = await injector.inject(fault, job)
    await writes
    finished = [] if job is None else [await registry.wait_job(job, options.recovery_limit)]
    if recovery is not None:
        await recovery
    return finished


def _outcome(fault: Fault) -> str:
    if not fault.outcomes:
        return "not injected"
    outcome = fault.outcomes[-1]
    if outcome.recovered_after is None:
        return f"{outcome.note}; NOT recovered"
    return f"{outcome.note}; recovered in {outcome.recovered_after:.1f} s"

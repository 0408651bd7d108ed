"""The faults the suite injects and how it times the recovery from each.

A fault is injected mid-batch: a consumer's service is killed while one of its consumers holds
delivered, unacknowledged messages; the registry, and the PostgreSQL connections, while an
import job is between chunks (or, with files too small to be caught mid-way, once the import is
done, while API writes are in flight); nats-server while both kinds of load run.

Recovery is measured from the fault until every service answers /readyz again and every
consumer has acknowledged everything that had been delivered to it before the fault (its ack
floor reaches the stream sequence it had been delivered up to): the messages a dead consumer
held came back and were applied, so its lag for the time before the fault is 0. After a fault
mid-import the import must also be progressing again (more rows done, or done).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tools.chaos.cluster import Cluster
from tools.chaos.load import Registry
from tools.chaos.watch import Position, Watch

POLL = 0.1


@dataclass
class Outcome:
    """One injected fault: what it was, what it hit, and how long the system took to recover."""

    name: str
    note: str = ""
    at: float = 0.0  # time.monotonic() of the injection
    recovered_after: float | None = None  # seconds; None: not within the limit
    connections_cut: int = 0


@dataclass
class Fault:
    """A named fault: `inject` does it and returns a note; `kind` groups faults in the table."""

    name: str
    kind: str
    service: str | None = None  # the service killed, if any
    outcomes: list[Outcome] = field(default_factory=list)


def schedule(store: str) -> list[Fault]:
    """nats-server killed three times (first, middle, last), each service killed once, and on
    PostgreSQL the services' connections cut."""
    faults = [
        Fault("kill nats-server #1", "nats-server SIGKILL"),
        Fault("kill coverage", "service SIGKILL", "coverage"),
        Fault("kill stations", "service SIGKILL", "stations"),
        Fault("kill nats-server #2", "nats-server SIGKILL"),
        Fault("kill training", "service SIGKILL", "training"),
        Fault("kill registry", "service SIGKILL", "registry"),
        Fault("kill nats-server #3", "nats-server SIGKILL"),
    ]
    if store == "postgresql":
        faults.insert(3, Fault("cut PostgreSQL connections", "pg_terminate_backend"))
    return faults


class Injector:
    """Injects faults into a running cluster and measures the recovery."""

    def __init__(
        self,
        cluster: Cluster,
        watch: Watch,
        registry: Registry,
        *,
        nats_outage: float = 1.0,
        mid_batch_wait: float = 15.0,
        recovery_limit: float = 600.0,
    ) -> None:
        self.cluster = cluster
        self.watch = watch
        self.registry = registry
        self.nats_outage = nats_outage
        self.mid_batch_wait = mid_batch_wait
        self.recovery_limit = recovery_limit

    async def _wait(self, condition: Callable[[], Awaitable[bool]], limit: float) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await condition():
                return True
            await asyncio.sleep(0.01)
        return False

    async def inject(
        self, fault: Fault, import_job: str | None
    ) -> tuple[Outcome, asyncio.Task[None]]:
        """Inject `fault` (mid-batch), and start timing its recovery in a task."""
        outcome = Outcome(fault.name)
        job_rows_at_fault: int | None = None
        snapshot: dict[str, Position | None] = {}
        if fault.service == "registry" or fault.kind == "pg_terminate_backend":
            job_rows_at_fault = await self._mid_import(outcome, import_job)
        elif fault.service is not None:
            snapshot = await self._holding(fault.service, outcome)
        # Where the consumers stood at the fault: the killed one's from its frozen state.
        positions = {**await self.watch.positions(), **snapshot}
        horizons = {name: p.delivered for name, p in positions.items() if p}
        outcome.at = time.monotonic()
        if fault.kind == "nats-server SIGKILL":
            self.cluster.nats.kill()
            await asyncio.sleep(self.nats_outage)
            await self.cluster.nats.start()
            outcome.note = f"down {self.nats_outage:.1f} s, restarted on its store"
        elif fault.kind == "pg_terminate_backend":
            outcome.connections_cut = await self.cluster.cut_postgres_connections()
            outcome.note += f"; {outcome.connections_cut} connections terminated"
        else:
            service = self.cluster.services[str(fault.service)]
            service.kill()
            service.start()
        fault.outcomes.append(outcome)
        task = asyncio.create_task(self._recovery(outcome, horizons, import_job, job_rows_at_fault))
        return outcome, task

    async def _holding(self, service: str, outcome: Outcome) -> dict[str, Position | None]:
        """Freeze the service (SIGSTOP) at a moment one of its consumers holds delivered,
        unacknowledged messages, so it dies holding them; the positions it is frozen at. With
        no such moment within `mid_batch_wait`, it is killed idle (and an empty dict)."""
        process = self.cluster.services[service]
        mine = [c for c in self.watch.consumers if c.service == service]

        async def positions() -> dict[str, Position | None]:
            found = await asyncio.gather(*(self.watch.position(c) for c in mine))
            return {c.name: p for c, p in zip(mine, found, strict=True)}

        def held(at: dict[str, Position | None]) -> dict[str, int]:
            return {name: p.ack_pending for name, p in at.items() if p and p.ack_pending}

        deadline = time.monotonic() + self.mid_batch_wait
        while time.monotonic() < deadline:
            if held(await positions()):
                process.pause()
                await asyncio.sleep(0.05)  # acks already on their way land
                frozen = await positions()
                if held(frozen):
                    outcome.note = "holding " + ", ".join(
                        f"{name}: {count} unacked" for name, count in held(frozen).items()
                    )
                    return frozen
                process.resume()
            await asyncio.sleep(0.01)
        outcome.note = f"no batch held within {self.mid_batch_wait:.0f} s: killed idle"
        return {}

    async def _mid_import(self, outcome: Outcome, import_job: str | None) -> int | None:
        """Wait for the import between chunks (it has rows done and rows to go); with no such
        moment, wait for the import to finish and kill during the API writes."""
        rows_done: int | None = None
        if import_job is not None:
            body = await self.registry.job(import_job)
            total = body["progress"]["rows_total"]

            async def mid_import() -> bool:
                nonlocal body, rows_done, total
                body = await self.registry.job(import_job)
                total = body["progress"]["rows_total"]
                rows_done = int(body["progress"]["rows_done"])
                return body["status"] == "running" and total is not None and 0 < rows_done < total

            async def finished() -> bool:
                status = (await self.registry.job(import_job))["status"]
                return status not in ("queued", "running")

            if await self._wait(mid_import, self.mid_batch_wait):
                outcome.note = f"import at {rows_done:,}/{total:,} rows"
                return rows_done
            await self._wait(finished, self.recovery_limit)
        outcome.note = "API writes in flight (no import in progress)"
        return None

    async def _recovery(
        self,
        outcome: Outcome,
        horizons: dict[str, int],
        import_job: str | None,
        job_rows_at_fault: int | None,
    ) -> None:
        deadline = outcome.at + self.recovery_limit
        while time.monotonic() < deadline:
            if await self._recovered(horizons, import_job, job_rows_at_fault):
                outcome.recovered_after = time.monotonic() - outcome.at
                return
            await asyncio.sleep(POLL)

    async def _recovered(
        self, horizons: dict[str, int], import_job: str | None, job_rows_at_fault: int | None
    ) -> bool:
        if not await self.cluster.all_ready():
            return False
        positions = await self.watch.positions()
        for name, horizon in horizons.items():
            position = positions.get(name)
            if position is None or not position.caught_up_to(horizon):
                return False
        if import_job is not None and job_rows_at_fault is not None:
            body = await self.registry.job(import_job)
            progressed = body["progress"]["rows_done"] > job_rows_at_fault
            if not progressed and body["status"] != "done":
                return False
        return True

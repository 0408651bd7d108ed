"""What every benchmark shares: options, timings, fresh stores and streams, the run over stores
and repetitions, and how a result table is printed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from deploy.local.run import REPO_ROOT
from libs.common.broker import redact_url, service_streams
from libs.common.settings import ServiceSettings
from tests.harness import POSTGRES_URL, NatsServer, free_port, postgres_available, postgres_database


@dataclass(frozen=True)
class BenchOptions:
    """The command line, as a benchmark sees it."""

    events: int | None = None  # None: each benchmark's own size
    repeats: int = 3
    batch_size: int | None = None  # None: the service default (ServiceSettings)
    stores: tuple[str, ...] = ("sqlite", "postgresql")

    def size(self, default: int) -> int:
        """The number of events (rows, organisations) to run: `--events`, or the default."""
        return self.events if self.events is not None else default


@dataclass
class Table:
    """A titled table of figures, printed with aligned columns, plus notes under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            # The first column (a name) is left-aligned, the figures right-aligned.
            parts = [
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "| " + " | ".join(parts) + " |"

        rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
        out = [self.title, rule, line(self.columns), rule]
        out += [line(row) for row in self.rows]
        out.append(rule)
        for note in self.notes:
            out += textwrap.wrap(note, width=100, initial_indent="  ", subsequent_indent="    ")
        return "\n".join(out)


Benchmark = Callable[[BenchOptions], Awaitable[list[Table]]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rate(value: float) -> str:
    """Events per second, grouped by thousands."""
    return "-" if value != value else f"{value:,.0f}"  # NaN: no figure


@dataclass
class Timing:
    """Wall-clock seconds of a phase and this process's CPU seconds in it (all threads)."""

    wall: float
    cpu: float


@dataclass
class Repetition:
    """One repetition: the raw client's phase and the measured component's, over `events`."""

    raw: Timing
    measured: Timing
    events: int
    problems: list[str] = field(default_factory=list)

    @property
    def raw_seconds(self) -> float:
        return self.raw.wall

    @property
    def measured_seconds(self) -> float:
        return self.measured.wall

    @property
    def raw_cpu_us(self) -> float:
        return self.raw.cpu / self.events * 1e6

    @property
    def measured_cpu_us(self) -> float:
        return self.measured.cpu / self.events * 1e6

    @property
    def raw_rate(self) -> float:
        return self.events / self.raw.wall if self.raw.wall > 0 else float("nan")

    @property
    def measured_rate(self) -> float:
        return self.events / self.measured.wall if self.measured.wall > 0 else float("nan")


def phase_timeout(events: int) -> float:
    """Generous: a slow machine must print a slow figure, not hang."""
    return max(60.0, events / 200)


@contextlib.asynccontextmanager
async def store(kind: str) -> AsyncIterator[str]:
    """A fresh, empty database of the kind; yields its SQLAlchemy async URL."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pb-bench-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}"
        return
    async with postgres_database() as url:
        yield url


async def drop_streams(js: JetStreamContext, settings: ServiceSettings) -> None:
    for spec in service_streams(settings):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(spec.name)


async def stream_messages(js: JetStreamContext, name: str) -> int:
    info = await js.stream_info(name)
    return int(info.state.messages)


RepetitionRun = Callable[[str, str, BenchOptions], Awaitable[Repetition]]


async def repeat_per_store(
    options: BenchOptions, label: str, repetition: RepetitionRun, table: Table
) -> dict[str, list[Repetition]]:
    """Run `repetition` `options.repeats` times per store on one nats-server of its own,
    printing each run; a store that cannot be reached gets a note in `table`."""
    results: dict[str, list[Repetition]] = {}
    server = NatsServer()
    server.start()
    try:
        for kind in options.stores:
            if kind == "postgresql" and not await postgres_available():
                table.notes.append(
                    f"postgresql: SKIPPED, {redact_url(POSTGRES_URL)} is not reachable "
                    "(set PB_TEST_POSTGRES_URL)"
                )
                continue
            runs = results.setdefault(kind, [])
            for i in range(options.repeats):
                rep = await repetition(kind, server.url, options)
                runs.append(rep)
                print(
                    f"  {kind} {i + 1}/{options.repeats}: raw {rate(rep.raw_rate)}/s "
                    f"({rep.raw_seconds:.2f} s), {label} {rate(rep.measured_rate)}/s "
                    f"({rep.measured_seconds:.2f} s)",
                    flush=True,
                )
                for problem in rep.problems:
                    print(f"  !!! {kind} {i + 1}/{options.repeats}: {problem}", flush=True)
    finally:
        server.close()
    return results


@dataclass(frozen=True)
class Figure:
    """One measured figure of the issue's table: the measured value beside its raw anchor (the
    same work done by a bare client, when there is one) and the floor it must meet."""

    figure_id: str  # a row of tests.bench.summary.ROWS
    measured: float
    anchor: float | None  # None: an absolute figure (seconds, ms, MB), no raw counterpart
    floor: float  # with an anchor: measured/anchor >= floor; without: measured < floor
    unit: str
    where: str = ""  # the store (and level) it was measured on

    @property
    def value(self) -> float:
        """What the floor is compared to: the ratio to the anchor, or the measured value."""
        if self.anchor is None:
            return self.measured
        return self.measured / self.anchor if self.anchor > 0 else float("nan")

    @property
    def met(self) -> bool:
        if self.anchor is None:
            return self.measured < self.floor
        return self.value >= self.floor  # False for NaN


#: The figures recorded in this run, in order; printed by `tests.bench.summary`.
FIGURES: list[Figure] = []


def record(
    figure_id: str,
    measured: float,
    anchor: float | None,
    floor: float,
    unit: str,
    where: str = "",
) -> None:
    """Record a figure for the summary `make bench` prints at the end (see `Figure`)."""
    FIGURES.append(Figure(figure_id, measured, anchor, floor, unit, where))


@dataclass
class ServiceProcess:
    """One process of a service (`python -m services.<service>`, role api, all or worker) as
    `make run` and deploy/ start it, on the bench's store and nats-server, its output in `log`."""

    service: str
    role: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls,
        service: str,
        role: str,
        url: str,
        nats_url: str,
        folder: Path,
        settings: Mapping[str, str] | None = None,
    ) -> ServiceProcess:
        """Started; `settings` are more of the service's own (`PB_<SERVICE>_<NAME>`)."""
        port = free_port()
        prefix = f"PB_{service.upper()}_"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PB_", "NATS_", "OTEL_"))}
        env.update(
            {
                "NATS_URL": nats_url,
                "PB_LOG_LEVEL": "WARNING",
                "PB_TRACING_EXPORTER": "none",
                "PYTHONUNBUFFERED": "1",
                f"{prefix}DATABASE_URL": url,
                f"{prefix}PORT": str(port),
                f"{prefix}ROLE": role,
                **{prefix + name: value for name, value in (settings or {}).items()},
            }
        )
        log = folder / f"{service}-{role}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    f"services.{service}",
                    *([role] if role in ("worker", "relay") else []),
                ],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        return cls(service, role, port, log, process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, http: httpx.AsyncClient, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} {self.role} exited: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.service} {self.role} not ready in {timeout:.0f} s")
            await asyncio.sleep(0.1)

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has had."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kb) / 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self) -> str:
        return " | ".join(self.log.read_text(errors="replace").splitlines()[-5:])


@contextlib.asynccontextmanager
async def processes_beside(
    service: str,
    roles: Sequence[str],
    url: str,
    nats_url: str,
    settings: Mapping[str, str] | None = None,
) -> AsyncIterator[list[ServiceProcess]]:
    """Processes of `service` (role worker, relay) on the store, as `make run` and deploy/ start
    them beside its main process: each ready (its /readyz answers 200) before the block, all
    stopped after it."""
    with tempfile.TemporaryDirectory(prefix=f"pb-bench-{service}-") as folder:
        started: list[ServiceProcess] = []
        try:
            for role in roles:
                started.append(
                    ServiceProcess.start(service, role, url, nats_url, Path(folder), settings)
                )
            async with httpx.AsyncClient(trust_env=False) as http:
                for process in started:
                    await process.ready(http)
            yield started
        finally:
            for process in started:
                process.stop()

"""Run the benchmarks and print their tables.

make bench
make bench ARGS='--only outbox_relay --events 5000 --repeats 1 --store sqlite'

Each benchmark runs in a Python process of its own (this module again, with `--result`), which
hands its tables and figures back in a file: a benchmark that serves a service in its own
process (the registry's import and writes) measured that service 1.2-2x slower per request after
other benchmarks had run in the same process (their objects, frozen or kept, and warmed caches
of other services), so a full run's figures depended on the order the benchmarks ran in.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import (
    coverage_employment,
    coverage_freshness,
    coverage_projection,
    inbox_consumer,
    joint_branch_proposals,
    outbox_relay,
    registry_import,
    registry_intake,
    registry_writes,
    stations_nearest,
    stations_requests,
    training_routine,
    training_study_hours,
)
from tests.bench.common import FIGURES, Benchmark, BenchOptions, Figure, Table
from tests.bench.summary import summary

#: Every benchmark `make bench` runs, by name.
BENCHMARKS: dict[str, Benchmark] = {
    outbox_relay.NAME: outbox_relay.run,
    inbox_consumer.NAME: inbox_consumer.run,
    registry_import.NAME: registry_import.run,
    registry_intake.NAME: registry_intake.run,
    registry_writes.NAME: registry_writes.run,
    coverage_projection.NAME: coverage_projection.run,
    coverage_freshness.NAME: coverage_freshness.run,
    coverage_employment.NAME: coverage_employment.run,
    joint_branch_proposals.NAME: joint_branch_proposals.run,
    stations_nearest.NAME: stations_nearest.run,
    stations_requests.NAME: stations_requests.run,
    training_routine.NAME: training_routine.run,
    training_study_hours.NAME: training_study_hours.run,
}

STORES = ("sqlite", "postgresql")


def parse(argv: list[str]) -> tuple[list[str], BenchOptions, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this (repeatable)"
    )
    parser.add_argument(
        "--events", type=int, default=None, help="events (rows, organisations) per run"
    )
    parser.add_argument(
        "--repeats", type=int, default=BenchOptions.repeats, help="repetitions (median printed)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="outbox_batch_size (default: the service's)"
    )
    parser.add_argument(
        "--store", action="append", choices=STORES, help="only this store (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    # The file a benchmark's own process hands its tables and figures back in (`run_apart`).
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(sorted(BENCHMARKS)))
        sys.exit(0)
    if (
        (args.events is not None and args.events < 1)
        or args.repeats < 1
        or (args.batch_size is not None and args.batch_size < 1)
    ):
        parser.error("--events, --repeats and --batch-size must be positive")
    options = BenchOptions(
        events=args.events,
        repeats=args.repeats,
        batch_size=args.batch_size,
        stores=tuple(args.store or STORES),
    )
    return list(args.only or BENCHMARKS), options, args.result


async def run_here(names: list[str], options: BenchOptions) -> list[Table]:
    """The benchmarks run in this process, one after another (their figures in `FIGURES`)."""
    tables: list[Table] = []
    for name in names:
        print(f"{name} ...", flush=True)
        started = time.perf_counter()
        tables += await BENCHMARKS[name](options)
        print(f"{name} done in {time.perf_counter() - started:.1f} s", flush=True)
    return tables


def child_argv(argv: list[str], name: str, result: Path) -> list[str]:
    """This run's arguments for one benchmark's own process: the same options, `--only name`,
    and where to hand its result back."""
    kept: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--only":
            next(args, None)
        elif not arg.startswith("--only="):
            kept.append(arg)
    return [*kept, "--only", name, "--result", str(result)]


def run_apart(names: list[str], argv: list[str]) -> tuple[list[Table], list[Figure], list[str]]:
    """Each benchmark in a process of its own, one after another: their tables, their figures,
    and the names of those whose process failed (its output says why)."""
    tables: list[Table] = []
    figures: list[Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as folder:
        for name in names:
            result = Path(folder) / f"{name}.pickle"
            command = [sys.executable, "-m", "tests.bench", *child_argv(argv, name, result)]
            if subprocess.run(command, check=False).returncode != 0 or not result.exists():
                failed.append(name)
                continue
            got_tables, got_figures = pickle.loads(result.read_bytes())
            tables += got_tables
            figures += got_figures
    return tables, figures, failed


def main(argv: list[str]) -> int:
    names, options, result = parse(argv)
    if result is not None:  # one benchmark's own process
        tables = asyncio.run(run_here(names, options))
        result.write_bytes(pickle.dumps((tables, FIGURES)))
        return 0
    tables, figures, failed = run_apart(names, argv)
    for table in tables:
        print()
        print(table.render())
    print()
    print(summary(figures, options.stores, names).render())
    if failed:
        print(f"\nFAILED (see their output above): {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

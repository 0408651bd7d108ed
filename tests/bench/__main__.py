"""Run the benchmarks and print their tables.

make bench
make bench ARGS='--only outbox_relay --events 5000 --repeats 1 --store sqlite'
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from tests.bench import (
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
from tests.bench.common import FIGURES, Benchmark, BenchOptions, Table
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
    joint_branch_proposals.NAME: joint_branch_proposals.run,
    stations_nearest.NAME: stations_nearest.run,
    stations_requests.NAME: stations_requests.run,
    training_routine.NAME: training_routine.run,
    training_study_hours.NAME: training_study_hours.run,
}

STORES = ("sqlite", "postgresql")


def parse(argv: list[str]) -> tuple[list[str], BenchOptions]:
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
    return list(args.only or BENCHMARKS), options


async def main(names: list[str], options: BenchOptions) -> None:
    tables: list[Table] = []
    for name in names:
        print(f"{name} ...", flush=True)
        started = time.perf_counter()
        tables += await BENCHMARKS[name](options)
        print(f"{name} done in {time.perf_counter() - started:.1f} s", flush=True)
    for table in tables:
        print()
        print(table.render())
    print()
    print(summary(FIGURES, options.stores, names).render())


if __name__ == "__main__":
    asyncio.run(main(*parse(sys.argv[1:])))

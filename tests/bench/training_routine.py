"""The daily routine judgement (三会一课) for 100,000 branches, on each store.

Produced (not timed): `--events` branches (default 100,000) in a fresh store at the head of the
training service's migrations, formed on 1 January 2025 and judged through 1 October 2026, of
which 5 % temporary and 20 % with a committee and Party groups; meetings for the fourth quarter
of 2026 (each branch holds each of its meetings with a seeded probability, 70-90 %).

Timed: `RoutineJudge.run_once` on 2 January 2027, as the worker runs it after the year closed:
every branch's October, November and December, its fourth quarter and its year 2026 judged, the
lapses stored and `pb.training.routine.lapsed.v1` written to the outbox, 2,000 branches per
transaction. Then a second round on the same day, which must find nothing.

Checks: the lapses stored equal the periods the generator left without a meeting.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select

from libs.common.db import Database
from libs.common.logging import configure_logging
from libs.common.migrations import upgrade_to_head
from libs.common.tables import outbox, utcnow
from services.training.app import definition
from services.training.settings import TrainingSettings
from services.training.store.tables import branch_routines, meetings, routine_lapses
from services.training.workers import RoutineJudge
from tests.bench.common import BenchOptions, Table, median, rate, store
from tests.harness import postgres_available

NAME = "training_routine"
DEFAULT_BRANCHES = 100_000
TODAY = date(2027, 1, 2)
MONTHS = (date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1))


@dataclass
class Run:
    store: str
    branches: int
    seconds: float
    second_round_seconds: float
    lapses: int
    expected_lapses: int
    outbox_events: int


def generate(branches: int) -> tuple[list[dict[str, object]], list[dict[str, object]], int]:
    """Branch rows, meeting rows, and the number of periods left without a meeting."""
    rng = random.Random(11)
    now = utcnow()
    rows: list[dict[str, object]] = []
    held: list[dict[str, object]] = []
    missed = 0
    for n in range(branches):
        kind = "temporary" if rng.random() < 0.05 else rng.choice(("standalone", "joint"))
        structured = kind != "temporary" and rng.random() < 0.2
        rows.append(
            {
                "branch_id": f"b-{n}",
                "version": 1,
                "kind": kind,
                "name": f"第{n}支部",
                "region_code": f"14{n % 11 + 1:02d}{n % 10 + 1:02d}{n % 13 + 1:03d}",
                "organization_ids": json.dumps([f"org-{n}"]),
                "formed_on": date(2025, 1, 1),
                "committee_since": date(2025, 1, 1) if structured else None,
                "groups_since": date(2025, 1, 1) if structured else None,
                "judged_through": date(2026, 10, 1),
                "updated_at": now,
            }
        )
        owed: list[tuple[str, date]] = [("members_meeting", date(2026, 11, 5))]
        owed += [("party_lecture", date(2026, 12, 10))]
        owed += [("theme_day", month.replace(day=8)) for month in MONTHS]
        if kind != "temporary":
            owed += [("life_meeting", date(2026, 12, 20)), ("appraisal", date(2026, 12, 21))]
        if structured:
            owed += [("committee_meeting", month.replace(day=3)) for month in MONTHS]
            owed += [("group_meeting", month.replace(day=4)) for month in MONTHS]
        keeps = rng.uniform(0.7, 0.9)
        for meeting_type, day in owed:
            if rng.random() < keeps:
                held.append(
                    {
                        "id": f"m-{n}-{meeting_type}-{day.isoformat()}",
                        "branch_id": f"b-{n}",
                        "meeting_type": meeting_type,
                        "held_on": day,
                        "topic": "学习",
                        "entitled": 10,
                        "present": 8,
                        "recorded_at": now,
                    }
                )
            else:
                missed += 1
    return rows, held, missed


async def one_run(kind: str, branches: int) -> Run:
    rows, held, missed = generate(branches)
    async with store(kind) as url:
        settings = TrainingSettings(database_url=url, routine_batch_size=2000)
        db = Database(url, source="/pb/training-bench")
        try:
            await upgrade_to_head(db, definition(settings).migrations)
            async with db.sessions() as session, session.begin():
                for i in range(0, len(rows), 5000):
                    await session.execute(insert(branch_routines), rows[i : i + 5000])
                for i in range(0, len(held), 5000):
                    await session.execute(insert(meetings), held[i : i + 5000])
            judge = RoutineJudge(db, settings)
            started = time.perf_counter()
            judged = await judge.run_once(TODAY)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            again = await judge.run_once(TODAY)
            second = time.perf_counter() - started
            async with db.read() as session:
                lapses = (
                    await session.execute(select(func.count()).select_from(routine_lapses))
                ).scalar_one()
                events = (
                    await session.execute(select(func.count()).select_from(outbox))
                ).scalar_one()
            assert judged == branches, f"judged {judged} of {branches}"
            assert again == 0, f"a second round judged {again}"
            return Run(kind, branches, seconds, second, int(lapses), missed, int(events))
        finally:
            await db.dispose()


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service="training")
    branches = options.size(DEFAULT_BRANCHES)
    notes: list[str] = []
    results: dict[str, list[Run]] = {}
    for kind in options.stores:
        if kind == "postgresql" and not await postgres_available():
            notes.append("postgresql: SKIPPED, not reachable")
            continue
        for i in range(options.repeats):
            r = await one_run(kind, branches)
            results.setdefault(kind, []).append(r)
            print(
                f"  {kind} {i + 1}/{options.repeats}: {r.seconds:.2f} s "
                f"({rate(r.branches / r.seconds)} branches/s), lapses {r.lapses:,}",
                flush=True,
            )
    table = Table(
        title=f"training routine: the daily judgement of {branches:,} branches (median)",
        columns=[
            "store",
            "branches",
            "judgement s",
            "branches/s",
            "lapses (= generated)",
            "outbox events",
            "next round s",
        ],
        notes=notes,
    )
    for kind, runs in results.items():
        seconds = median([r.seconds for r in runs])
        last = runs[-1]
        ok = "yes" if all(r.lapses == r.expected_lapses == r.outbox_events for r in runs) else "NO"
        table.rows.append(
            [
                kind,
                f"{branches:,}",
                f"{seconds:.2f}",
                rate(branches / seconds),
                f"{last.lapses:,} ({ok})",
                f"{last.outbox_events:,}",
                f"{median([r.second_round_seconds for r in runs]):.3f}",
            ]
        )
    return [table]

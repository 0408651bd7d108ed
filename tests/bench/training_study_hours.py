"""Study-hours compliance for a province of 1,000,000 members, on each store.

Produced (not timed): `--events` learners (default 1,000,000) across 11 cities, 10 counties each
and 13 townships per county, 92 % members, 5 % branch secretaries, 3 % committee members, each
with the year's class hours in `study_totals` as attendance and external study leave them
(normal around the requirement; 10 % nothing at all), written with executemany.

Timed (median of `--repeats`): `GET /v1/study-hours`'s query (`StudyRepository.compliance`: how
many meet the requirement, the hours short, the 100 furthest short) for the whole province, a
city, a county and a township.

Checks: the province's members and those meeting the requirement equal the generator's counts.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert

from libs.common.db import Database
from libs.common.logging import configure_logging
from libs.common.migrations import upgrade_to_head
from libs.common.tables import utcnow
from services.training.app import definition
from services.training.domain.courses import StudyRules
from services.training.settings import TrainingSettings
from services.training.store.tables import learners, study_totals
from services.training.store.uow import TrainingUnitOfWork
from tests.bench.common import BenchOptions, Table, median, store
from tests.harness import postgres_available

NAME = "training_study_hours"
DEFAULT_MEMBERS = 1_000_000
YEAR = 2026
RULES = StudyRules()
LEVELS = {"province": "14", "city": "1401", "county": "140101", "township": "140101001"}


@dataclass
class Run:
    store: str
    members: int
    meeting: int
    expected_meeting: int
    load_seconds: float
    seconds: dict[str, list[float]] = field(default_factory=dict)


def generate(members: int) -> tuple[list[dict[str, object]], list[dict[str, object]], int]:
    rng = random.Random(7)
    now = utcnow()
    people: list[dict[str, object]] = []
    totals: list[dict[str, object]] = []
    meeting = 0
    for n in range(members):
        u = rng.random()
        role = "member" if u < 0.92 else "secretary" if u < 0.97 else "committee_member"
        county = n % 110
        region = f"14{county // 10 + 1:02d}{county % 10 + 1:02d}{(n // 110) % 13 + 1:03d}"
        learner_id = str(uuid.UUID(int=rng.getrandbits(128)))
        people.append(
            {
                "id": learner_id,
                "region_code": region,
                "id_hash": f"{n:064x}",
                "id_masked": "140101********0000",
                "name_masked": "张**",
                "role": role,
                "branch_id": f"b-{n // 30}",
                "organization_id": None,
                "created_at": now,
            }
        )
        required = RULES.required(role)
        if rng.random() < 0.1:
            continue
        hours = max(0.5, round(rng.gauss(required + 4, 12) * 2) / 2)
        meeting += hours >= required
        totals.append(
            {
                "learner_id": learner_id,
                "year": YEAR,
                "region_code": region,
                "role": role,
                "hours": hours,
            }
        )
    return people, totals, meeting


async def one_run(kind: str, members: int, repeats: int) -> Run:
    people, totals, meeting = generate(members)
    async with store(kind) as url:
        db = Database(url, source="/pb/training-bench")
        try:
            await upgrade_to_head(db, definition(TrainingSettings(database_url=url)).migrations)
            started = time.perf_counter()
            for table, rows in ((learners, people), (study_totals, totals)):
                for i in range(0, len(rows), 20_000):
                    async with db.sessions() as session, session.begin():
                        await session.execute(insert(table), rows[i : i + 20_000])
            load = time.perf_counter() - started
            if kind == "postgresql":
                async with db.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")
            result = Run(kind, 0, 0, meeting, load)
            for _ in range(repeats):
                for level, region in LEVELS.items():
                    async with TrainingUnitOfWork(db, readonly=True) as uow:
                        started = time.perf_counter()
                        found, meets, _, short = await uow.study.compliance(
                            region, YEAR, RULES, limit=100
                        )
                        result.seconds.setdefault(level, []).append(time.perf_counter() - started)
                    if level == "province":
                        result.members, result.meeting = found, meets
                        assert len(short) == min(100, found - meets)
            return result
        finally:
            await db.dispose()


async def run(options: BenchOptions) -> list[Table]:
    configure_logging(level="WARNING", fmt="console", service="training")
    members = options.size(DEFAULT_MEMBERS)
    table = Table(
        title=f"training study hours: compliance of a region, {members:,} members in the "
        f"province (median of {options.repeats}, ms)",
        columns=["store", "load s", *LEVELS, "members / meeting (= generated)"],
    )
    for kind in options.stores:
        if kind == "postgresql" and not await postgres_available():
            table.notes.append("postgresql: SKIPPED, not reachable")
            continue
        r = await one_run(kind, members, options.repeats)
        print(
            f"  {kind}: loaded in {r.load_seconds:.1f} s, province "
            f"{median(r.seconds['province']) * 1000:.0f} ms",
            flush=True,
        )
        ok = "yes" if r.members == members and r.meeting == r.expected_meeting else "NO"
        table.rows.append(
            [
                kind,
                f"{r.load_seconds:.1f}",
                *(f"{median(r.seconds[level]) * 1000:.0f}" for level in LEVELS),
                f"{r.members:,} / {r.meeting:,} ({ok})",
            ]
        )
    return [table]

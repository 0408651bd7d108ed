"""An in-memory coverage unit of work: small fakes of the repositories the target and snapshot
use cases need, and the events they record kept in a list. No database, no NATS."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from libs.common.events import Envelope, IntegrationEvent
from services.coverage.domain.rates import Area, Counts
from services.coverage.domain.rollups import COUNTERS
from services.coverage.domain.targets import Standing, Target
from services.coverage.store.projection import ProjectionRepository
from services.coverage.store.rollups import RollupRepository
from services.coverage.store.targets import TargetRepository
from services.coverage.store.uow import CoverageUnitOfWork


def counts(**named: int) -> Counts:
    """Roll-up counters by name (`with_members_in_scope=4, with_members_covered=1`), else 0."""
    unknown = set(named) - set(COUNTERS)
    assert not unknown, f"not counters: {unknown}"
    return Counts(tuple(named.get(name, 0) for name in COUNTERS))


class FakeTargets(TargetRepository):
    """Targets by id, with their standing and the day they were judged (None: not yet)."""

    def __init__(self, *stored: tuple[Target, Standing]) -> None:
        self.rows: dict[str, tuple[Target, Standing, date | None]] = {
            target.id: (target, standing, None) for target, standing in stored
        }
        self.set_by: dict[str, str] = {}

    def standing_of(self, target: Target) -> Standing:
        return self.rows[target.id][1]

    def judged_on(self, target: Target) -> date | None:
        return self.rows[target.id][2]

    async def put(self, target: Target, standing: Standing, set_by: str) -> None:
        self.rows[target.id] = (target, standing, None)
        self.set_by[target.id] = set_by

    async def regions(self) -> frozenset[str]:
        return frozenset(target.region_code for target, _, _ in self.rows.values())

    async def in_regions(self, regions: Iterable[str]) -> list[tuple[Target, Standing]]:
        wanted = set(regions)
        return [(t, s) for t, s, _ in self._sorted() if t.region_code in wanted]

    async def due_unjudged(self, today: date) -> list[Target]:
        return [t for t, _, judged in self._sorted() if t.due_on < today and judged is None]

    async def mark_judged(self, judged: list[Target], today: date) -> None:
        for target in judged:
            stored, standing, _ = self.rows[target.id]
            self.rows[target.id] = (stored, standing, today)

    async def set_standings(self, changed: list[tuple[Target, Standing]]) -> None:
        for target, standing in changed:
            stored, _, judged = self.rows[target.id]
            self.rows[target.id] = (stored, standing, judged)

    def _sorted(self) -> list[tuple[Target, Standing, date | None]]:
        return [self.rows[key] for key in sorted(self.rows)]


class FakeRollups(RollupRepository):
    """Each area's summed counters, and the snapshots taken of them by day."""

    def __init__(self, totals: dict[Area, Counts] | None = None) -> None:
        self.counts: dict[Area, Counts] = dict(totals or {})
        self.snapshots: dict[date, tuple[datetime, dict[Area, Counts]]] = {}

    async def totals(self, areas: Iterable[Area]) -> dict[Area, Counts]:
        return {area: self.counts.get(area, Counts()) for area in sorted(set(areas))}

    async def has_snapshot(self, taken_on: date) -> bool:
        return taken_on in self.snapshots

    async def take_snapshot(self, taken_on: date, taken_at: datetime) -> int:
        self.snapshots[taken_on] = (taken_at, dict(self.counts))
        return len(self.counts)


class FakeCalendar(ProjectionRepository):
    """The projection's day only, and the organisations with a dated link on each day."""

    def __init__(self, day: date | None = None) -> None:
        self.day = day
        self.dated: dict[date, set[str]] = {}

    async def stored_projection_day(self) -> date | None:
        return self.day

    async def projection_day(self, *, lock: bool = True, exclusive: bool = False) -> date:
        assert self.day is not None
        return self.day

    async def set_projection_day(self, day: date) -> None:
        self.day = day

    async def start_calendar(self, day: date) -> None:
        self.day = self.day or day

    async def organizations_with_boundaries(self, first: date, last: date) -> set[str]:
        return {org for day, orgs in self.dated.items() if first <= day <= last for org in orgs}


class FakeUnitOfWork(CoverageUnitOfWork):
    """`uow.targets` and `uow.rollups` in memory; `record` keeps the events in `events`."""

    def __init__(
        self, targets: FakeTargets | None = None, rollups: FakeRollups | None = None
    ) -> None:
        # no database: nothing here opens a session
        self.readonly = False
        self._fake_targets = targets or FakeTargets()
        self._fake_rollups = rollups or FakeRollups()
        self._fake_calendar = FakeCalendar()
        self.events: list[IntegrationEvent] = []

    @property
    def targets(self) -> FakeTargets:
        return self._fake_targets

    @property
    def rollups(self) -> FakeRollups:
        return self._fake_rollups

    @property
    def projection(self) -> FakeCalendar:
        return self._fake_calendar

    def record(self, event: IntegrationEvent) -> Envelope:
        self.events.append(event)
        return Envelope.wrap(event, source="/pb/coverage-unit-test")

    def record_many(self, events: Iterable[IntegrationEvent]) -> None:
        self.events.extend(events)

"""Targets in memory: setting one, crossings announced, overdue targets judged once."""

from __future__ import annotations

from datetime import date

from services.coverage.domain.rates import Counts
from services.coverage.domain.targets import Standing, Target
from services.coverage.events import TargetMissedV1, TargetOverdueV1, TargetReachedV1
from services.coverage.service.targets import evaluate_targets, judge_due_targets, put_target
from tests.coverage.unit.fakes import FakeRollups, FakeTargets, FakeUnitOfWork, counts

REGION = "140212"
OTHER = "140213"
DUE = date(2026, 12, 31)


def half(region: str = REGION, due_on: date = DUE) -> Target:
    """Half the organisations with members covered by `due_on`."""
    return Target(region, "organization", "with_members", due_on, 5000)


def covered(of_four: int) -> Counts:
    return counts(with_members_in_scope=4, with_members_covered=of_four)


def unit_of_work(*stored: tuple[Target, Standing], now: Counts | None = None) -> FakeUnitOfWork:
    rollups = FakeRollups({(REGION, ""): now} if now is not None else {})
    return FakeUnitOfWork(FakeTargets(*stored), rollups)


async def test_a_target_set_records_where_the_region_stands_without_news() -> None:
    uow = unit_of_work(now=covered(3))
    standing, current = await put_target(uow, half(), "officer-1")
    assert standing == "reached"
    assert (current.covered, current.in_scope, current.rate) == (3, 4, 0.75)
    assert uow.targets.standing_of(half()) == "reached"
    assert uow.targets.set_by[half().id] == "officer-1"
    assert uow.events == []


async def test_a_target_of_a_region_with_nothing_in_scope_stands_unknown() -> None:
    uow = unit_of_work()
    standing, current = await put_target(uow, half(), "officer-1")
    assert standing == "unknown"
    assert current.rate is None


async def test_coming_up_to_a_target_is_announced_as_reached() -> None:
    uow = unit_of_work((half(), "below"), now=covered(2))
    await evaluate_targets(uow, {REGION})
    (event,) = uow.events
    assert isinstance(event, TargetReachedV1)
    assert event.target_id == f"{REGION}/organization/with_members/2026-12-31"
    assert (event.covered, event.in_scope, event.rate, event.target_rate) == (2, 4, 0.5, 0.5)
    assert uow.targets.standing_of(half()) == "reached"


async def test_falling_back_below_a_reached_target_is_announced_as_missed() -> None:
    uow = unit_of_work((half(), "reached"), now=covered(1))
    await evaluate_targets(uow, {REGION})
    (event,) = uow.events
    assert isinstance(event, TargetMissedV1)
    assert event.rate == 0.25
    assert uow.targets.standing_of(half()) == "below"


async def test_a_standing_that_changes_without_crossing_is_remembered_quietly() -> None:
    uow = unit_of_work((half(), "unknown"), now=covered(1))
    await evaluate_targets(uow, {REGION})
    assert uow.events == []
    assert uow.targets.standing_of(half()) == "below"


async def test_regions_without_targets_change_nothing() -> None:
    uow = unit_of_work((half(), "below"), now=covered(4))
    await evaluate_targets(uow, {OTHER})
    assert uow.events == []
    assert uow.targets.standing_of(half()) == "below"


async def test_a_passed_due_date_below_target_is_judged_overdue_once() -> None:
    passed = half(due_on=date(2026, 11, 1))
    met = half(region=OTHER)
    later = half(due_on=date(2027, 6, 30))
    uow = FakeUnitOfWork(
        FakeTargets((passed, "below"), (met, "reached"), (later, "below")),
        FakeRollups({(REGION, ""): covered(1), (OTHER, ""): covered(4)}),
    )
    new_year = date(2027, 1, 1)

    assert await judge_due_targets(uow, new_year) == 2
    (event,) = uow.events  # a target met by its due date needs no news
    assert isinstance(event, TargetOverdueV1)
    assert event.target_id == passed.id
    assert (event.rate, event.judged_on) == (0.25, new_year)
    assert uow.targets.judged_on(passed) == uow.targets.judged_on(met) == new_year
    assert uow.targets.judged_on(later) is None

    assert await judge_due_targets(uow, date(2027, 1, 2)) == 0
    assert len(uow.events) == 1


async def test_setting_a_judged_target_again_makes_it_due_for_judging_again() -> None:
    passed = half(due_on=date(2026, 11, 1))
    uow = unit_of_work((passed, "below"), now=covered(1))
    assert await judge_due_targets(uow, date(2027, 1, 1)) == 1
    await put_target(uow, passed, "officer-2")
    assert await judge_due_targets(uow, date(2027, 1, 2)) == 1
    assert [type(e) for e in uow.events] == [TargetOverdueV1, TargetOverdueV1]

"""Coverage targets: set one, list a region's, and announce when a region crosses one or is
still below it after its due date."""

from __future__ import annotations

from collections.abc import Set
from datetime import date
from typing import Any

from libs.common.tables import utcnow
from services.coverage.domain.rates import Coverage
from services.coverage.domain.targets import Standing, Target, crossing, standing
from services.coverage.events import TargetMissedV1, TargetOverdueV1, TargetReachedV1
from services.coverage.store.uow import CoverageUnitOfWork


def target_figures(target: Target, current: Coverage) -> dict[str, Any]:
    """The fields every target event carries (`TargetFigures`)."""
    return {
        "target_id": target.id,
        "region_code": target.region_code,
        "metric": target.metric,
        "scope": target.scope,
        "target_rate": target.rate,
        "due_on": target.due_on,
        "covered": current.covered,
        "in_scope": current.in_scope,
        "rate": current.rate,
    }


async def put_target(
    uow: CoverageUnitOfWork, target: Target, set_by: str
) -> tuple[Standing, Coverage]:
    """Set (or change) a target; where the region stands now is recorded without an event:
    events announce crossings that happen after."""
    area = (target.region_code, "")
    now = (await uow.rollups.totals([area]))[area].coverage(target.metric, target.scope)
    now_standing = standing(target, now.covered, now.in_scope)
    await uow.targets.put(target, now_standing, set_by)
    return now_standing, now


async def targets_of(
    uow: CoverageUnitOfWork, region_code: str
) -> list[tuple[Target, Standing, Coverage]]:
    """A region's targets, where it stands against each and its current rate for each."""
    found = await uow.targets.in_regions([region_code])
    area = (region_code, "")
    totals = (await uow.rollups.totals([area]))[area]
    return [(t, s, totals.coverage(t.metric, t.scope)) for t, s in found]


async def evaluate_targets(uow: CoverageUnitOfWork, regions: Set[str]) -> None:
    """After a batch: record pb.coverage.target.reached / .missed for each target whose region
    crossed it, and remember where each now stands."""
    # the regions with targets are read once per transaction: a batch's runs of events cost no
    # query when none of their regions has a target
    regions = regions & await uow.targets.regions()
    if not regions:
        return
    found = await uow.targets.in_regions(regions)
    totals = await uow.rollups.totals((t.region_code, "") for t, _ in found)
    changed: list[tuple[Target, Standing]] = []
    now = utcnow()
    for target, before in found:
        current = totals[(target.region_code, "")].coverage(target.metric, target.scope)
        after = standing(target, current.covered, current.in_scope)
        if after == before:
            continue
        changed.append((target, after))
        news = crossing(before, after)
        if news is not None:
            event = TargetReachedV1 if news == "reached" else TargetMissedV1
            uow.record(event(**target_figures(target, current), crossed_at=now))
    await uow.targets.set_standings(changed)


async def evaluate_all_targets(uow: CoverageUnitOfWork) -> None:
    """Every target against the roll-ups as they are now (after a rebuild)."""
    await evaluate_targets(uow, await uow.targets.regions())


async def judge_due_targets(uow: CoverageUnitOfWork, today: date) -> int:
    """Once per target, after its due date: pb.coverage.target.overdue when the region is still
    below it (a target met by then needs no news: `reached` was said when it was). Returns how
    many targets were judged; setting a target again makes it due for judging again."""
    due = await uow.targets.due_unjudged(today)
    if not due:
        return 0
    totals = await uow.rollups.totals((t.region_code, "") for t in due)
    for target in due:
        current = totals[(target.region_code, "")].coverage(target.metric, target.scope)
        if standing(target, current.covered, current.in_scope) == "below":
            uow.record(TargetOverdueV1(**target_figures(target, current), judged_on=today))
    await uow.targets.mark_judged(due, today)
    return len(due)

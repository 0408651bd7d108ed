"""pb.coverage.rates.changed, debounced: one per region whose figures changed in a window."""

from __future__ import annotations

from datetime import datetime

from libs.common.tables import utcnow
from libs.common.tracing import continuing
from services.coverage.domain.facts import DEFAULT_ORGANIZATION_SCOPE, DEFAULT_WORK_SCOPE
from services.coverage.domain.rates import Area, Counts
from services.coverage.events import RatesChangedV1
from services.coverage.store.uow import CoverageUnitOfWork


async def announce_changed_rates(uow: CoverageUnitOfWork, limit: int = 5_000) -> int:
    """One pb.coverage.rates.changed per region whose figures changed since the last round;
    the worker calls this once per window, so a region is announced at most once per window."""
    pending = await uow.rollups.pending_changes(limit)
    if not pending:
        return 0
    totals = await uow.rollups.totals(pending)
    now = utcnow()
    for area, counts in totals.items():
        # in the trace of the change that moved the figures: followed back to its registry write
        with continuing(pending[area].traceparent):
            uow.record(_rates_changed(area, counts, now))
    await uow.rollups.forget_changes(pending)
    return len(pending)


def _rates_changed(area: Area, counts: Counts, now: datetime) -> RatesChangedV1:
    organization = counts.coverage("organization", DEFAULT_ORGANIZATION_SCOPE)
    standalone = counts.coverage("standalone", DEFAULT_ORGANIZATION_SCOPE)
    work = counts.coverage("work", DEFAULT_WORK_SCOPE)
    effective = counts.effective(DEFAULT_ORGANIZATION_SCOPE)
    return RatesChangedV1(
        region_code=area[0],
        area_id=area[1],
        as_of=now,
        organization_scope=organization.scope,
        organization_covered=organization.covered,
        organization_in_scope=organization.in_scope,
        organization_rate=organization.rate,
        standalone_covered=standalone.covered,
        standalone_rate=standalone.rate,
        work_scope=work.scope,
        work_covered=work.covered,
        work_in_scope=work.in_scope,
        work_rate=work.rate,
        temporary_covered=counts.temporary(DEFAULT_ORGANIZATION_SCOPE).covered,
        effective_covered=effective.covered,
        effective_rate=effective.rate,
    )

"""The projection moved on to a new day: what starts or ends in between is flipped, and the
roll-ups, pb.coverage.rates.changed and the targets follow."""

from __future__ import annotations

from datetime import date

from libs.common.calendar import local_today
from services.coverage.domain.calendar import boundary_days
from services.coverage.domain.routine import quarters_changed
from services.coverage.service.projection import Projector
from services.coverage.store.uow import CoverageUnitOfWork


async def advance_day(uow: CoverageUnitOfWork, today: date) -> int | None:
    """Evaluate the dated facts as of `today`: the organisations with a branch, an assignment or
    a mass organisation starting or ending between the projection's day and today (and, when the
    last full quarter changes, those whose branch has a lapse in either quarter) are counted
    again, and today becomes the projection's day. Catches up over any number of days (after
    downtime) in one step; returns how many organisations were counted again, None when the
    projection was already at today."""
    stored = await uow.projection.stored_projection_day()
    if stored is None:
        # what the consumer evaluated at before any day was stored; inserted first so that two
        # workers starting together take turns on the row (the second then finds today)
        await uow.projection.start_calendar(local_today())
        stored = await uow.projection.stored_projection_day()
    if stored == today:
        return None
    was = stored or local_today()
    recounted = 0
    if was != today:
        first, last = boundary_days(was, today)
        ids = await uow.projection.organizations_with_boundaries(first, last)
        quarters = quarters_changed(was, today)
        if quarters is not None:  # the last full quarter moved on: effective coverage flips
            ids |= await uow.projection.organizations_with_lapses(*quarters)
        projector = Projector(uow, day=today)
        projector.recount(ids)
        await projector.flush()
        recounted = len(ids)
    await uow.projection.set_projection_day(today)
    return recounted

"""Training's routine judgements for coverage tests, made with the training service's own event
classes (publish them with `ProducerStream.on(url, "training")`)."""

from __future__ import annotations

from datetime import date

from services.training.events import RoutineLapsedV1, RoutineRestoredV1


def _period(period: str) -> tuple[str, date, date]:
    """(frequency, first day, last day) of `2026-08` (a month) or `2026-Q3` (a quarter)."""
    year, _, rest = period.partition("-")
    if rest.startswith("Q"):
        first_month = 3 * (int(rest[1]) - 1) + 1
        start = date(int(year), first_month, 1)
        end_month = first_month + 2
        frequency = "quarter"
    else:
        start = date(int(year), int(rest), 1)
        end_month = int(rest)
        frequency = "month"
    following = date(int(year) + end_month // 12, end_month % 12 + 1, 1)
    return frequency, start, date.fromordinal(following.toordinal() - 1)


def lapsed(branch_id: str, period: str, *org_ids: str) -> RoutineLapsedV1:
    frequency, starts_on, ends_on = _period(period)
    return RoutineLapsedV1(
        branch_id=branch_id,
        region_code="140212",
        organization_ids=list(org_ids),
        obligation="party_lecture" if frequency == "quarter" else "committee_meeting",
        frequency=frequency,
        period=period,
        period_starts_on=starts_on,
        period_ends_on=ends_on,
        judged_on=date.fromordinal(ends_on.toordinal() + 1),
    )


def restored(event: RoutineLapsedV1, held_on: date, *, period_met: bool) -> RoutineRestoredV1:
    values = event.model_dump(exclude={"judged_on"})
    return RoutineRestoredV1(
        **values,
        meeting_id=f"m-{event.branch_id}-{held_on}",
        held_on=held_on,
        period_met=period_met,
    )

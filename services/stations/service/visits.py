"""Use cases of visits: scanned check-ins, daily counts, figures, and the daily announcement."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from libs.common.audit import Actor
from libs.common.calendar import SHANGHAI, local_today
from libs.common.tables import utcnow
from services.stations.domain.stations import Station, StationNotFound, station_rule
from services.stations.domain.visits import (
    UnknownVisitor,
    Visit,
    VisitFigures,
    check_count_day,
    check_period,
    days,
    station_figures,
)
from services.stations.events import VisitsCountedV1
from services.stations.store.uow import StationsUnitOfWork

#: The name under which the daily announcement keeps how far it has got.
COUNTED_MARK = "visits.counted"
#: How many missed days the announcement catches up at most (after a long stop).
CATCH_UP_DAYS = 31


async def _station(uow: StationsUnitOfWork, station_id: str) -> Station:
    station = await uow.stations.get(station_id)
    if station is None:
        raise StationNotFound(station_id)
    return station


async def check_in_visit(
    uow: StationsUnitOfWork, station_id: str, *, worker_id: str | None, at: datetime | None
) -> datetime:
    """A scanned check-in (the station's code); counted in the day's figure, never announced
    one by one."""
    station = await _station(uow, station_id)
    moment = at or utcnow()
    local = moment.astimezone(SHANGHAI)
    if not station.is_open_on(local.date()):
        raise station_rule("station_open", "the station was not open that day")
    if worker_id is not None and await uow.workers.get(worker_id) is None:
        raise UnknownVisitor()
    await uow.visits.add(
        station_id=station.id,
        region_code=station.region_code,
        worker_id=worker_id,
        at=moment,
        day=local.date(),
        hour=local.hour,
    )
    return moment


async def visits_of(
    uow: StationsUnitOfWork,
    station_id: str,
    *,
    since: date | None,
    until: date | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Visit]:
    """A page of a station's check-ins, newest first."""
    return await uow.visits.page_of(station_id, since=since, until=until, after=after, limit=limit)


async def put_count(
    uow: StationsUnitOfWork, actor: Actor, station_id: str, day: date, count: int
) -> None:
    """The station's own count of a day; a day already announced is announced again."""
    station = await _station(uow, station_id)
    check_count_day(day, station.opened_on, local_today())
    now = utcnow()
    await uow.visits.put_count(
        station_id=station.id, region_code=station.region_code, day=day, count=count, at=now
    )
    await uow.audit.record(
        actor,
        "visits.count_entered",
        entity_type="station",
        entity_id=station.id,
        region_code=station.region_code,
        changes={"day": day.isoformat(), "count": count},
    )
    mark = await uow.visits.mark(COUNTED_MARK)
    if mark is not None and day <= mark:
        scanned = (await uow.visits.scanned_by_day(station.id, day, day)).get(day, 0)
        uow.record(
            VisitsCountedV1(
                station_id=station.id,
                region_code=station.region_code,
                day=day,
                visits=count,
                scanned=scanned,
                entered=count,
            )
        )


async def figures(
    uow: StationsUnitOfWork, station: Station, since: date, until: date
) -> VisitFigures:
    check_period(since, until)
    return station_figures(
        since,
        until,
        [d for d in days(since, until) if station.is_open_on(d)],
        await uow.visits.scanned_by_day(station.id, since, until),
        await uow.visits.entered_by_day(station.id, since, until),
        await uow.visits.hours(station.id, since, until),
    )


async def region_figures(
    uow: StationsUnitOfWork, region_code: str, since: date, until: date
) -> tuple[int, int, float]:
    """(total visits, stations counted, daily average) of a region subtree over a period."""
    check_period(since, until)
    scanned, entered = await uow.visits.day_in_region(region_code, since, until)
    keys = set(scanned) | set(entered)
    total = sum(entered.get(k, scanned.get(k, 0)) for k in keys)
    stations = len({station for station, _ in keys})
    return total, stations, round(total / len(days(since, until)), 2)


async def announce_counted_days(uow: StationsUnitOfWork, now: datetime | None = None) -> int:
    """`visits.counted` for each station with visits on each day not yet announced, up to
    yesterday (Asia/Shanghai); the mark moves in the same transaction. Returns events."""
    yesterday = local_today(now) - timedelta(days=1)
    mark = await uow.visits.mark(COUNTED_MARK)
    start = max(
        (mark + timedelta(days=1)) if mark else yesterday,
        yesterday - timedelta(days=CATCH_UP_DAYS - 1),
    )
    announced = 0
    for day in days(start, yesterday) if start <= yesterday else []:
        for station_id, (region, scanned, entered) in (
            await uow.visits.stations_active_on(day)
        ).items():
            uow.record(
                VisitsCountedV1(
                    station_id=station_id,
                    region_code=region,
                    day=day,
                    visits=entered if entered is not None else scanned,
                    scanned=scanned,
                    entered=entered,
                )
            )
            announced += 1
    if start <= yesterday:
        await uow.visits.set_mark(COUNTED_MARK, yesterday)
    return announced

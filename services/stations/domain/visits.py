"""Visits to stations: scanned check-ins and the daily counts a station enters, daily averages
(日均) over a period and the busiest hours.

A day's figure is the count the station entered for it when there is one (it counts walk-ins
nobody scanned), else the number of scanned check-ins. A station's daily average is over the
days of the period it was open (between its opening and closing dates); a region's is the sum of
its stations' figures over the days of the period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from libs.common.refusals import Invalid, RuleBroken

#: The longest period a figure is asked for at once.
MAX_PERIOD_DAYS = 366


class UnknownVisitor(Invalid):
    """A check-in names a worker the service does not hold."""

    def __init__(self) -> None:
        super().__init__("worker_id", "no such worker")


def check_period(since: date, until: date) -> None:
    if until < since:
        raise Invalid("to", "the period ends before it starts")
    if (until - since).days >= MAX_PERIOD_DAYS:
        raise Invalid("to", f"a period is at most {MAX_PERIOD_DAYS} days")


def check_count_day(day: date, opened_on: date, today: date) -> None:
    if day > today:
        raise RuleBroken("count_day", "a day's count cannot be entered before the day")
    if day < opened_on:
        raise RuleBroken("count_day", "the station was not open on that day")


def days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


@dataclass(frozen=True)
class Visit:
    """One scanned check-in at a station."""

    id: int
    station_id: str
    worker_id: str | None
    at: datetime


@dataclass(frozen=True)
class DayFigure:
    day: date
    visits: int
    scanned: int
    entered: int | None


def day_figures(
    since: date, until: date, scanned: Mapping[date, int], entered: Mapping[date, int]
) -> list[DayFigure]:
    return [
        DayFigure(d, entered.get(d, scanned.get(d, 0)), scanned.get(d, 0), entered.get(d))
        for d in days(since, until)
    ]


@dataclass(frozen=True)
class VisitFigures:
    since: date
    until: date
    open_days: int
    total: int
    daily_average: float | None
    busiest_hours: list[tuple[int, int]]  # (hour, scanned visits), busiest first
    by_day: list[DayFigure]


def busiest(hours: Iterable[int], top: int = 3) -> list[tuple[int, int]]:
    counted = Counter(hours)
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:top]


def station_figures(
    since: date,
    until: date,
    open_days: Iterable[date],
    scanned: Mapping[date, int],
    entered: Mapping[date, int],
    hours: Iterable[int],
) -> VisitFigures:
    open_set = set(open_days)
    figures = [f for f in day_figures(since, until, scanned, entered) if f.day in open_set]
    total = sum(f.visits for f in figures)
    return VisitFigures(
        since=since,
        until=until,
        open_days=len(figures),
        total=total,
        daily_average=round(total / len(figures), 2) if figures else None,
        busiest_hours=busiest(hours),
        by_day=figures,
    )

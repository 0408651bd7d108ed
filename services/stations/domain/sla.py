"""Service levels of the request loop: accept within N working hours, resolve within M days, and
the timers that follow from them (a reminder before, `overdue` at, escalation after).

Working hours are `start_hour`–`end_hour` in Asia/Shanghai on working days: Monday to Friday,
except public holidays (放假), plus the weekend days worked in exchange (调休上班); the national
table is in `libs.common.calendar`, an office adds its local ones by setting. Days to resolve are
calendar days from acceptance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from libs.common.calendar import SHANGHAI

Stage = Literal["accept", "resolve"]
TimerKind = Literal["reminder", "overdue", "escalation"]


@dataclass(frozen=True)
class WorkingHours:
    start_hour: int = 9
    end_hour: int = 17
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[date] = frozenset()
    working_weekend_days: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.working_weekend_days or day.weekday() in self.weekdays

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (aware, in `start`'s zone)."""
        remaining = timedelta(hours=hours)
        day = start.astimezone(SHANGHAI).date()
        moment = start.astimezone(SHANGHAI)
        for _ in range(3660):  # ten years of days: a bound, never reached by a sane setting
            midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            day_start = midnight + timedelta(hours=self.start_hour)
            day_end = midnight + timedelta(hours=self.end_hour)
            if self.is_working_day(day) and moment < day_end:
                begin = max(moment, day_start)
                if remaining <= day_end - begin:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= day_end - begin
            day += timedelta(days=1)
            moment = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        raise ValueError("no working hours in the calendar")


@dataclass(frozen=True)
class ServiceLevel:
    """One category's service level."""

    accept_within_hours: float = 8.0
    resolve_within_days: int = 5


@dataclass(frozen=True)
class Timers:
    """When to remind (a share of the window elapsed) and when to escalate (after the due)."""

    reminder_share: float = 0.75
    escalate_after: timedelta = timedelta(hours=24)
    working_hours: WorkingHours = WorkingHours()

    def accept_due(self, level: ServiceLevel, dispatched_at: datetime) -> datetime:
        return self.working_hours.add(dispatched_at, level.accept_within_hours)

    def resolve_due(self, level: ServiceLevel, accepted_at: datetime) -> datetime:
        local = accepted_at.astimezone(SHANGHAI)
        return (local + timedelta(days=level.resolve_within_days)).astimezone(accepted_at.tzinfo)

    def schedule(self, start: datetime, due: datetime) -> list[tuple[TimerKind, datetime]]:
        """The timers of one stage that starts at `start` and is due at `due`."""
        return [
            ("reminder", start + (due - start) * self.reminder_share),
            ("overdue", due),
            ("escalation", due + self.escalate_after),
        ]


@dataclass(frozen=True)
class LoopRules:
    """What the request loop is configured with: the units, a level per category, the timers."""

    units: tuple[str, ...]
    levels: dict[str, ServiceLevel]
    timers: Timers = Timers()
    #: Points a worker earns, once, when a report (随手拍) of theirs is resolved.
    report_points: int = 10

    def level(self, category: str) -> ServiceLevel:
        return self.levels.get(category, ServiceLevel())

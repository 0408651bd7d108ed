"""Opening hours of a station: open 24 hours, or weekly intervals in Asia/Shanghai time.

An interval is (start, end) in minutes after local midnight; an end at or before its start runs
past midnight into the next day (22:00–06:00), and 24:00 is the end of the day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from libs.common.calendar import SHANGHAI
from libs.common.refusals import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[int, int]


class InvalidHours(Invalid):
    """Opening hours that cannot be read."""


def parse_time(text: str, *, field: str) -> int:
    """`HH:MM` (00:00–24:00) as minutes after midnight."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise InvalidHours(field, "times are HH:MM")
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidHours(field, "times run from 00:00 to 24:00")
    return hours * 60 + minutes


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class OpeningHours:
    """`open_24h`, or for each weekday (0 = Monday) its intervals."""

    open_24h: bool = False
    weekly: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, open_24h: bool, weekly: Mapping[str, Sequence[Sequence[str]]]) -> OpeningHours:
        """From the API's form: `{"mon": [["08:00", "20:00"]], ...}`."""
        if open_24h:
            return cls(open_24h=True)
        days: dict[int, tuple[Interval, ...]] = {}
        for name, spans in weekly.items():
            if name not in WEEKDAYS:
                raise InvalidHours(f"hours.{name}", f"a weekday is one of {', '.join(WEEKDAYS)}")
            intervals: list[Interval] = []
            for i, span in enumerate(spans):
                where = f"hours.{name}.{i}"
                if len(span) != 2:
                    raise InvalidHours(where, "an interval is [start, end]")
                start, end = (parse_time(t, field=where) for t in span)
                if start == end or start == 24 * 60:
                    raise InvalidHours(where, "an interval must not be empty")
                intervals.append((start, end))
            days[WEEKDAYS.index(name)] = tuple(sorted(intervals))
        return cls(open_24h=False, weekly=days)

    def as_dict(self) -> dict[str, list[list[str]]]:
        return {
            WEEKDAYS[day]: [[format_time(s), format_time(e)] for s, e in spans]
            for day, spans in sorted(self.weekly.items())
        }

    def is_open_at(self, moment: datetime) -> bool:
        """Whether the station is open at `moment` (aware; read in Asia/Shanghai time)."""
        if self.open_24h:
            return True
        local = moment.astimezone(SHANGHAI)
        day = local.weekday()
        minute = local.hour * 60 + local.minute
        for start, end in self.weekly.get(day, ()):
            if start < end and start <= minute < end:
                return True
            if end <= start and minute >= start:  # runs past midnight, evening part
                return True
        yesterday = (day - 1) % 7
        return any(end <= start and minute < end for start, end in self.weekly.get(yesterday, ()))

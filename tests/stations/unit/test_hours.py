"""Opening hours in Asia/Shanghai time, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.calendar import SHANGHAI
from libs.common.refusals import Invalid
from services.stations.domain.hours import OpeningHours


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Asia/Shanghai: 2026-11-30 is a Monday, so day 0 = Monday."""
    return datetime(2026, 11, 30, hour, minute, tzinfo=SHANGHAI) + timedelta(days=day)


def test_weekly_hours_open_and_close_at_their_minutes() -> None:
    hours = OpeningHours.parse(False, {"mon": [["08:00", "12:00"], ["14:00", "20:00"]]})
    assert hours.is_open_at(local(0, 8))
    assert hours.is_open_at(local(0, 11, 59))
    assert not hours.is_open_at(local(0, 12))
    assert hours.is_open_at(local(0, 14, 30))
    assert not hours.is_open_at(local(0, 20))
    assert not hours.is_open_at(local(1, 9))  # Tuesday: no hours


def test_hours_are_read_in_shanghai_time_whatever_the_zone_given() -> None:
    hours = OpeningHours.parse(False, {"mon": [["08:00", "09:00"]]})
    assert hours.is_open_at(datetime(2026, 11, 30, 0, 30, tzinfo=UTC))  # 08:30 in Shanghai
    assert not hours.is_open_at(datetime(2026, 11, 30, 8, 30, tzinfo=UTC))  # 16:30 there


def test_an_interval_past_midnight_runs_into_the_next_day() -> None:
    hours = OpeningHours.parse(False, {"sun": [["22:00", "06:00"]]})
    assert hours.is_open_at(local(6, 23))  # Sunday night
    assert hours.is_open_at(local(7, 5, 59))  # Monday early morning
    assert not hours.is_open_at(local(7, 6))
    assert not hours.is_open_at(local(6, 21))


def test_24_hours_and_the_end_of_the_day() -> None:
    assert OpeningHours.parse(True, {}).is_open_at(local(3, 3))
    late = OpeningHours.parse(False, {"fri": [["18:00", "24:00"]]})
    assert late.is_open_at(local(4, 23, 59))
    assert not late.is_open_at(local(5, 0, 0))
    assert late.as_dict() == {"fri": [["18:00", "24:00"]]}


@pytest.mark.parametrize(
    ("weekly", "field"),
    [
        ({"monday": [["08:00", "09:00"]]}, "hours.monday"),
        ({"mon": [["8:00", "09:00"]]}, "hours.mon.0"),
        ({"mon": [["08:00", "25:00"]]}, "hours.mon.0"),
        ({"mon": [["08:00", "08:00"]]}, "hours.mon.0"),
        ({"tue": [["08:00", "09:00"], ["10:61", "11:00"]]}, "hours.tue.1"),
    ],
)
def test_unreadable_hours_are_refused_by_field(
    weekly: dict[str, list[list[str]]], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        OpeningHours.parse(False, weekly)
    assert refused.value.field == field

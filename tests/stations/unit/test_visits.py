"""Daily figures of visits, without a store."""

from __future__ import annotations

from datetime import date

import pytest

from libs.common.refusals import Invalid
from services.stations.domain.visits import busiest, check_period, days, station_figures

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def test_an_entered_count_wins_over_scans_and_closed_days_do_not_count() -> None:
    f = station_figures(D1, D3, [D2, D3], {D1: 9, D2: 3, D3: 1}, {D3: 20}, [8, 8, 12, 18, 8])
    assert [(d.day, d.visits) for d in f.by_day] == [(D2, 3), (D3, 20)]
    assert (f.total, f.open_days, f.daily_average) == (23, 2, 11.5)
    assert f.busiest_hours == [(8, 3), (12, 1), (18, 1)]


def test_no_open_day_has_no_average() -> None:
    assert station_figures(D1, D2, [], {}, {}, []).daily_average is None


def test_periods() -> None:
    assert days(D1, D3) == [D1, D2, D3]
    with pytest.raises(Invalid):
        check_period(D3, D1)
    with pytest.raises(Invalid):
        check_period(date(2025, 1, 1), date(2026, 1, 2))
    assert busiest([], top=3) == []

"""The request loop's state machine, service levels and figures, without a store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from libs.common.calendar import SHANGHAI
from libs.common.refusals import Invalid, RuleBroken
from services.stations.domain.request_stats import figures_of
from services.stations.domain.requests import (
    STATES,
    TRANSITIONS,
    Action,
    Party,
    Request,
    check_move,
    check_place,
    moved,
)
from services.stations.domain.sla import ServiceLevel, Timers, WorkingHours
from services.stations.settings import StationsSettings

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
OFFICE = Party("office", "office-1")
UNION = Party("unit", "union-desk", unit="union")
HEALTH = Party("unit", "health-desk", unit="health")
WORKER = Party("requester", "worker:w1")


def request(state: str = "placed", **overrides: object) -> Request:
    values: dict[str, object] = {
        "id": "r1",
        "region_code": "140212",
        "category": "need",
        "requester_kind": "worker",
        "requester_id": "w1",
        "title": "电动车充电",
        "description": None,
        "state": state,
        "placed_at": T0,
        "unit": "union" if state not in ("placed",) else None,
    }
    values.update(overrides)
    return Request(**values)  # type: ignore[arg-type]


ALLOWED: dict[Action, tuple[Party, ...]] = {
    "dispatch": (OFFICE,),
    "accept": (UNION,),
    "return": (UNION,),
    "resolve": (UNION,),
    "rate": (WORKER, OFFICE),
    "close": (OFFICE,),
    "reopen": (OFFICE,),
}


@pytest.mark.parametrize("action", list(TRANSITIONS))
@pytest.mark.parametrize("state", STATES)
def test_every_move_from_every_state_by_every_party(action: Action, state: str) -> None:
    """Each (action, state, party) is allowed exactly when the table says so, and every
    refusal names its rule."""
    transition = TRANSITIONS[action]
    for party in (OFFICE, UNION, HEALTH, WORKER, Party("requester", "worker:w2")):
        subject = request(state)
        allowed = party in ALLOWED[action] and state in transition.from_states
        if allowed:
            assert check_move(subject, action, party) is transition
            continue
        with pytest.raises(RuleBroken) as refused:
            check_move(subject, action, party)
        assert refused.value.rule in {
            "who_may_move",
            "dispatched_to_unit",
            "own_request",
            "request_state",
        }


def test_the_loop_end_to_end_and_back() -> None:
    r = request()
    r = moved(r, "dispatch", at=T0, unit="union", accept_due_at=T0 + timedelta(hours=8))
    assert (r.state, r.unit, r.version) == ("dispatched", "union", 2)
    r = moved(r, "return", at=T0)
    assert (r.state, r.unit, r.returns) == ("placed", None, 1)
    r = moved(r, "dispatch", at=T0, unit="health", accept_due_at=T0 + timedelta(hours=1))
    late = T0 + timedelta(hours=2)
    r = moved(r, "accept", at=late, resolve_due_at=late + timedelta(days=5))
    assert (r.state, r.accept_on_time) == ("accepted", False)
    r = moved(r, "resolve", at=late + timedelta(days=1))
    assert (r.state, r.resolve_on_time) == ("resolved", True)
    r = moved(r, "rate", at=late + timedelta(days=2), score=4, comment="好")
    assert (r.state, r.score) == ("rated", 4)
    r = moved(r, "reopen", at=late + timedelta(days=3))
    assert (r.state, r.score, r.unit, r.reopens) == ("placed", None, None, 1)
    r = moved(r, "close", at=late + timedelta(days=4))
    assert r.state == "closed"


def test_a_report_needs_its_place_and_photo() -> None:
    with pytest.raises(Invalid) as refused:
        check_place("report", None, "p.jpg")
    assert refused.value.field == "location"
    with pytest.raises(Invalid) as refused:
        check_place("report", 40.0, None)
    assert refused.value.field == "photo_ref"
    check_place("need", None, None)


def test_working_hours_skip_nights_and_weekends() -> None:
    hours = WorkingHours(9, 17)
    friday_4pm = datetime(2026, 12, 4, 16, 0, tzinfo=SHANGHAI)
    assert hours.add(friday_4pm, 2) == datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)  # Monday
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=SHANGHAI)
    assert hours.add(saturday, 8) == datetime(2026, 12, 7, 17, 0, tzinfo=SHANGHAI)
    early = datetime(2026, 12, 1, 6, 0, tzinfo=SHANGHAI)
    assert hours.add(early, 1) == datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
    always = WorkingHours(0, 24, frozenset(range(7)))
    assert always.add(saturday, 30) == saturday + timedelta(hours=30)


def test_timers_of_a_stage() -> None:
    timers = Timers(reminder_share=0.5, escalate_after=timedelta(hours=24))
    level = ServiceLevel(accept_within_hours=8, resolve_within_days=3)
    due = timers.accept_due(level, T0)
    assert due == datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # 7 h Monday + 1 h Tuesday
    assert timers.schedule(T0, due) == [
        ("reminder", T0 + (due - T0) / 2),
        ("overdue", due),
        ("escalation", due + timedelta(hours=24)),
    ]
    assert timers.resolve_due(level, T0) == T0 + timedelta(days=3)


def test_figures() -> None:
    def handled(
        n: int, accept_h: float, resolve_h: float, on_time: bool, score: int | None
    ) -> Request:
        dispatched = T0 + timedelta(hours=n)
        accepted = dispatched + timedelta(hours=accept_h)
        return request(
            "rated" if score else "resolved",
            id=f"r{n}",
            dispatched_at=dispatched,
            accepted_at=accepted,
            resolved_at=accepted + timedelta(hours=resolve_h),
            accept_on_time=True,
            resolve_on_time=on_time,
            score=score,
        )

    batch = [
        handled(1, 1, 10, True, 5),
        handled(2, 3, 20, True, 3),
        handled(3, 5, 30, False, None),
        request("placed", id="r4"),
        replace(request("dispatched", id="r5"), dispatched_at=T0),
    ]
    f = figures_of(batch)
    assert f.total == 5
    assert f.by_state == {
        "placed": 1,
        "dispatched": 1,
        "accepted": 0,
        "resolved": 1,
        "rated": 2,
        "closed": 0,
    }
    assert (f.median_hours_to_accept, f.median_hours_to_resolve) == (3.0, 20.0)
    assert (f.resolved, f.on_time, f.on_time_rate) == (3, 2, round(2 / 3, 4))
    assert (f.rated, f.mean_rating) == (2, 4.0)
    empty = figures_of([])
    assert (empty.on_time_rate, empty.mean_rating, empty.median_hours_to_accept) == (
        None,
        None,
        None,
    )


def test_working_hours_skip_public_holidays_and_count_adjusted_weekends() -> None:
    settings = StationsSettings()
    hours = settings.timers().working_hours
    # 2026 National Day: 1-7 October off; Saturday 10 October worked in exchange (调休).
    eve = datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
    assert hours.add(eve, 4) == datetime(2026, 10, 8, 12, 0, tzinfo=SHANGHAI)
    friday = datetime(2026, 10, 9, 16, 0, tzinfo=SHANGHAI)
    assert hours.add(friday, 2) == datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)
    # Without the national table the same deadlines fall as on ordinary weekdays.
    plain = StationsSettings(national_holidays=False).timers().working_hours
    assert plain.add(eve, 4) == datetime(2026, 10, 1, 12, 0, tzinfo=SHANGHAI)
    assert plain.add(friday, 2) == datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)


def test_local_holidays_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A minority festival (苗年, say) a prefecture gives off, and a year the table lacks.
    monkeypatch.setenv("PB_STATIONS_EXTRA_HOLIDAYS", '["2026-12-07", "2027-01-01"]')
    settings = StationsSettings()
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=SHANGHAI)
    assert settings.timers().working_hours.add(friday, 2) == datetime(
        2026, 12, 8, 10, 0, tzinfo=SHANGHAI
    )
    assert settings.years_without_holidays(date(2026, 12, 10)) == []  # 2027 given by hand
    national = StationsSettings(extra_holidays=frozenset())
    assert national.years_without_holidays(date(2026, 12, 10)) == [2027]
    assert national.years_without_holidays(date(2026, 6, 1)) == []

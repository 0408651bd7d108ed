"""Courses and study hours: the yearly requirement per role, seats and the waiting list,
attendance checks, class hours in halves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from libs.common.refusals import Invalid, RuleBroken
from services.training.domain.courses import (
    Session,
    StudyRules,
    StudyStanding,
    check_attendance,
    check_class_hours,
    check_study,
    enrolment_status,
)

STARTS = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SESSION = Session("s-1", "c-1", "140212", STARTS, "党群服务中心", None, 2, "a1b2c3d4", 4.0)


def test_members_owe_32_and_secretaries_and_committee_members_56() -> None:
    rules = StudyRules()
    assert [rules.required(r) for r in ("member", "secretary", "committee_member")] == [32, 56, 56]
    assert rules.required("worker") == 0
    assert StudyRules(member_hours=40).required("member") == 40


def test_short_by_is_what_remains_and_never_negative() -> None:
    assert StudyStanding("l", "张*", "member", None, 30.5, 32).short_by == 1.5
    assert StudyStanding("l", "张*", "secretary", None, 60, 56).short_by == 0


def test_a_seat_while_there_is_one_then_the_waiting_list() -> None:
    assert [enrolment_status(n, 2) for n in range(4)] == [
        "enrolled",
        "enrolled",
        "waiting",
        "waiting",
    ]


def test_attendance_after_the_start_for_a_seat_with_the_right_code() -> None:
    after = STARTS + timedelta(minutes=5)
    check_attendance(SESSION, after, enrolled=True, method="scan", code="a1b2c3d4")
    check_attendance(SESSION, after, enrolled=True, method="roster", code=None)
    with pytest.raises(RuleBroken) as early:
        check_attendance(
            SESSION, STARTS - timedelta(seconds=1), enrolled=True, method="roster", code=None
        )
    assert early.value.rule == "attendance_after_start"
    with pytest.raises(Invalid) as code:
        check_attendance(SESSION, after, enrolled=True, method="scan", code="nope")
    assert code.value.field == "code"
    with pytest.raises(RuleBroken) as seat:
        check_attendance(SESSION, after, enrolled=False, method="roster", code=None)
    assert seat.value.rule == "attendance_enrolled"


@pytest.mark.parametrize(("hours", "ok"), [(0.5, True), (24, True), (0, False), (1.25, False)])
def test_class_hours_come_in_halves(hours: float, ok: bool) -> None:
    if ok:
        check_class_hours(hours)
        return
    with pytest.raises(Invalid):
        check_class_hours(hours)


def test_study_is_recorded_for_a_day_that_has_come() -> None:
    check_study(2, date(2026, 11, 20), date(2026, 11, 20))
    with pytest.raises(Invalid) as future:
        check_study(2, date(2026, 11, 21), date(2026, 11, 20))
    assert future.value.field == "studied_on"

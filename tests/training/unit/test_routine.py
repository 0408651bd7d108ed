"""The branch routine's rules: obligations per kind, whole periods, judgement across quarter
and year ends, restoration, meeting checks."""

from __future__ import annotations

from datetime import date

import pytest

from libs.common.refusals import Invalid, RuleBroken
from services.training.domain.periods import Period
from services.training.domain.routine import (
    BranchRoutine,
    Lapse,
    RoutineRules,
    check_meeting,
    judge,
    restored_by,
    routine_view,
)

RULES = RoutineRules()


def branch(
    kind: str = "standalone", formed_on: date = date(2026, 10, 1), **more: object
) -> BranchRoutine:
    return BranchRoutine(
        branch_id="b-1",
        kind=kind,  # type: ignore[arg-type]
        name="支部",
        region_code="140212101001",
        organization_ids=("org-1",),
        formed_on=formed_on,
        **more,  # type: ignore[arg-type]
    )


def test_a_branch_owes_the_regular_routine_and_a_temporary_one_a_reduced_set() -> None:
    regular = {o.meeting_type: o.frequency for o in branch().obligations(RULES)}
    assert regular == {
        "members_meeting": "quarter",
        "party_lecture": "quarter",
        "theme_day": "month",
        "life_meeting": "year",
        "appraisal": "year",
    }
    with_committee = branch(committee_since=date(2026, 11, 5), groups_since=date(2026, 10, 1))
    owed = {o.meeting_type: o for o in with_committee.obligations(RULES)}
    assert owed["committee_meeting"].frequency == "month"
    assert owed["committee_meeting"].since == date(2026, 11, 5)
    assert owed["group_meeting"].frequency == "month"
    temporary = {o.meeting_type for o in branch("temporary").obligations(RULES)}
    assert temporary == {"members_meeting", "party_lecture", "theme_day"}


def test_the_lecture_frequency_is_a_setting() -> None:
    monthly = RoutineRules(lecture_frequency="month")
    owed = {o.meeting_type: o.frequency for o in branch().obligations(monthly)}
    assert owed["party_lecture"] == "month"


def test_judgement_across_a_year_end_meets_and_misses_each_period() -> None:
    routine = branch(judged_through=date(2026, 10, 1))
    held = {"members_meeting": [date(2026, 12, 31)], "theme_day": [date(2026, 11, 30)]}
    verdicts = judge(routine, RULES, date(2027, 1, 1), held)
    found = {(v.meeting_type, v.period.label): v.met for v in verdicts}
    assert found == {
        ("members_meeting", "2026-Q4"): True,  # the quarter's last day counts
        ("party_lecture", "2026-Q4"): False,
        ("theme_day", "2026-10"): False,
        ("theme_day", "2026-11"): True,
        ("theme_day", "2026-12"): False,
        # the year 2026 began before the branch: not owed; 2027 has not closed
    }


def test_a_meeting_on_the_first_day_of_the_next_quarter_does_not_meet_the_last() -> None:
    routine = branch(judged_through=date(2026, 10, 1))
    verdicts = judge(routine, RULES, date(2027, 1, 1), {"members_meeting": [date(2027, 1, 1)]})
    assert [v.met for v in verdicts if v.meeting_type == "members_meeting"] == [False]


def test_judgement_catches_up_and_never_judges_a_period_twice() -> None:
    routine = branch(formed_on=date(2026, 1, 1), judged_through=date(2026, 7, 1))
    verdicts = judge(routine, RULES, date(2027, 2, 1), {})
    quarters = [v.period.label for v in verdicts if v.meeting_type == "members_meeting"]
    assert quarters == ["2026-Q3", "2026-Q4"]
    months = [v.period.label for v in verdicts if v.meeting_type == "theme_day"]
    assert months == [f"2026-{m:02d}" for m in range(7, 13)] + ["2027-01"]
    years = [v.period.label for v in verdicts if v.meeting_type == "appraisal"]
    assert years == ["2026"]


def test_a_dissolved_branch_owes_nothing_after_its_dissolution() -> None:
    routine = branch(judged_through=date(2026, 10, 1), dissolved_on=date(2026, 12, 10))
    verdicts = judge(routine, RULES, date(2027, 3, 1), {})
    assert {v.period.label for v in verdicts} == {"2026-10", "2026-11"}


def test_the_view_says_met_missed_and_open() -> None:
    routine = branch()
    held = {"theme_day": [date(2026, 10, 9), date(2026, 10, 20)]}
    views = routine_view(
        routine,
        RULES,
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 12, 31),
        today=date(2026, 11, 15),
        held=held,
    )
    found = {(v.meeting_type, v.period.label): (v.status, v.meetings) for v in views}
    assert found == {
        ("members_meeting", "2026-Q4"): ("open", 0),
        ("party_lecture", "2026-Q4"): ("open", 0),
        ("theme_day", "2026-10"): ("met", 2),
        ("theme_day", "2026-11"): ("open", 0),
    }


def test_a_meeting_restores_the_lapses_of_its_type_from_their_period_on() -> None:
    q3 = Lapse("b-1", "members_meeting", Period(date(2026, 7, 1), "quarter"))
    q4 = Lapse("b-1", "members_meeting", Period(date(2026, 10, 1), "quarter"))
    lecture = Lapse("b-1", "party_lecture", Period(date(2026, 7, 1), "quarter"))
    assert restored_by([q3, q4, lecture], "members_meeting", date(2026, 9, 30)) == [q3]
    assert restored_by([q3, q4, lecture], "members_meeting", date(2027, 1, 5)) == [q3, q4]
    assert restored_by([q3, q4, lecture], "theme_day", date(2027, 1, 5)) == []


def test_a_meeting_is_recorded_only_in_the_branch_life_and_not_in_the_future() -> None:
    routine = branch(dissolved_on=date(2026, 12, 10))
    check_meeting(routine, date(2026, 10, 1), date(2026, 12, 31), 10, 6)
    with pytest.raises(Invalid) as future:
        check_meeting(routine, date(2026, 11, 2), date(2026, 11, 1), 10, 6)
    assert future.value.field == "held_on"
    with pytest.raises(Invalid) as crowd:
        check_meeting(routine, date(2026, 11, 1), date(2026, 11, 1), 10, 11)
    assert crowd.value.field == "present"
    for outside in (date(2026, 9, 30), date(2026, 12, 10)):
        with pytest.raises(RuleBroken) as broken:
            check_meeting(routine, outside, date(2026, 12, 31), 10, 6)
        assert broken.value.rule == "meeting_within_branch_life"

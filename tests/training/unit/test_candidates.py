"""The member-development state machine: every timing rule with its calendar edge cases, every
refusal naming its rule (and the date it will be met), and the vote arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from libs.common.calendar import add_years
from libs.common.refusals import Invalid, RuleBroken
from services.training.domain import candidates as pipeline
from services.training.domain.candidates import (
    ApprovingBody,
    Candidate,
    Introducer,
    PipelineRules,
    Vote,
)

RULES = PipelineRules()
TODAY = date(2030, 12, 31)
VOTE = Vote(entitled=9, present=7, yes=6)
FULL = [Introducer("h-a", "李*", "full"), Introducer("h-b", "王*", "full")]


def applied(on: date = date(2026, 1, 31), born_on: date = date(1990, 5, 1)) -> Candidate:
    return pipeline.apply(
        RULES,
        candidate_id="c-1",
        region_code="140212101001",
        organization_id="org-1",
        branch_id="b-1",
        id_hash="h-self",
        id_masked="140212********123X",
        name_masked="张**",
        born_on=born_on,
        applied_on=on,
        today=TODAY,
    )


def target(activist_on: date = date(2026, 3, 1)) -> Candidate:
    c = pipeline.talk(applied(), date(2026, 2, 10), TODAY)
    c = pipeline.make_activist(c, activist_on, TODAY)
    return pipeline.make_target(c, RULES, add_years(activist_on, 1), TODAY)


def ready(on: date = date(2027, 4, 1)) -> Candidate:
    c = pipeline.record_training(target(), RULES, on, TODAY, days=3, hours=0)
    c = pipeline.record_review(c, on, TODAY)
    return pipeline.record_introducers(c, RULES, FULL)


def admitted(on: date = date(2027, 5, 10)) -> Candidate:
    return pipeline.admit(ready(), on, TODAY, VOTE)


def committee(region_code: str) -> ApprovingBody:
    return ApprovingBody("committee-1", region_code, date(2020, 1, 1))


def probationer(meeting: date = date(2027, 5, 10)) -> Candidate:
    return pipeline.approve(
        admitted(meeting),
        RULES,
        meeting,
        TODAY,
        committee=committee("140212101"),
        extended=False,
    )


def test_an_applicant_is_at_least_18_on_the_application_date() -> None:
    assert applied(date(2026, 5, 1), born_on=date(2008, 5, 1)).stage == "applicant"
    with pytest.raises(RuleBroken) as refused:
        applied(date(2026, 4, 30), born_on=date(2008, 5, 1))
    assert refused.value.rule == "applicant_age"
    assert refused.value.context["met_on"] == "2026-05-01"


def test_born_on_29_february_is_18_on_28_february_of_a_common_year() -> None:
    with pytest.raises(RuleBroken) as refused:
        applied(date(2026, 2, 27), born_on=date(2008, 2, 29))
    assert refused.value.context["met_on"] == "2026-02-28"


@pytest.mark.parametrize(
    ("applied_on", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 12, 15), date(2027, 1, 15)),
    ],
)
def test_the_talk_is_due_within_a_calendar_month(applied_on: date, due: date) -> None:
    candidate = applied(applied_on)
    assert candidate.deadlines(RULES) == {"talk": due}
    assert candidate.next_deadline(RULES) == ("talk", due)
    assert pipeline.talk(candidate, due, TODAY).deadlines(RULES) == {}


def test_an_activist_only_after_the_talk() -> None:
    with pytest.raises(RuleBroken) as refused:
        pipeline.make_activist(applied(), date(2026, 2, 10), TODAY)
    assert refused.value.rule == "talk_before_activist"


def test_a_year_as_activist_from_29_february_ends_on_28_february() -> None:
    c = pipeline.talk(applied(date(2028, 1, 31)), date(2028, 2, 10), TODAY)
    c = pipeline.make_activist(c, date(2028, 2, 29), TODAY)
    assert c.next_deadline(RULES) == ("development_target_from", date(2029, 2, 28))
    with pytest.raises(RuleBroken) as refused:
        pipeline.make_target(c, RULES, date(2029, 2, 27), TODAY)
    assert refused.value.rule == "activist_education_year"
    assert refused.value.context["met_on"] == "2029-02-28"
    assert pipeline.make_target(c, RULES, date(2029, 2, 28), TODAY).stage == "development_target"


@pytest.mark.parametrize(("days", "hours", "ok"), [(3, 0, True), (0, 24, True), (2, 23, False)])
def test_centralised_training_is_3_days_or_24_class_hours(days: int, hours: int, ok: bool) -> None:
    if ok:
        trained = pipeline.record_training(target(), RULES, date(2027, 4, 1), TODAY, days, hours)
        assert trained.trained_on == date(2027, 4, 1)
        return
    with pytest.raises(RuleBroken) as refused:
        pipeline.record_training(target(), RULES, date(2027, 4, 1), TODAY, days, hours)
    assert refused.value.rule == "centralised_training"


@pytest.mark.parametrize(
    "introducers",
    [
        FULL[:1],
        [FULL[0], FULL[0]],
        [FULL[0], Introducer("h-c", "赵*", "probationary")],
        [FULL[0], Introducer("h-self", "张*", "full")],
    ],
    ids=["one", "the-same-twice", "a-probationary", "the-candidate"],
)
def test_two_different_full_members_introduce(introducers: list[Introducer]) -> None:
    with pytest.raises(RuleBroken) as refused:
        pipeline.record_introducers(target(), RULES, introducers)
    assert refused.value.rule == "two_full_introducers"


@pytest.mark.parametrize(
    ("missing", "rule"),
    [
        ({"trained_on": None}, "centralised_training"),
        ({"political_review_on": None}, "political_review"),
        ({"introducers": ()}, "two_full_introducers"),
    ],
)
def test_admission_needs_training_review_and_introducers(
    missing: dict[str, object], rule: str
) -> None:
    with pytest.raises(RuleBroken) as refused:
        pipeline.admit(replace(ready(), **missing), date(2027, 5, 10), TODAY, VOTE)  # type: ignore[arg-type]
    assert refused.value.rule == rule


@pytest.mark.parametrize(
    ("entitled", "present", "yes", "rule"),
    [
        (10, 6, 4, None),  # 6 of 10 present, 4 of 6 yes
        (10, 5, 5, "admission_quorum"),  # exactly half present is not more than half
        (10, 6, 3, "admission_majority"),  # exactly half voting yes is not more than half
        (9, 5, 3, None),
        (1, 1, 1, None),
        (2, 1, 1, "admission_quorum"),
    ],
)
def test_the_vote_arithmetic(entitled: int, present: int, yes: int, rule: str | None) -> None:
    vote = Vote(entitled, present, yes)
    if rule is None:
        pipeline.check_vote(vote)
        return
    with pytest.raises(RuleBroken) as refused:
        pipeline.check_vote(vote)
    assert refused.value.rule == rule


def test_a_vote_with_more_present_than_entitled_or_more_yes_than_present_is_invalid() -> None:
    with pytest.raises(Invalid) as crowd:
        pipeline.check_vote(Vote(5, 6, 4))
    assert crowd.value.field == "present"
    with pytest.raises(Invalid) as ballot:
        pipeline.check_vote(Vote(9, 6, 7))
    assert ballot.value.field == "yes"


def test_approval_is_due_within_3_calendar_months_or_6_when_extended() -> None:
    candidate = admitted(date(2027, 11, 30))
    assert candidate.deadlines(RULES) == {"approval": date(2028, 2, 29)}

    def approve(on: date, *, extended: bool = False) -> Candidate:
        return pipeline.approve(
            candidate,
            RULES,
            on,
            TODAY,
            committee=committee("140212"),
            extended=extended,
        )

    assert approve(date(2028, 2, 29)).stage == "probationary"
    with pytest.raises(RuleBroken) as late:
        approve(date(2028, 3, 1))
    assert late.value.rule == "approval_within_limit"
    assert approve(date(2028, 5, 30), extended=True).stage == "probationary"
    with pytest.raises(RuleBroken) as too_late:
        approve(date(2028, 5, 31), extended=True)
    assert too_late.value.rule == "approval_within_limit"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (ApprovingBody("c", "140212101", date(2020, 1, 1)), None),
        (ApprovingBody("c", "140212", date(2020, 1, 1)), None),
        (ApprovingBody("c", "140212101001", date(2020, 1, 1)), "approving_committee_level"),
        (
            ApprovingBody("c", "140212", date(2020, 1, 1), temporary=True),
            "approving_committee_level",
        ),
        (
            ApprovingBody("b", "140212101", date(2020, 1, 1), is_committee=False),
            "approving_committee_level",
        ),
        (ApprovingBody("c", "140213", date(2020, 1, 1)), "approving_committee_above"),
        (ApprovingBody("c", "140212101", date(2027, 6, 2)), "approving_committee_formed"),
    ],
)
def test_only_a_committee_at_township_level_or_above_approves(
    body: ApprovingBody, rule: str | None
) -> None:
    def approve() -> Candidate:
        return pipeline.approve(
            admitted(), RULES, date(2027, 6, 1), TODAY, committee=body, extended=False
        )

    if rule is None:
        assert approve().approved_on == date(2027, 6, 1)
        return
    with pytest.raises(RuleBroken) as refused:
        approve()
    assert refused.value.rule == rule


def test_probation_is_a_year_from_the_meeting_and_extends_once_by_6_to_12_months() -> None:
    member = probationer(date(2028, 2, 29))
    assert member.deadlines(RULES) == {"probation": date(2029, 2, 28)}
    for months in (5, 13):
        with pytest.raises(RuleBroken) as bounds:
            pipeline.extend_probation(member, RULES, months)
        assert bounds.value.rule == "probation_extension_bounds"
    extended = pipeline.extend_probation(member, RULES, 6)
    assert extended.probation_ends_on(RULES) == date(2029, 8, 29)
    assert pipeline.extend_probation(member, RULES, 12).probation_ends_on(RULES) == date(
        2030, 2, 28
    )
    with pytest.raises(RuleBroken) as twice:
        pipeline.extend_probation(extended, RULES, 6)
    assert twice.value.rule == "probation_extended_once"


def test_a_full_member_is_confirmed_when_the_probation_has_run() -> None:
    member = probationer(date(2027, 5, 10))
    with pytest.raises(RuleBroken) as early:
        pipeline.confirm(member, RULES, date(2028, 5, 9), TODAY, VOTE)
    assert early.value.rule == "probation_complete"
    assert early.value.context["met_on"] == "2028-05-10"
    full = pipeline.confirm(member, RULES, date(2028, 5, 10), TODAY, VOTE)
    assert (full.stage, full.deadlines(RULES)) == ("full", {})


def test_steps_out_of_order_and_from_a_closed_file_are_refused() -> None:
    with pytest.raises(RuleBroken) as order:
        pipeline.admit(applied(), date(2026, 3, 1), TODAY, VOTE)
    assert order.value.rule == "pipeline_order"
    gone = pipeline.cancel(applied(), date(2026, 2, 1), TODAY, "withdrew")
    with pytest.raises(RuleBroken):
        pipeline.talk(gone, date(2026, 2, 2), TODAY)
    with pytest.raises(RuleBroken) as before:
        pipeline.talk(applied(), date(2026, 1, 30), TODAY)
    assert before.value.context["met_on"] == "2026-01-31"
    with pytest.raises(Invalid):
        pipeline.talk(applied(), date(2031, 1, 1), TODAY)


def test_a_temporary_or_dissolved_branch_develops_no_member() -> None:
    with pytest.raises(RuleBroken) as temporary:
        pipeline.check_branch_develops("temporary", False, "org-1")
    assert temporary.value.rule == "temporary_cannot_develop"
    with pytest.raises(RuleBroken) as dissolved:
        pipeline.check_branch_develops("standalone", True, "org-1")
    assert dissolved.value.rule == "branch_dissolved"
    pipeline.check_branch_develops("joint", False, "org-1")

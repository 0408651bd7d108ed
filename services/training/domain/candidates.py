"""Member development (发展党员, the four ledgers 四本台账) as a state machine, under the timing
rules of the member-development work rules (发展党员工作细则) as configurable defaults.

applicant 入党申请人 → talk within a calendar month → activist 入党积极分子 → at least a calendar
year of education → development target 发展对象 (political review, centralised training, two
full-member introducers) → the branch members' meeting admits (more than half of those entitled
present, more than half of those present voting yes) → the approving committee (township level or
above, never temporary) approves within 3 calendar months (extendable to 6) → probationary member
预备党员 for a year from the meeting (extendable once by 6 to 12 months) → full member 正式党员.

Every refusal is a `RuleBroken` naming the rule and, where waiting meets it, the date (`met_on`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from libs.common.calendar import add_months, add_years
from libs.common.refusals import Conflict, Invalid, NotFound, RuleBroken
from libs.common.validators import is_within, region_level

Stage = Literal[
    "applicant",
    "activist",
    "development_target",
    "awaiting_approval",
    "probationary",
    "full",
    "cancelled",
]
STAGES: tuple[Stage, ...] = (
    "applicant",
    "activist",
    "development_target",
    "awaiting_approval",
    "probationary",
    "full",
    "cancelled",
)
DeadlineKind = Literal["talk", "approval", "probation"]


@dataclass(frozen=True)
class PipelineRules:
    """The numbers of the member-development work rules, as settings."""

    min_age_years: int = 18
    talk_within_months: int = 1
    activist_min_years: int = 1
    training_min_days: int = 3
    training_min_hours: int = 24
    introducers: int = 2
    approval_within_months: int = 3
    approval_extended_months: int = 6
    probation_years: int = 1
    extension_min_months: int = 6
    extension_max_months: int = 12


@dataclass(frozen=True)
class Vote:
    """A branch members' meeting vote on one candidate."""

    entitled: int
    present: int
    yes: int


@dataclass(frozen=True)
class Candidate:
    id: str
    region_code: str
    organization_id: str
    branch_id: str
    id_hash: str
    id_masked: str
    name_masked: str
    applied_on: date
    stage: Stage = "applicant"
    talked_on: date | None = None
    activist_on: date | None = None
    target_on: date | None = None
    political_review_on: date | None = None
    trained_on: date | None = None
    training_days: int = 0
    training_hours: int = 0
    introducers: tuple[str, ...] = ()  # masked names; their hashes are not kept
    admitted_on: date | None = None
    vote: Vote | None = None
    approved_on: date | None = None
    approval_extended: bool = False
    extension_months: int | None = None
    confirmed_on: date | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = None
    version: int = 1

    def talk_due_on(self, rules: PipelineRules) -> date:
        return add_months(self.applied_on, rules.talk_within_months)

    def target_from(self, rules: PipelineRules) -> date | None:
        if self.activist_on is None:
            return None
        return add_years(self.activist_on, rules.activist_min_years)

    def approval_due_on(self, rules: PipelineRules) -> date | None:
        if self.admitted_on is None:
            return None
        months = (
            rules.approval_extended_months
            if self.approval_extended
            else rules.approval_within_months
        )
        return add_months(self.admitted_on, months)

    def probation_ends_on(self, rules: PipelineRules) -> date | None:
        """One year from the branch meeting, plus an extension's months (counted from it)."""
        if self.admitted_on is None:
            return None
        months = 12 * rules.probation_years + (self.extension_months or 0)
        return add_months(self.admitted_on, months)

    def deadlines(self, rules: PipelineRules) -> dict[DeadlineKind, date]:
        """The deadlines running now: the talk for an applicant not yet talked to, the approval
        of an admitted candidate, the end of a probation."""
        running: dict[DeadlineKind, date] = {}
        if self.stage == "applicant" and self.talked_on is None:
            running["talk"] = self.talk_due_on(rules)
        due = self.approval_due_on(rules)
        if self.stage == "awaiting_approval" and due is not None:
            running["approval"] = due
        ends = self.probation_ends_on(rules)
        if self.stage == "probationary" and ends is not None:
            running["probation"] = ends
        return running

    def next_deadline(self, rules: PipelineRules) -> tuple[str, date] | None:
        running = self.deadlines(rules)
        if running:
            kind = min(running, key=lambda k: running[k])
            return kind, running[kind]
        target_from = self.target_from(rules)
        if self.stage == "activist" and target_from is not None:
            return "development_target_from", target_from
        return None


class CandidateNotFound(NotFound):
    def __init__(self, candidate_id: str) -> None:
        super().__init__(
            f"candidate {candidate_id} not found", context={"candidate_id": candidate_id}
        )


class AlreadyInPipeline(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "this person is already in the pipeline of the region", fields=[("id_number", "")]
        )


def _broken(
    candidate: Candidate | None,
    rule: str,
    message: str,
    *,
    met_on: date | None = None,
    organization_id: str = "",
    **context: object,
) -> RuleBroken:
    org = candidate.organization_id if candidate else organization_id
    facts: dict[str, object] = {
        k: (v.isoformat() if isinstance(v, date) else v) for k, v in context.items()
    }
    if met_on is not None:
        facts["met_on"] = met_on.isoformat()
    if candidate is not None:
        facts["candidate_id"] = candidate.id
    return RuleBroken(rule, message, [org] if org else [], context=facts)


def _on(day: date, today: date, field: str = "on") -> None:
    if day > today:
        raise Invalid(field, "is in the future")


def _stage(candidate: Candidate, *expected: Stage, step: str) -> None:
    if candidate.stage not in expected:
        raise _broken(
            candidate,
            "pipeline_order",
            f"{step} is a step of a candidate at stage {' or '.join(expected)}; "
            f"this one is {candidate.stage}",
            stage=candidate.stage,
            step=step,
        )


def _not_before(candidate: Candidate, day: date, earlier: date | None, what: str) -> None:
    if earlier is not None and day < earlier:
        raise _broken(
            candidate,
            "pipeline_order",
            f"the date {day} is before the {what} on {earlier}",
            met_on=earlier,
            step_date=day,
        )


def check_branch_takes(branch_id: str, organization_id: str, covering: list[str]) -> None:
    """A person applies to their workplace's Party organisation; one whose workplace has none
    applies where they live or where the unit is (发展党员工作细则 §5): a branch that does not
    cover the organisation takes the application only when no live branch covers it."""
    if covering:
        raise _broken(
            None,
            "organization_in_branch",
            f"branch {branch_id} does not cover the organisation, which has a Party organisation "
            "of its own: its people apply there",
            organization_id=organization_id,
            covered_by=sorted(covering),
        )


def check_branch_develops(kind: str, dissolved: bool, organization_id: str) -> None:
    """Members are developed by a live standing branch: a temporary one generally does not."""
    if kind == "temporary":
        raise _broken(
            None,
            "temporary_cannot_develop",
            "a temporary Party organisation does not develop new members",
            organization_id=organization_id,
        )
    if dissolved:
        raise _broken(
            None,
            "branch_dissolved",
            "the branch is dissolved",
            organization_id=organization_id,
        )


def apply(
    rules: PipelineRules,
    *,
    candidate_id: str,
    region_code: str,
    organization_id: str,
    branch_id: str,
    id_hash: str,
    id_masked: str,
    name_masked: str,
    born_on: date,
    applied_on: date,
    today: date,
) -> Candidate:
    """An application 入党申请: the applicant is at least 18 on its date."""
    _on(applied_on, today, "applied_on")
    of_age = add_years(born_on, rules.min_age_years)
    if applied_on < of_age:
        raise _broken(
            None,
            "applicant_age",
            f"an applicant must be at least {rules.min_age_years} on the application date",
            met_on=of_age,
            organization_id=organization_id,
        )
    return Candidate(
        id=candidate_id,
        region_code=region_code,
        organization_id=organization_id,
        branch_id=branch_id,
        id_hash=id_hash,
        id_masked=id_masked,
        name_masked=name_masked,
        applied_on=applied_on,
    )


def _next(candidate: Candidate, **changes: object) -> Candidate:
    return replace(candidate, version=candidate.version + 1, **changes)  # type: ignore[arg-type]


def talk(candidate: Candidate, on: date, today: date) -> Candidate:
    """The branch talks with the applicant (谈话), due within a month of the application (a late
    talk is still recorded: the deadline's breach was announced when it passed)."""
    _on(on, today)
    _stage(candidate, "applicant", step="talk")
    if candidate.talked_on is not None:
        raise _broken(candidate, "talk_once", "the talk is already recorded")
    _not_before(candidate, on, candidate.applied_on, "application")
    return _next(candidate, talked_on=on)


def make_activist(candidate: Candidate, on: date, today: date) -> Candidate:
    """The applicant becomes an activist (确定入党积极分子) after the talk."""
    _on(on, today)
    _stage(candidate, "applicant", step="activist")
    if candidate.talked_on is None:
        raise _broken(candidate, "talk_before_activist", "the applicant has not been talked to")
    _not_before(candidate, on, candidate.talked_on, "talk")
    return _next(candidate, stage="activist", activist_on=on)


def make_target(candidate: Candidate, rules: PipelineRules, on: date, today: date) -> Candidate:
    """After at least a calendar year of education the activist becomes a development target."""
    _on(on, today)
    _stage(candidate, "activist", step="development-target")
    target_from = candidate.target_from(rules)
    assert target_from is not None
    if on < target_from:
        raise _broken(
            candidate,
            "activist_education_year",
            f"an activist is educated for at least {rules.activist_min_years} year(s) "
            f"before becoming a development target",
            met_on=target_from,
        )
    return _next(candidate, stage="development_target", target_on=on)


def record_training(
    candidate: Candidate, rules: PipelineRules, on: date, today: date, days: int, hours: int
) -> Candidate:
    """Centralised training of the target (集中培训): at least 3 days or 24 class hours."""
    _on(on, today)
    _stage(candidate, "development_target", step="training")
    _not_before(candidate, on, candidate.target_on, "designation as development target")
    if days < rules.training_min_days and hours < rules.training_min_hours:
        raise _broken(
            candidate,
            "centralised_training",
            f"centralised training lasts at least {rules.training_min_days} days or "
            f"{rules.training_min_hours} class hours; {days} days, {hours} hours were given",
            days=days,
            hours=hours,
        )
    return _next(candidate, trained_on=on, training_days=days, training_hours=hours)


def record_review(candidate: Candidate, on: date, today: date) -> Candidate:
    """The written conclusion of the political review (政治审查)."""
    _on(on, today)
    _stage(candidate, "development_target", step="political-review")
    _not_before(candidate, on, candidate.target_on, "designation as development target")
    return _next(candidate, political_review_on=on)


@dataclass(frozen=True)
class Introducer:
    id_hash: str
    name_masked: str
    membership: str


def record_introducers(
    candidate: Candidate, rules: PipelineRules, introducers: list[Introducer]
) -> Candidate:
    """Two full members introduce the target (入党介绍人), neither of them the candidate."""
    _stage(candidate, "development_target", step="introducers")
    people = {i.id_hash for i in introducers}
    if (
        len(introducers) != rules.introducers
        or len(people) != rules.introducers
        or candidate.id_hash in people
        or any(i.membership != "full" for i in introducers)
    ):
        raise _broken(
            candidate,
            "two_full_introducers",
            f"a candidate has {rules.introducers} different introducers, each a full member "
            "and neither the candidate",
        )
    return _next(candidate, introducers=tuple(i.name_masked for i in introducers))


def check_vote(vote: Vote, candidate: Candidate | None = None) -> None:
    """More than half of those entitled present, and more than half of those present voting yes
    (exactly half is not more than half)."""
    if vote.present > vote.entitled:
        raise Invalid("present", "is more than entitled")
    if vote.yes > vote.present:
        raise Invalid("yes", "is more than present")
    if 2 * vote.present <= vote.entitled:
        raise _broken(
            candidate,
            "admission_quorum",
            f"more than half of the {vote.entitled} members entitled must be present; "
            f"{vote.present} were",
            needed=vote.entitled // 2 + 1,
            present=vote.present,
        )
    if 2 * vote.yes <= vote.present:
        raise _broken(
            candidate,
            "admission_majority",
            f"more than half of the {vote.present} present must vote yes; {vote.yes} did",
            needed=vote.present // 2 + 1,
            yes=vote.yes,
        )


def admit(candidate: Candidate, on: date, today: date, vote: Vote) -> Candidate:
    """The branch members' meeting admits the target as a probationary member (one candidate
    per vote), once trained, reviewed and introduced."""
    _on(on, today)
    _stage(candidate, "development_target", step="admission")
    if candidate.trained_on is None:
        raise _broken(candidate, "centralised_training", "the target has not been trained")
    if candidate.political_review_on is None:
        raise _broken(candidate, "political_review", "the political review has no conclusion")
    if not candidate.introducers:
        raise _broken(candidate, "two_full_introducers", "the target has no introducers")
    for earlier, what in (
        (candidate.trained_on, "training"),
        (candidate.political_review_on, "political review"),
    ):
        _not_before(candidate, on, earlier, what)
    check_vote(vote, candidate)
    return _next(candidate, stage="awaiting_approval", admitted_on=on, vote=vote)


@dataclass(frozen=True)
class ApprovingBody:
    """The Party organisation named to approve, as the registry announced it: a committee
    (`pb.registry.committee.formed`), or a branch (`pb.registry.branch.*`), which never may."""

    id: str
    region_code: str
    formed_on: date
    is_committee: bool = True
    temporary: bool = False


def approve(
    candidate: Candidate,
    rules: PipelineRules,
    on: date,
    today: date,
    *,
    committee: ApprovingBody,
    extended: bool,
) -> Candidate:
    """The committee above approves (审批) within 3 calendar months of the meeting, 6 when
    extended; only a committee (not a branch) at township level or above, never a temporary
    organisation, and one that existed on the day."""
    _on(on, today)
    _stage(candidate, "awaiting_approval", step="approval")
    region = committee.region_code
    if not committee.is_committee or committee.temporary or region_level(region) == "village":
        raise _broken(
            candidate,
            "approving_committee_level",
            "admission is approved by a Party committee at township level or above, never by a "
            "branch, a temporary organisation or a committee below township level",
            committee_id=committee.id,
        )
    if not is_within(candidate.region_code, region):
        raise _broken(
            candidate,
            "approving_committee_above",
            "admission is approved by a committee above the branch: the candidate's region "
            f"{candidate.region_code} is not within the committee's {region}",
            committee_id=committee.id,
        )
    if on < committee.formed_on:
        raise _broken(
            candidate,
            "approving_committee_formed",
            f"the committee was formed on {committee.formed_on}, after the approval's date",
            committee_id=committee.id,
        )
    _not_before(candidate, on, candidate.admitted_on, "branch meeting")
    after = replace(candidate, approval_extended=extended)
    due = after.approval_due_on(rules)
    assert due is not None
    if on > due:
        raise _broken(
            candidate,
            "approval_within_limit",
            f"approval is due within {rules.approval_within_months} months of the meeting "
            f"(extendable to {rules.approval_extended_months}); it was due by {due}",
            due_on=due,
        )
    return _next(after, stage="probationary", approved_on=on)


def extend_probation(candidate: Candidate, rules: PipelineRules, months: int) -> Candidate:
    """Probation extended once, by 6 to 12 calendar months (延长预备期)."""
    _stage(candidate, "probationary", step="extend-probation")
    if candidate.extension_months is not None:
        raise _broken(candidate, "probation_extended_once", "a probation is extended once at most")
    if not rules.extension_min_months <= months <= rules.extension_max_months:
        raise _broken(
            candidate,
            "probation_extension_bounds",
            f"a probation is extended by {rules.extension_min_months} to "
            f"{rules.extension_max_months} months; {months} were asked",
            months=months,
        )
    return _next(candidate, extension_months=months)


def confirm(
    candidate: Candidate, rules: PipelineRules, on: date, today: date, vote: Vote
) -> Candidate:
    """At the end of the probation the branch meeting confirms a full member (转正)."""
    _on(on, today)
    _stage(candidate, "probationary", step="confirmation")
    ends = candidate.probation_ends_on(rules)
    assert ends is not None
    if on < ends:
        raise _broken(
            candidate,
            "probation_complete",
            f"the probation runs until {ends}",
            met_on=ends,
        )
    check_vote(vote, candidate)
    return _next(candidate, stage="full", confirmed_on=on)


def cancel(candidate: Candidate, on: date, today: date, reason: str) -> Candidate:
    """The candidate leaves the pipeline (withdrawn, not admitted, probation cancelled)."""
    _on(on, today)
    _stage(
        candidate,
        "applicant",
        "activist",
        "development_target",
        "awaiting_approval",
        "probationary",
        step="cancel",
    )
    return _next(candidate, stage="cancelled", cancelled_on=on, cancel_reason=reason)

"""The gap list (目标对象清单): why an organisation in scope is not covered and what to do next.

An organisation is a gap of a metric when it is in the metric's scope and not covered:
organisation coverage wants a Party organisation (own, joint or temporary); work coverage is
also met by an instructor or a mass organisation (see `facts.py`). Its *reasons* say why, and its
*next actions* say what the office should do, most important first (the primary one).

The store filters by reason and next action in SQL; `services/coverage/store/gaps.py` states the
same rules as predicates, and a test checks that both agree on every combination of facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.coverage.domain.facts import (
    DEFAULT_ORGANIZATION_SCOPE,
    DEFAULT_WORK_SCOPE,
    CoverageFacts,
    Scope,
)


class Metric(StrEnum):
    """Which coverage the gap list is about."""

    ORGANIZATION = "organization"  # 党的组织覆盖
    WORK = "work"  # 党的工作覆盖

    @property
    def default_scope(self) -> Scope:
        return DEFAULT_ORGANIZATION_SCOPE if self is Metric.ORGANIZATION else DEFAULT_WORK_SCOPE


class Reason(StrEnum):
    """Why an organisation is not covered (未覆盖原因)."""

    NO_MEMBERS = "no_members"
    PROBATIONARY_MEMBERS_ONLY = "probationary_members_only"
    TOO_FEW_FULL_MEMBERS = "too_few_full_members"
    ELIGIBLE_WITHOUT_BRANCH = "eligible_without_branch"
    NO_PARTY_WORK = "no_instructor_or_mass_organization"


class NextAction(StrEnum):
    """What the office does next (下一步措施), in priority order of this enumeration."""

    FORM_STANDALONE_BRANCH = "form_standalone_branch"
    JOIN_OR_FORM_JOINT_BRANCH = "join_or_form_joint_branch"
    ASSIGN_INSTRUCTOR = "assign_instructor"
    SET_UP_MASS_ORGANIZATION = "set_up_mass_organization"
    DEVELOP_MEMBERS = "develop_members"
    COMPLETE_LEDGER = "complete_ledger"


REASON_LABELS: dict[Reason, str] = {
    Reason.NO_MEMBERS: "无党员",
    Reason.PROBATIONARY_MEMBERS_ONLY: "仅有预备党员，无正式党员",
    Reason.TOO_FEW_FULL_MEMBERS: "正式党员不足{min}名，未纳入联合党支部",
    Reason.ELIGIBLE_WITHOUT_BRANCH: "正式党员{min}名以上，未单独组建党组织",
    Reason.NO_PARTY_WORK: "无党组织、党建指导员和群团组织",
}
ACTION_LABELS: dict[NextAction, str] = {
    NextAction.FORM_STANDALONE_BRANCH: "单独组建党支部（应建尽建）",
    NextAction.JOIN_OR_FORM_JOINT_BRANCH: "联合组建或纳入联合党支部",
    NextAction.ASSIGN_INSTRUCTOR: "选派党建指导员",
    NextAction.SET_UP_MASS_ORGANIZATION: "建立工会、共青团、妇联等群团组织",
    NextAction.DEVELOP_MEMBERS: "培养发展党员",
    NextAction.COMPLETE_LEDGER: "完善“六清”台账",
}


def reason_label(reason: Reason, min_full_members: int) -> str:
    return REASON_LABELS[reason].format(min=min_full_members)


def action_label(action: NextAction) -> str:
    return ACTION_LABELS[action]


def is_gap(facts: CoverageFacts, metric: Metric, scope: Scope) -> bool:
    """In the scope and not covered in the sense of the metric."""
    if not facts.in_scope(scope):
        return False
    if metric is Metric.ORGANIZATION:
        return not facts.organization_covered
    return not facts.work_covered


def member_reason(facts: CoverageFacts, min_full_members: int) -> Reason:
    """Why no Party organisation covers it, from its members alone (exactly one applies)."""
    if facts.full_members >= min_full_members:
        return Reason.ELIGIBLE_WITHOUT_BRANCH
    if facts.full_members > 0:
        return Reason.TOO_FEW_FULL_MEMBERS
    if facts.probationary_members > 0:
        return Reason.PROBATIONARY_MEMBERS_ONLY
    return Reason.NO_MEMBERS


def reasons(facts: CoverageFacts, metric: Metric, min_full_members: int) -> tuple[Reason, ...]:
    """The member reason first (the primary one); a work gap also lacks any other Party work."""
    primary = member_reason(facts, min_full_members)
    return (primary, Reason.NO_PARTY_WORK) if metric is Metric.WORK else (primary,)


def next_actions(facts: CoverageFacts, min_full_members: int) -> tuple[NextAction, ...]:
    """Every action that applies, most important first; never empty.

    3+ full members: a branch of its own (应建尽建). Fewer full members but some members
    (probationary ones included: they count in a joint branch and become full within a year):
    a joint branch. Below a branch of its own, an instructor and a mass organisation give work
    coverage meanwhile; with no members at all, members are developed. An incomplete ledger
    (六清) is always completed.
    """
    eligible = facts.full_members >= min_full_members
    actions: list[NextAction] = []
    if eligible:
        actions.append(NextAction.FORM_STANDALONE_BRANCH)
    elif facts.has_members:
        actions.append(NextAction.JOIN_OR_FORM_JOINT_BRANCH)
    if not eligible and facts.instructor_count == 0:
        actions.append(NextAction.ASSIGN_INSTRUCTOR)
    if not eligible and facts.mass_organization_count == 0:
        actions.append(NextAction.SET_UP_MASS_ORGANIZATION)
    if not facts.has_members:
        actions.append(NextAction.DEVELOP_MEMBERS)
    if not facts.ledger_complete:
        actions.append(NextAction.COMPLETE_LEDGER)
    return tuple(actions)


@dataclass(frozen=True)
class Gap:
    """One line of the gap list."""

    facts: CoverageFacts
    reasons: tuple[Reason, ...]
    next_actions: tuple[NextAction, ...]

    @property
    def reason(self) -> Reason:
        return self.reasons[0]

    @property
    def next_action(self) -> NextAction:
        return self.next_actions[0]


def gap_of(facts: CoverageFacts, metric: Metric, min_full_members: int) -> Gap:
    """The gap-list line of an organisation already known to be a gap."""
    return Gap(
        facts=facts,
        reasons=reasons(facts, metric, min_full_members),
        next_actions=next_actions(facts, min_full_members),
    )


#: What the gap list can be sorted by (prefix `-` for descending); ties go by organisation id.
SORT_FIELDS: tuple[str, ...] = (
    "region_code",
    "name",
    "credit_code",
    "industry_code",
    "staff_count",
    "full_members",
)
DEFAULT_SORT = "region_code"


@dataclass(frozen=True)
class GapFilter:
    """Which gaps: a region subtree, a metric and scope, and optional narrowing filters."""

    region_code: str
    metric: Metric
    scope: Scope
    min_full_members: int
    kind: str | None = None
    industry: str | None = None  # a GB/T 4754 code or its prefix (section letter, division)
    township: str | None = None
    size_band: str | None = None
    area_id: str | None = None
    reason: Reason | None = None
    next_action: NextAction | None = None

"""The branch routine 三会一课: what meetings a branch owes in which calendar periods, and whether
each closed period was met or missed.

A branch owes a period only if it lived through all of it (formed on or before its first day,
not dissolved before it closed); a committee or Party-group obligation starts with the first whole
period after the office recorded that the branch has one. A period is met by one recorded meeting
of its type held inside it; it is judged when it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Literal

from libs.common.refusals import Invalid, NotFound, RuleBroken
from services.training.domain.periods import Frequency, Period, periods_within

MeetingType = Literal[
    "members_meeting",
    "committee_meeting",
    "group_meeting",
    "party_lecture",
    "theme_day",
    "life_meeting",
    "appraisal",
]
MEETING_TYPES: tuple[MeetingType, ...] = (
    "members_meeting",  # 支部党员大会
    "committee_meeting",  # 支部委员会
    "group_meeting",  # 党小组会
    "party_lecture",  # 党课
    "theme_day",  # 主题党日
    "life_meeting",  # 组织生活会
    "appraisal",  # 民主评议党员
)
BranchKind = Literal["standalone", "joint", "temporary"]
PeriodStatus = Literal["met", "missed", "open"]

#: The far end of a branch that is not dissolved.
OPEN_END = date(9999, 1, 1)


@dataclass(frozen=True)
class RoutineRules:
    """The frequencies of the branch work regulations, as settings."""

    lecture_frequency: Frequency = "quarter"
    #: What a temporary branch (临时党组织) owes: it elects no committee and appraises no one.
    temporary_obligations: frozenset[str] = frozenset(
        {"members_meeting", "party_lecture", "theme_day"}
    )

    def frequency(self, meeting_type: MeetingType) -> Frequency:
        if meeting_type == "party_lecture":
            return self.lecture_frequency
        if meeting_type == "members_meeting":
            return "quarter"
        if meeting_type in ("life_meeting", "appraisal"):
            return "year"
        return "month"


@dataclass(frozen=True)
class Obligation:
    """One meeting a branch owes once per period, from `since` on."""

    meeting_type: MeetingType
    frequency: Frequency
    since: date


@dataclass(frozen=True)
class BranchRoutine:
    """One branch as the routine knows it (from the registry's branch events)."""

    branch_id: str
    kind: BranchKind
    name: str
    region_code: str
    organization_ids: tuple[str, ...]
    formed_on: date
    version: int = 1
    dissolved_on: date | None = None
    committee_since: date | None = None
    groups_since: date | None = None
    #: Periods closing on or before this day have been judged.
    judged_through: date | None = None

    @property
    def ends_before(self) -> date:
        return self.dissolved_on or OPEN_END

    def obligations(self, rules: RoutineRules) -> list[Obligation]:
        owed: list[Obligation] = []
        for meeting_type in MEETING_TYPES:
            since: date | None = self.formed_on
            if meeting_type == "committee_meeting":
                since = self.committee_since
            elif meeting_type == "group_meeting":
                since = self.groups_since
            if since is None:
                continue
            if self.kind == "temporary" and meeting_type not in rules.temporary_obligations:
                continue
            frequency = rules.frequency(meeting_type)
            owed.append(Obligation(meeting_type, frequency, max(since, self.formed_on)))
        return owed

    def periods(
        self, obligation: Obligation, *, until: date, after: date | None = None
    ) -> list[Period]:
        """The periods of `obligation` this branch owes that close on or before `until` (and,
        with `after`, after that day)."""
        return list(
            periods_within(
                obligation.frequency,
                obligation.since,
                min(until, self.ends_before),
                closing_after=after,
            )
        )


def with_structure(
    routine: BranchRoutine, *, has_committee: bool, has_groups: bool, since: date
) -> BranchRoutine:
    """The branch with a committee (支部委员会) and Party groups (党小组) as the office says:
    an obligation that starts is owed from the first whole period on or after `since` (one
    already running keeps its start); one that ends is owed no more."""
    if since < routine.formed_on or since >= routine.ends_before:
        raise RuleBroken(
            "structure_within_branch_life",
            f"branch {routine.branch_id} lived from {routine.formed_on}; {since} is outside it",
            routine.organization_ids,
            context={"formed_on": routine.formed_on.isoformat(), "since": since.isoformat()},
        )
    return replace(
        routine,
        committee_since=(routine.committee_since or since) if has_committee else None,
        groups_since=(routine.groups_since or since) if has_groups else None,
    )


@dataclass(frozen=True)
class Verdict:
    """A closed period of one obligation, judged."""

    meeting_type: MeetingType
    period: Period
    met: bool


Held = Mapping[str, Sequence[date]]


def judge(routine: BranchRoutine, rules: RoutineRules, through: date, held: Held) -> list[Verdict]:
    """The periods closing after the branch's `judged_through` and on or before `through`,
    each met or missed by the meetings `held` (dates per meeting type)."""
    owed = _schedule(
        replace(routine, branch_id="", name="", region_code="", organization_ids=(), version=0),
        rules,
        through,
    )
    return [
        Verdict(
            meeting_type,
            period,
            any(period.holds(day) for day in held.get(meeting_type, ())),
        )
        for meeting_type, period in owed
    ]


@lru_cache(maxsize=4096)
def _schedule(
    routine: BranchRoutine, rules: RoutineRules, through: date
) -> tuple[tuple[MeetingType, Period], ...]:
    """The periods to judge of a branch's schedule (its dates and kind only): most branches
    share one, so a day's judgement of a county computes each schedule once."""
    return tuple(
        (obligation.meeting_type, period)
        for obligation in routine.obligations(rules)
        for period in routine.periods(obligation, until=through, after=routine.judged_through)
    )


def judged_through(routine: BranchRoutine, through: date) -> date:
    """How far the branch is judged after judging through `through`."""
    return min(through, routine.ends_before)


@dataclass(frozen=True)
class PeriodView:
    meeting_type: MeetingType
    period: Period
    status: PeriodStatus
    meetings: int


def routine_view(
    routine: BranchRoutine,
    rules: RoutineRules,
    *,
    starts_on: date,
    ends_on: date,
    today: date,
    held: Held,
) -> list[PeriodView]:
    """Each owed period that overlaps `[starts_on, ends_on]` and has begun by `today`: met when a
    meeting of its type was held in it, missed when it closed without one, open otherwise."""
    views: list[PeriodView] = []
    for obligation in routine.obligations(rules):
        dates = held.get(obligation.meeting_type, ())
        last = Period.containing(obligation.frequency, min(ends_on, today)).ends_before
        for period in routine.periods(obligation, until=last):
            if period.ends_before <= starts_on or period.starts_on > ends_on:
                continue
            count = sum(1 for day in dates if period.holds(day))
            status: PeriodStatus = (
                "met" if count else "missed" if period.ends_before <= today else "open"
            )
            views.append(PeriodView(obligation.meeting_type, period, status, count))
    return views


@dataclass(frozen=True)
class Lapse:
    """A period that closed without its meeting (routine.lapsed), until restored."""

    branch_id: str
    meeting_type: MeetingType
    period: Period


def restored_by(lapses: Iterable[Lapse], meeting_type: str, held_on: date) -> list[Lapse]:
    """The outstanding lapses a meeting of `meeting_type` held on `held_on` restores: those of
    its type whose period began on or before it (a late record makes its own period met)."""
    return [
        lapse
        for lapse in lapses
        if lapse.meeting_type == meeting_type and lapse.period.starts_on <= held_on
    ]


@dataclass(frozen=True)
class Meeting:
    """A meeting recorded for a branch (type, date, attendance)."""

    id: str
    branch_id: str
    meeting_type: MeetingType
    held_on: date
    topic: str
    entitled: int
    present: int
    region_code: str = ""
    organization_ids: tuple[str, ...] = field(default=())


class BranchNotFound(NotFound):
    def __init__(self, branch_id: str) -> None:
        super().__init__(f"branch {branch_id} not found", context={"branch_id": branch_id})


def check_range(starts_on: date, ends_on: date) -> None:
    """A routine is read over at most ten years, forwards."""
    if ends_on < starts_on:
        raise Invalid("to", "is before from")
    if ends_on.year - starts_on.year > 10:
        raise Invalid("to", "is more than ten years after from")


def check_meeting(
    routine: BranchRoutine, held_on: date, today: date, entitled: int, present: int
) -> None:
    """A meeting is recorded for a day that has come, within the branch's life, with no more
    present than entitled."""
    if held_on > today:
        raise Invalid("held_on", "is in the future")
    if present > entitled:
        raise Invalid("present", "is more than entitled")
    if held_on < routine.formed_on or held_on >= routine.ends_before:
        raise RuleBroken(
            "meeting_within_branch_life",
            f"branch {routine.branch_id} lived from {routine.formed_on}"
            + (f" until {routine.dissolved_on}" if routine.dissolved_on else "")
            + f"; a meeting on {held_on} is outside it",
            routine.organization_ids,
            context={"formed_on": routine.formed_on.isoformat(), "held_on": held_on.isoformat()},
        )

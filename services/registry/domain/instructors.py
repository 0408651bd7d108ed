"""Party-building instructors (党建指导员) and their assignments to organisations (包联).

One instructor guides several organisations; each assignment has a start and, optionally, a
planned end, and is ended explicitly. An instructor guides organisations inside their own region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from libs.common.identity import mask_name
from libs.common.personal import mask_attributes
from libs.common.refusals import NotFound, RuleBroken
from services.registry.domain.branches import within


class InstructorNotFound(NotFound):
    """No such instructor, or none in the caller's region."""

    def __init__(self, instructor_id: str) -> None:
        super().__init__("instructor not found")
        self.instructor_id = instructor_id


class AssignmentNotFound(NotFound):
    """No such assignment of this instructor (or the instructor is not the caller's)."""

    def __init__(self, assignment_id: str) -> None:
        super().__init__("assignment not found")
        self.assignment_id = assignment_id


@dataclass(frozen=True)
class Instructor:
    """An instructor; the name is kept for the office, and shown masked (a person's name)."""

    id: str
    name: str
    region_code: str

    def __post_init__(self) -> None:
        mask_attributes(self, "name")

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)


@dataclass(frozen=True)
class Assignment:
    id: str
    instructor_id: str
    organization_id: str
    region_code: str
    starts_on: date
    ends_on: date | None = None
    ended_on: date | None = None

    @property
    def active(self) -> bool:
        return self.ended_on is None

    def overlaps(self, starts_on: date, ends_on: date | None) -> bool:
        mine_end = self.ended_on or self.ends_on
        if mine_end is not None and mine_end < starts_on:
            return False
        return not (ends_on is not None and ends_on < self.starts_on)


def check_assignment(
    instructor: Instructor,
    organization_id: str,
    organization_region: str,
    organization_active: bool,
    starts_on: date,
    ends_on: date | None,
    existing: list[Assignment],
) -> None:
    """Refuse an assignment outside the instructor's region, backwards, or doubling another."""
    if not organization_active:
        raise RuleBroken(
            "organization_active", "a deregistered organisation is not assigned", [organization_id]
        )
    if not within(organization_region, instructor.region_code):
        raise RuleBroken(
            "instructor_region",
            f"the organisation is outside the instructor's region {instructor.region_code}",
            [organization_id],
        )
    if ends_on is not None and ends_on < starts_on:
        raise RuleBroken(
            "assignment_dates", "an assignment cannot end before it starts", [organization_id]
        )
    if any(
        a.organization_id == organization_id and a.active and a.overlaps(starts_on, ends_on)
        for a in existing
    ):
        raise RuleBroken(
            "one_assignment_per_organization",
            "the instructor is already assigned to this organisation for these dates",
            [organization_id],
        )


def ended(assignment: Assignment, on: date) -> Assignment:
    if not assignment.active:
        raise RuleBroken(
            "assignment_active", "the assignment has already ended", [assignment.organization_id]
        )
    if on < assignment.starts_on:
        raise RuleBroken(
            "assignment_dates",
            "an assignment cannot end before it starts",
            [assignment.organization_id],
        )
    return replace(assignment, ended_on=on)

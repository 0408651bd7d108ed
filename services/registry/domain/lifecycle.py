"""An organisation's life cycle in the ledger: leaving it (注销, 吊销, moved away) and coming back.

Leaving reaches everything that depends on the organisation, in the same transaction: the branch
covering it (`branches.plan_departure`), its instructors' assignments (ended), and the members
whose relationship was transferred to it (moved out, `Member.moved_out`). Coming back opens the
file again as it was, uncovered: the branch and assignments it had are history.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from libs.common.refusals import Conflict
from services.registry.domain.instructors import Assignment
from services.registry.domain.organizations import DuplicateCreditCode, Organization


class NotDeregistered(Conflict):
    """Only a deregistered file is reactivated."""

    def __init__(self, organization_id: str) -> None:
        super().__init__(
            "the organisation is in the ledger already; only a deregistered file is reactivated",
            context={"organization_id": organization_id},
        )
        self.organization_id = organization_id


class DeregisteredCreditCode(DuplicateCreditCode):
    """The credit code is a deregistered file's: it is reactivated, not registered again."""

    def __init__(self, credit_code: str, existing_id: str) -> None:
        super().__init__(credit_code, existing_id)
        self.message = (
            f"credit code {credit_code} is a deregistered file's: reactivate it "
            f"(POST /v1/organizations/{existing_id}/reactivate)"
        )
        self.context = {**self.context, "existing_status": "deregistered"}


def assignment_ended_with(assignment: Assignment, on: date) -> Assignment:
    """An assignment the organisation's departure ends on `on`; one that was still to start
    ends before it started (it never ran: `ended_on` < `starts_on`)."""
    return replace(assignment, ended_on=on)


def deregistered(
    organization: Organization,
    *,
    on: date,
    reason: str,
    now: datetime,
    moved_full: int = 0,
    moved_probationary: int = 0,
) -> Organization:
    """The file closed on `on`, without the members moved out with it."""
    return replace(
        organization,
        status="deregistered",
        deregistered_on=on,
        deregistration_reason=reason,
        full_members=max(0, organization.full_members - moved_full),
        probationary_members=max(0, organization.probationary_members - moved_probationary),
        version=organization.version + 1,
        updated_at=now,
    )


def reactivated(organization: Organization, *, now: datetime) -> Organization:
    """The deregistered file open again (no branch covers it: its branch ended with it)."""
    if organization.active:
        raise NotDeregistered(organization.id)
    return replace(
        organization,
        status="active",
        deregistered_on=None,
        deregistration_reason=None,
        branch_id=None,
        branch_kind=None,
        version=organization.version + 1,
        updated_at=now,
    )

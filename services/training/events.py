"""The events the training service publishes. It owns their schemas (see docs/events/).

Routine events carry the branch, its region and the organisations it covers, so a consumer
(coverage, for effective coverage 有效覆盖) needs nothing else to place them. No event carries a
person's name, ID number or phone, nor a meeting's free-text topic.
"""

from datetime import date
from typing import Literal

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue, example

# The examples: one branch in Pingcheng district, Datong (140212), its routine and a candidate.
_BRANCH = {
    "branch_id": "deaf7bd5-3554-4602-ad7d-a89f2b67dcd2",
    "region_code": "140212101",
    "organization_ids": ["8fff274c-07a8-4ace-8b33-86619e8e6388"],
}
_MEETING_ID = "6eb7547b-0507-4a51-a3b7-c3dce9c0bc40"
_PERIOD = {
    **_BRANCH,
    "obligation": "party_lecture",
    "frequency": "quarter",
    "period": "2026-Q3",
    "period_starts_on": "2026-07-01",
    "period_ends_on": "2026-09-30",
}
_CANDIDATE = {
    "candidate_id": "02f2029d-0852-4638-994a-8f56a8c59730",
    "organization_id": "8fff274c-07a8-4ace-8b33-86619e8e6388",
    "branch_id": "deaf7bd5-3554-4602-ad7d-a89f2b67dcd2",
    "region_code": "140212101",
}


MeetingType = Literal[
    "members_meeting",
    "committee_meeting",
    "group_meeting",
    "party_lecture",
    "theme_day",
    "life_meeting",
    "appraisal",
]
Frequency = Literal["month", "quarter", "year"]


class RoutineBranch(IntegrationEvent):
    """The branch every routine event is about, as the registry last announced it."""

    branch_id: str
    region_code: str = Field(description="The branch's statistical division code")
    organization_ids: list[str] = Field(description="Organisations the branch covers")


@catalogue.register(
    "pb.training.meeting.recorded", version=1, producer="training", subject_field="meeting_id"
)
class MeetingRecordedV1(RoutineBranch):
    """Emitted when a branch records a meeting of its routine (三会一课)."""

    model_config = example(
        {
            **_BRANCH,
            "meeting_id": _MEETING_ID,
            "meeting_type": "members_meeting",
            "held_on": "2026-11-12",
            "period": "2026-Q4",
            "entitled": 5,
            "present": 5,
        }
    )

    meeting_id: str
    meeting_type: MeetingType
    held_on: date
    period: str = Field(description="The period of its obligation it falls in: 2026-11, 2026-Q4")
    entitled: int = Field(ge=0, description="Members entitled to attend")
    present: int = Field(ge=0, description="Members present")


class RoutinePeriod(RoutineBranch):
    """One period of one obligation of a branch's routine."""

    obligation: MeetingType = Field(description="The meeting the period owed")
    frequency: Frequency
    period: str = Field(description="2026-11 (month), 2026-Q4 (quarter), 2026 (year)")
    period_starts_on: date
    period_ends_on: date = Field(description="The period's last day")


@catalogue.register(
    "pb.training.routine.lapsed", version=1, producer="training", subject_field="branch_id"
)
class RoutineLapsedV1(RoutinePeriod):
    """Emitted when a period of a branch's routine closed without its meeting (judged daily)."""

    model_config = example({**_PERIOD, "judged_on": "2026-10-01"})

    judged_on: date


@catalogue.register(
    "pb.training.routine.restored", version=1, producer="training", subject_field="branch_id"
)
class RoutineRestoredV1(RoutinePeriod):
    """Emitted when a meeting is recorded that restores a lapsed obligation of a branch."""

    model_config = example(
        {**_PERIOD, "meeting_id": _MEETING_ID, "held_on": "2026-10-09", "period_met": False}
    )

    meeting_id: str = Field(description="The meeting that restored it")
    held_on: date
    period_met: bool = Field(
        description="True when the meeting was held inside the lapsed period (recorded late), "
        "which is then met; false when it was held in a later period"
    )


class CandidateFacts(IntegrationEvent):
    """Where a candidate of the pipeline belongs: an opaque id, never a name or ID number."""

    candidate_id: str = Field(description="Opaque id of the candidate in the training service")
    organization_id: str = Field(description="The organisation the person works in")
    branch_id: str = Field(description="The branch developing the person")
    region_code: str


@catalogue.register(
    "pb.training.member.admitted", version=1, producer="training", subject_field="candidate_id"
)
class MemberAdmittedV1(CandidateFacts):
    """Emitted when the committee approves a branch's admission: a new probationary member."""

    model_config = example(
        {
            **_CANDIDATE,
            "membership": "probationary",
            "admitted_on": "2026-07-01",
            "approved_on": "2026-07-20",
        }
    )

    membership: Literal["probationary"] = "probationary"
    admitted_on: date = Field(description="The branch meeting: probation runs from it")
    approved_on: date


@catalogue.register(
    "pb.training.member.confirmed", version=1, producer="training", subject_field="candidate_id"
)
class MemberConfirmedV1(CandidateFacts):
    """Emitted when a probationary member becomes a full member (转正)."""

    model_config = example({**_CANDIDATE, "membership": "full", "confirmed_on": "2027-07-01"})

    membership: Literal["full"] = "full"
    confirmed_on: date


@catalogue.register(
    "pb.training.member.cancelled", version=1, producer="training", subject_field="candidate_id"
)
class MemberCancelledV1(CandidateFacts):
    """Emitted when a probationary member's admission is cancelled: no longer counted."""

    model_config = example(
        {**_CANDIDATE, "membership": "probationary", "cancelled_on": "2027-01-15"}
    )

    membership: Literal["probationary"] = "probationary"
    cancelled_on: date


DeadlineKind = Literal["talk", "approval", "probation"]


@catalogue.register(
    "pb.training.deadline.approaching",
    version=1,
    producer="training",
    subject_field="candidate_id",
)
class DeadlineApproachingV1(CandidateFacts):
    """Emitted once when a pipeline deadline (talk, approval, probation end) comes near."""

    model_config = example({**_CANDIDATE, "deadline": "probation", "due_on": "2027-07-01"})

    deadline: DeadlineKind
    due_on: date


@catalogue.register(
    "pb.training.deadline.breached", version=1, producer="training", subject_field="candidate_id"
)
class DeadlineBreachedV1(CandidateFacts):
    """Emitted once when a pipeline deadline passed with its step not taken."""

    model_config = example({**_CANDIDATE, "deadline": "talk", "due_on": "2026-03-05"})

    deadline: DeadlineKind
    due_on: date

"""The events the stations service publishes. It owns their schemas (see docs/events/).

No event carries a person's name, ID number or phone: workers appear by opaque id or keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue

PRODUCER = "stations"


class StationState(IntegrationEvent):
    """The facts of one station every station event carries (its state after it)."""

    station_id: str
    version: int = Field(default=1, ge=1, description="Version of the station after this")
    name: str = Field(description="The station's name (a place, not a person)")
    kind: str = Field(description="warm_new, courier, rider, driver_home, union, love, ...")
    region_code: str = Field(description="Statistical division code (2 to 12 digits)")
    latitude: float = Field(ge=-90, le=90, description="WGS-84")
    longitude: float = Field(ge=-180, le=180, description="WGS-84")
    facilities: list[str] = Field(default_factory=list)
    open_24h: bool = False
    operator_kind: str = Field(description="organization, mass_organization or office")
    operator_id: str | None = Field(default=None, description="The registry's id, if any")
    meets_standard: bool = Field(description="有标识、有场地、有设备: sign, space and equipment")
    opened_on: date


@catalogue.register(
    "pb.stations.station.opened", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationOpenedV1(StationState):
    """Emitted when a station is entered (it counts as open from `opened_on`)."""

    opened_at: datetime


@catalogue.register(
    "pb.stations.station.changed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationChangedV1(StationState):
    """Emitted when a station's facts change (facilities, hours, place, operator, standard)."""

    changed: list[str] = Field(description="Names of the fields that changed")
    changed_at: datetime


@catalogue.register(
    "pb.stations.station.closed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationClosedV1(IntegrationEvent):
    """Emitted when a station closes; it counts until `closed_on` (exclusive)."""

    station_id: str
    version: int = Field(ge=1)
    region_code: str
    closed_on: date
    reason: str


class RequestMove(IntegrationEvent):
    """What every request event after placing carries: the request, its region and state."""

    request_id: str
    version: int = Field(ge=1, description="Version of the request after this")
    region_code: str
    category: str = Field(description="need, micro_wish, suggestion or report")
    state: str = Field(description="The request's state after this")
    unit: str | None = Field(default=None, description="The unit it is dispatched to, if any")
    at: datetime


@catalogue.register(
    "pb.stations.request.placed", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestPlacedV1(RequestMove):
    """Emitted when a worker, organisation or station places a request (点单)."""

    requester_kind: str = Field(description="worker, organization or station")
    requester_id: str = Field(description="The requester's opaque id")
    station_id: str | None = None
    latitude: float | None = Field(default=None, description="WGS-84, for a report (随手拍)")
    longitude: float | None = None


@catalogue.register(
    "pb.stations.request.dispatched", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestDispatchedV1(RequestMove):
    """Emitted when the office dispatches a request to a unit (派单)."""

    accept_due_at: datetime = Field(description="When the unit must have accepted it by")


@catalogue.register(
    "pb.stations.request.accepted", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestAcceptedV1(RequestMove):
    """Emitted when the unit accepts a request (接单)."""

    on_time: bool = Field(description="Accepted by its accept deadline")
    resolve_due_at: datetime


@catalogue.register(
    "pb.stations.request.returned", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestReturnedV1(RequestMove):
    """Emitted when a unit returns a request to the office (it is placed again)."""

    returned_by: str = Field(description="The unit that returned it")
    reason: str


@catalogue.register(
    "pb.stations.request.resolved", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestResolvedV1(RequestMove):
    """Emitted when the unit resolves a request."""

    on_time: bool = Field(description="Accepted and resolved by their deadlines")
    requester_kind: str
    requester_id: str


@catalogue.register(
    "pb.stations.request.rated", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestRatedV1(RequestMove):
    """Emitted when the requester rates a resolved request (评单, 1–5; the comment stays here)."""

    score: int = Field(ge=1, le=5)
    requester_kind: str
    requester_id: str


@catalogue.register(
    "pb.stations.request.closed", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestClosedV1(RequestMove):
    """Emitted when the office closes a request."""

    reason: str


@catalogue.register(
    "pb.stations.request.reopened", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestReopenedV1(RequestMove):
    """Emitted when the office reopens a resolved, rated or closed request (placed again)."""

    reason: str


class RequestTimer(IntegrationEvent):
    """What every SLA timer event carries."""

    request_id: str
    region_code: str
    category: str
    unit: str | None = None
    stage: str = Field(description="accept or resolve: the deadline concerned")
    due_at: datetime


@catalogue.register(
    "pb.stations.request.reminded", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestRemindedV1(RequestTimer):
    """Emitted when a request's deadline draws near (a reminder to its unit)."""


@catalogue.register(
    "pb.stations.request.overdue", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestOverdueV1(RequestTimer):
    """Emitted when a request passes its accept or resolve deadline."""


@catalogue.register(
    "pb.stations.request.escalated", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestEscalatedV1(RequestTimer):
    """Emitted when an overdue request is escalated to the office above its region."""

    to_region_code: str = Field(description="The office above (the parent division)")


@catalogue.register(
    "pb.stations.worker.registered", version=1, producer=PRODUCER, subject_field="worker_id"
)
class WorkerRegisteredV1(IntegrationEvent):
    """Emitted when a worker of the new employment groups registers (no name, no phone)."""

    worker_id: str
    region_code: str
    platform: str = Field(description="The platform company or fleet the worker works for")
    occupation: str = Field(description="courier, food_delivery_rider, ride_hailing_driver, ...")
    registered_at: datetime


@catalogue.register(
    "pb.stations.worker.checked_in", version=1, producer=PRODUCER, subject_field="worker_id"
)
class WorkerCheckedInV1(IntegrationEvent):
    """Emitted when a worker checks in with a community (社区报到), with the roles taken there."""

    worker_id: str
    check_in_id: str
    region_code: str = Field(description="The worker's region")
    community_code: str = Field(description="The community's division code (or its region's)")
    roles: list[str] = Field(description="grid_member (兼职网格员), info_reporter, volunteer")
    checked_in_on: date


@catalogue.register(
    "pb.stations.worker.member_declared",
    version=1,
    producer=PRODUCER,
    subject_field="worker_id",
)
class WorkerMemberDeclaredV1(IntegrationEvent):
    """Emitted when a worker declares being a Party member (党员骑手): keyed hashes and region
    only, for the registry to record a declared mobile member (流动党员)."""

    worker_id: str
    region_code: str = Field(description="Where the worker works (the declaring region)")
    community_code: str | None = Field(default=None, description="Where the worker checked in")
    match_key: str = Field(
        description="HMAC-SHA256 (hex) of the normalised mobile number under the shared identity "
        "key, label 'phone': the registry's own keyed hash of that number"
    )
    id_match_key: str | None = Field(
        default=None,
        description="HMAC-SHA256 (hex) of the normalised resident ID number, label 'id_number', "
        "when the worker gave one when declaring",
    )
    declared_on: date


@catalogue.register(
    "pb.stations.points.awarded", version=1, producer=PRODUCER, subject_field="transaction_id"
)
class PointsAwardedV1(IntegrationEvent):
    """Emitted when points are awarded to a worker (once per idempotency key)."""

    transaction_id: str
    worker_id: str
    region_code: str
    reason: str = Field(description="party_life, volunteer, report, governance, request_helped")
    points: int = Field(ge=1)
    request_id: str | None = Field(default=None, description="The request that earned them")
    volunteer_task_id: str | None = Field(
        default=None, description="The volunteer task whose rated service earned them"
    )
    awarded_at: datetime


@catalogue.register(
    "pb.stations.points.redeemed", version=1, producer=PRODUCER, subject_field="transaction_id"
)
class PointsRedeemedV1(IntegrationEvent):
    """Emitted when a worker redeems points for a reward."""

    transaction_id: str
    worker_id: str
    region_code: str
    reward_id: str
    points: int = Field(ge=1)
    redeemed_at: datetime


@catalogue.register(
    "pb.stations.visits.counted", version=1, producer=PRODUCER, subject_field="station_id"
)
class VisitsCountedV1(IntegrationEvent):
    """Emitted once a day per station for the day before (and again if its count is corrected)."""

    station_id: str
    region_code: str
    day: date = Field(description="The day counted (Asia/Shanghai)")
    visits: int = Field(ge=0, description="The station's own count when entered, else scanned")
    scanned: int = Field(ge=0, description="Scanned check-ins that day")
    entered: int | None = Field(default=None, ge=0, description="The count the station entered")


class VolunteerTaskState(IntegrationEvent):
    """What every volunteer task event carries: the task, its region and its state after it
    (never its title or description, which are free text, nor who signed up)."""

    task_id: str
    version: int = Field(ge=1, description="Version of the task after this")
    region_code: str
    state: str = Field(description="open, completed or cancelled")
    station_id: str | None = Field(default=None, description="The station it is held at")
    community_code: str | None = Field(default=None, description="The community it serves")
    starts_at: datetime
    ends_at: datetime
    places: int = Field(ge=1)
    points: int = Field(ge=0, description="Awarded to each participant whose service is rated")


@catalogue.register(
    "pb.stations.volunteer_task.posted", version=1, producer=PRODUCER, subject_field="task_id"
)
class VolunteerTaskPostedV1(VolunteerTaskState):
    """Emitted when an office posts a volunteer task (志愿服务) for workers to sign up for."""

    posted_at: datetime


@catalogue.register(
    "pb.stations.volunteer_task.completed", version=1, producer=PRODUCER, subject_field="task_id"
)
class VolunteerTaskCompletedV1(VolunteerTaskState):
    """Emitted when the office completes a volunteer task (its participants may then be
    rated, each rating awarding the task's points once: `points.awarded`)."""

    signed_up: int = Field(ge=0, description="Participants holding a place at the end")
    attended: int = Field(ge=0, description="Participants who took part")
    completed_at: datetime


@catalogue.register(
    "pb.stations.volunteer_task.cancelled", version=1, producer=PRODUCER, subject_field="task_id"
)
class VolunteerTaskCancelledV1(VolunteerTaskState):
    """Emitted when the office cancels a volunteer task: nobody is rated or awarded for it
    (the reason stays in the audit trail)."""

    signed_up: int = Field(ge=0, description="Participants who held a place")
    cancelled_at: datetime

"""The events the stations service publishes. It owns their schemas (see docs/events/).

No event carries a person's name, ID number or phone: workers appear by opaque id or keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue, example

# The examples: a riders' station in Pingcheng district, Datong (140212), and one worker's
# request through it. Ids are the UUIDs the services give.
_STATION_ID = "fa5cb742-9823-487a-a546-4475f0ba7ce4"
_REQUEST_ID = "86345998-9242-478e-abc1-0d659d177f02"
_WORKER_ID = "701f982f-7777-48cf-800d-70fbbe9275ef"
_OPERATOR_ID = "8fff274c-07a8-4ace-8b33-86619e8e6388"
_TRANSACTION_ID = "a7896ee9-494f-4e7d-a814-6b99514bd239"
_REGION = "140212101"
_STATION = {
    "station_id": _STATION_ID,
    "version": 1,
    "name": "平旺街道暖新驿站",
    "kind": "warm_new",
    "region_code": _REGION,
    "latitude": 40.0712,
    "longitude": 113.2934,
    "facilities": ["water", "charging", "microwave", "rest_area"],
    "open_24h": False,
    "operator_kind": "organization",
    "operator_id": _OPERATOR_ID,
    "meets_standard": True,
    "opened_on": "2026-06-01",
}
_REQUEST = {
    "request_id": _REQUEST_ID,
    "version": 2,
    "region_code": _REGION,
    "category": "need",
    "state": "dispatched",
    "unit": "平旺街道社区服务中心",
    "at": "2026-11-20T02:10:00Z",
}
_TIMER = {
    "request_id": _REQUEST_ID,
    "region_code": _REGION,
    "category": "need",
    "unit": "平旺街道社区服务中心",
    "stage": "accept",
    "due_at": "2026-11-21T02:10:00Z",
}
_TASK = {
    "task_id": "3c1e9a57-2b7d-4f0e-9a64-5d8b2e7f1c90",
    "version": 1,
    "region_code": _REGION,
    "state": "open",
    "station_id": _STATION_ID,
    "community_code": "140212101001",
    "starts_at": "2026-12-12T01:00:00Z",
    "ends_at": "2026-12-12T04:00:00Z",
    "places": 8,
    "points": 20,
}


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

    model_config = example({**_STATION, "opened_at": "2026-06-01T01:00:00Z"})

    opened_at: datetime


@catalogue.register(
    "pb.stations.station.changed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationChangedV1(StationState):
    """Emitted when a station's facts change (facilities, hours, place, operator, standard)."""

    model_config = example(
        {
            **_STATION,
            "version": 2,
            "open_24h": True,
            "changed": ["open_24h"],
            "changed_at": "2026-09-01T00:30:00Z",
        }
    )

    changed: list[str] = Field(description="Names of the fields that changed")
    changed_at: datetime


@catalogue.register(
    "pb.stations.station.closed", version=1, producer=PRODUCER, subject_field="station_id"
)
class StationClosedV1(IntegrationEvent):
    """Emitted when a station closes; it counts until `closed_on` (exclusive)."""

    model_config = example(
        {
            "station_id": _STATION_ID,
            "version": 3,
            "region_code": _REGION,
            "closed_on": "2027-03-01",
            "reason": "场地到期",
        }
    )

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

    model_config = example(
        {
            **_REQUEST,
            "version": 1,
            "state": "placed",
            "unit": None,
            "at": "2026-11-20T01:40:00Z",
            "requester_kind": "worker",
            "requester_id": _WORKER_ID,
            "station_id": _STATION_ID,
            "latitude": None,
            "longitude": None,
        }
    )

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

    model_config = example({**_REQUEST, "accept_due_at": "2026-11-21T02:10:00Z"})

    accept_due_at: datetime = Field(description="When the unit must have accepted it by")


@catalogue.register(
    "pb.stations.request.accepted", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestAcceptedV1(RequestMove):
    """Emitted when the unit accepts a request (接单)."""

    model_config = example(
        {
            **_REQUEST,
            "version": 3,
            "state": "accepted",
            "at": "2026-11-20T06:00:00Z",
            "on_time": True,
            "resolve_due_at": "2026-11-23T06:00:00Z",
        }
    )

    on_time: bool = Field(description="Accepted by its accept deadline")
    resolve_due_at: datetime


@catalogue.register(
    "pb.stations.request.returned", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestReturnedV1(RequestMove):
    """Emitted when a unit returns a request to the office (it is placed again)."""

    model_config = example(
        {
            **_REQUEST,
            "version": 3,
            "state": "placed",
            "unit": None,
            "at": "2026-11-20T05:00:00Z",
            "returned_by": "平旺街道社区服务中心",
            "reason": "不属于本单位职责",
        }
    )

    returned_by: str = Field(description="The unit that returned it")
    reason: str


@catalogue.register(
    "pb.stations.request.resolved", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestResolvedV1(RequestMove):
    """Emitted when the unit resolves a request."""

    model_config = example(
        {
            **_REQUEST,
            "version": 4,
            "state": "resolved",
            "at": "2026-11-22T08:30:00Z",
            "on_time": True,
            "requester_kind": "worker",
            "requester_id": _WORKER_ID,
        }
    )

    on_time: bool = Field(description="Accepted and resolved by their deadlines")
    requester_kind: str
    requester_id: str


@catalogue.register(
    "pb.stations.request.rated", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestRatedV1(RequestMove):
    """Emitted when the requester rates a resolved request (评单, 1–5; the comment stays here)."""

    model_config = example(
        {
            **_REQUEST,
            "version": 5,
            "state": "rated",
            "at": "2026-11-23T01:00:00Z",
            "score": 5,
            "requester_kind": "worker",
            "requester_id": _WORKER_ID,
        }
    )

    score: int = Field(ge=1, le=5)
    requester_kind: str
    requester_id: str


@catalogue.register(
    "pb.stations.request.closed", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestClosedV1(RequestMove):
    """Emitted when the office closes a request."""

    model_config = example(
        {
            **_REQUEST,
            "version": 6,
            "state": "closed",
            "at": "2026-11-30T01:00:00Z",
            "reason": "已办结",
        }
    )

    reason: str


@catalogue.register(
    "pb.stations.request.reopened", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestReopenedV1(RequestMove):
    """Emitted when the office reopens a resolved, rated or closed request (placed again)."""

    model_config = example(
        {
            **_REQUEST,
            "version": 7,
            "state": "placed",
            "unit": None,
            "at": "2026-12-02T01:00:00Z",
            "reason": "问题反复",
        }
    )

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

    model_config = example(_TIMER)


@catalogue.register(
    "pb.stations.request.overdue", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestOverdueV1(RequestTimer):
    """Emitted when a request passes its accept or resolve deadline."""

    model_config = example(_TIMER)


@catalogue.register(
    "pb.stations.request.escalated", version=1, producer=PRODUCER, subject_field="request_id"
)
class RequestEscalatedV1(RequestTimer):
    """Emitted when an overdue request is escalated to the office above its region."""

    model_config = example({**_TIMER, "to_region_code": "140212"})

    to_region_code: str = Field(description="The office above (the parent division)")


@catalogue.register(
    "pb.stations.worker.registered", version=1, producer=PRODUCER, subject_field="worker_id"
)
class WorkerRegisteredV1(IntegrationEvent):
    """Emitted when a worker of the new employment groups registers (no name, no phone)."""

    model_config = example(
        {
            "worker_id": _WORKER_ID,
            "region_code": _REGION,
            "platform": "美团",
            "occupation": "food_delivery_rider",
            "registered_at": "2026-10-12T03:00:00Z",
        }
    )

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

    model_config = example(
        {
            "worker_id": _WORKER_ID,
            "check_in_id": "ba83a020-4140-4e03-93a8-102bbbde9734",
            "region_code": _REGION,
            "community_code": "140212101001",
            "roles": ["grid_member", "info_reporter"],
            "checked_in_on": "2026-10-15",
        }
    )

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

    model_config = example(
        {
            "worker_id": _WORKER_ID,
            "region_code": _REGION,
            "community_code": "140212101001",
            "match_key": "3f8a0c5e9b1d4a7f2c6e8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a",
            "id_match_key": None,
            "declared_on": "2026-10-20",
        }
    )

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

    model_config = example(
        {
            "transaction_id": _TRANSACTION_ID,
            "worker_id": _WORKER_ID,
            "region_code": _REGION,
            "reason": "report",
            "points": 10,
            "request_id": _REQUEST_ID,
            "volunteer_task_id": None,
            "awarded_at": "2026-11-22T08:31:00Z",
        }
    )

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

    model_config = example(
        {
            "transaction_id": "b53c5223-0816-4df9-aba8-068bc1e10eb0",
            "worker_id": _WORKER_ID,
            "region_code": _REGION,
            "reward_id": "8229aa76-0144-453f-9ec3-fccbc3f98507",
            "points": 30,
            "redeemed_at": "2026-12-05T04:00:00Z",
        }
    )

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

    model_config = example(
        {
            "station_id": _STATION_ID,
            "region_code": _REGION,
            "day": "2026-11-29",
            "visits": 42,
            "scanned": 37,
            "entered": 42,
        }
    )

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

    model_config = example({**_TASK, "posted_at": "2026-12-01T02:00:00Z"})

    posted_at: datetime


@catalogue.register(
    "pb.stations.volunteer_task.completed", version=1, producer=PRODUCER, subject_field="task_id"
)
class VolunteerTaskCompletedV1(VolunteerTaskState):
    """Emitted when the office completes a volunteer task (its participants may then be
    rated, each rating awarding the task's points once: `points.awarded`)."""

    model_config = example(
        {
            **_TASK,
            "version": 3,
            "state": "completed",
            "signed_up": 7,
            "attended": 6,
            "completed_at": "2026-12-12T05:00:00Z",
        }
    )

    signed_up: int = Field(ge=0, description="Participants holding a place at the end")
    attended: int = Field(ge=0, description="Participants who took part")
    completed_at: datetime


@catalogue.register(
    "pb.stations.volunteer_task.cancelled", version=1, producer=PRODUCER, subject_field="task_id"
)
class VolunteerTaskCancelledV1(VolunteerTaskState):
    """Emitted when the office cancels a volunteer task: nobody is rated or awarded for it
    (the reason stays in the audit trail)."""

    model_config = example(
        {
            **_TASK,
            "version": 2,
            "state": "cancelled",
            "signed_up": 3,
            "cancelled_at": "2026-12-10T02:00:00Z",
        }
    )

    signed_up: int = Field(ge=0, description="Participants who held a place")
    cancelled_at: datetime

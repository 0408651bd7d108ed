"""Workers of the new employment groups (新就业群体) and their community check-in (社区报到).

A worker registers (platform, occupation, region; name and phone only hashed and masked), checks
in with a community (a village/community division code, or a named area inside a region) and
may take roles there: part-time grid member 兼职网格员, information reporter 社情传递员, volunteer.
A worker may declare being a Party member (党员骑手); the event that says so carries only keyed
hashes and the region.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from libs.common.refusals import Conflict, Invalid, NotFound, RuleBroken

Occupation = Literal[
    "courier",
    "food_delivery_rider",
    "ride_hailing_driver",
    "truck_driver",
    "live_streamer",
    "other",
]
Role = Literal["grid_member", "info_reporter", "volunteer"]


class WorkerNotFound(NotFound):
    def __init__(self, worker_id: str) -> None:
        super().__init__("worker not found")
        self.worker_id = worker_id


class WorkerAlreadyRegistered(Conflict):
    def __init__(self, worker_id: str) -> None:
        super().__init__(
            "a worker with this phone is already registered",
            fields=[("phone", "already registered")],
            context={"worker_id": worker_id},
        )


@dataclass(frozen=True)
class Worker:
    id: str
    region_code: str
    platform: str
    occupation: Occupation
    name_hash: str
    name_masked: str
    phone_hash: str
    phone_masked: str
    registered_at: datetime
    community_code: str | None = None
    area_name: str | None = None
    roles: tuple[str, ...] = ()
    checked_in_on: date | None = None
    member_declared_on: date | None = None
    version: int = 1


@dataclass(frozen=True)
class CheckIn:
    id: str
    worker_id: str
    community_code: str
    area_name: str | None
    roles: tuple[str, ...]
    checked_in_on: date
    at: datetime


def check_community(community_code: str, area_name: str | None) -> None:
    """A community is a village/community code (12 digits), or a named area inside a region."""
    if len(community_code) < 12 and not area_name:
        raise Invalid(
            "community_code",
            "a village/community code (12 digits), or a region with the area's name",
        )


def check_declare(worker: Worker) -> None:
    if worker.member_declared_on is not None:
        raise RuleBroken(
            "declared_once",
            "the worker has already declared membership",
            context={"worker_id": worker.id},
        )

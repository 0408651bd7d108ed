"""Subscribers of the coverage service to the stations service's events (stream PB_STATIONS):
the new employment groups' figures beside the two rates. Each event type has its own tolerant
model (`extra="ignore"`, checked by the contract tests against the stations' exported schema);
a run of events of one type is written with one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec
from services.coverage.domain.calendar import local_date
from services.coverage.service import new_employment as facts
from services.coverage.store.uow import CoverageUnitOfWork

station_events = ConsumerSpec[CoverageUnitOfWork](name="coverage-stations", stream="PB_STATIONS")

Items = Sequence[tuple[Envelope, Any]]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WorkerRegistered(_Tolerant):
    """What coverage reads of `pb.stations.worker.registered.v1` (no name, no phone)."""

    worker_id: str
    region_code: str
    registered_at: datetime


class WorkerCheckedIn(_Tolerant):
    """What coverage reads of `pb.stations.worker.checked_in.v1`."""

    worker_id: str
    region_code: str
    checked_in_on: date


class StationState(_Tolerant):
    """What coverage reads of `pb.stations.station.opened.v1` and `.changed.v1`."""

    station_id: str
    version: int = 1
    region_code: str
    opened_on: date


class StationClosed(_Tolerant):
    """What coverage reads of `pb.stations.station.closed.v1`."""

    station_id: str
    version: int
    region_code: str
    closed_on: date


class RequestResolved(_Tolerant):
    """What coverage reads of `pb.stations.request.resolved.v1`."""

    request_id: str
    version: int
    region_code: str
    on_time: bool
    at: datetime


class RequestReopened(_Tolerant):
    """What coverage reads of `pb.stations.request.reopened.v1`: no longer resolved."""

    request_id: str
    version: int
    region_code: str


@station_events.on_batch("pb.stations.worker.registered.v1", WorkerRegistered)
async def on_workers_registered(uow: CoverageUnitOfWork, items: Items) -> None:
    await facts.workers_registered(
        uow,
        [
            facts.WorkerRegistered(e.worker_id, e.region_code, local_date(e.registered_at))
            for _, e in items
        ],
    )


@station_events.on_batch("pb.stations.worker.checked_in.v1", WorkerCheckedIn)
async def on_workers_checked_in(uow: CoverageUnitOfWork, items: Items) -> None:
    await facts.workers_checked_in(
        uow, [facts.WorkerCheckedIn(e.worker_id, e.region_code, e.checked_in_on) for _, e in items]
    )


async def _stations(uow: CoverageUnitOfWork, items: Items) -> None:
    await facts.stations_moved(
        uow,
        [
            facts.StationMoved(
                e.station_id,
                e.version,
                e.region_code,
                opened_on=getattr(e, "opened_on", None),
                closed_on=getattr(e, "closed_on", None),
            )
            for _, e in items
        ],
    )


station_events.on_batch("pb.stations.station.opened.v1", StationState)(_stations)
station_events.on_batch("pb.stations.station.changed.v1", StationState)(_stations)
station_events.on_batch("pb.stations.station.closed.v1", StationClosed)(_stations)


@station_events.on_batch("pb.stations.request.resolved.v1", RequestResolved)
async def on_requests_resolved(uow: CoverageUnitOfWork, items: Items) -> None:
    await facts.requests_moved(
        uow,
        [
            facts.RequestMoved(
                e.request_id, e.version, e.region_code, local_date(e.at), on_time=e.on_time
            )
            for _, e in items
        ],
    )


@station_events.on_batch("pb.stations.request.reopened.v1", RequestReopened)
async def on_requests_reopened(uow: CoverageUnitOfWork, items: Items) -> None:
    await facts.requests_moved(
        uow, [facts.RequestMoved(e.request_id, e.version, e.region_code) for _, e in items]
    )

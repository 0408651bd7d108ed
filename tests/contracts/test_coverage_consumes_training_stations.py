"""The training events (effective coverage) and the stations events (the new employment groups)
the coverage service consumes: each is subscribed on its producer's stream, and what coverage
reads of an event made to the producer's exported schema is right."""

from __future__ import annotations

import json

from pydantic import BaseModel

from services.coverage.handlers import RoutineLapsed, RoutineRestored, training_events
from services.coverage.station_handlers import (
    RequestReopened,
    RequestResolved,
    StationClosed,
    StationState,
    WorkerCheckedIn,
    WorkerRegistered,
    station_events,
)
from tests.contracts.examples import example_event
from tests.contracts.test_event_contracts import CONTRACTS, contract_problems, exported_schema
from tools import docs

CONSUMED_TRAINING: dict[str, type[BaseModel]] = {
    "pb.training.routine.lapsed.v1": RoutineLapsed,
    "pb.training.routine.restored.v1": RoutineRestored,
}

CONSUMED_STATIONS: dict[str, type[BaseModel]] = {
    "pb.stations.worker.registered.v1": WorkerRegistered,
    "pb.stations.worker.checked_in.v1": WorkerCheckedIn,
    "pb.stations.station.opened.v1": StationState,
    "pb.stations.station.changed.v1": StationState,
    "pb.stations.station.closed.v1": StationClosed,
    "pb.stations.request.resolved.v1": RequestResolved,
    "pb.stations.request.reopened.v1": RequestReopened,
}


def test_coverage_subscribes_to_exactly_these_on_the_stations_stream() -> None:
    assert station_events.stream == "PB_STATIONS"
    assert {s.event_type: s.model for s in station_events.subscriptions} == CONSUMED_STATIONS
    checked = {
        c.event.type_name
        for c in CONTRACTS
        if c.consumer.service == "coverage" and c.event.type_name.startswith("pb.stations.")
    }
    assert checked == set(CONSUMED_STATIONS)


def test_coverage_subscribes_to_exactly_these_on_the_training_stream() -> None:
    assert training_events.stream == "PB_TRAINING"
    assert {s.event_type: s.model for s in training_events.subscriptions} == CONSUMED_TRAINING
    checked = {
        c.event.type_name
        for c in CONTRACTS
        if c.consumer.service == "coverage" and c.event.type_name.startswith("pb.training.")
    }
    assert checked == set(CONSUMED_TRAINING)


def test_each_model_reads_the_exported_schema() -> None:
    for type_name, model in {**CONSUMED_TRAINING, **CONSUMED_STATIONS}.items():
        assert contract_problems(model, exported_schema(type_name)) == [], type_name


def test_what_coverage_reads_of_a_restored_routine() -> None:
    entry = docs.discover().event("pb.training.routine.restored.v1").entry
    data = json.loads(example_event(entry.model).model_dump_json())
    read = RoutineRestored.model_validate(data)
    assert (read.branch_id, read.obligation, read.period, read.period_met) == (
        data["branch_id"],
        data["obligation"],
        data["period"],
        data["period_met"],
    )
    assert read.period_starts_on.isoformat() == data["period_starts_on"]
    assert read.organization_ids == data["organization_ids"]
    # fields training adds later within v1 do not break the reader
    RoutineRestored.model_validate({**data, "a_new_field": 1})


def test_what_coverage_reads_of_a_resolved_request() -> None:
    entry = docs.discover().event("pb.stations.request.resolved.v1").entry
    data = json.loads(example_event(entry.model).model_dump_json())
    read = RequestResolved.model_validate(data)
    assert (read.request_id, read.version, read.region_code, read.on_time) == (
        data["request_id"],
        data["version"],
        data["region_code"],
        data["on_time"],
    )
    RequestResolved.model_validate({**data, "a_new_field": 1})

"""The registry events the stations service consumes: each is subscribed on the registry's
stream, and what stations reads of an event made to the registry's exported schema is right."""

from __future__ import annotations

import json

from pydantic import BaseModel

from services.stations.handlers import (
    MassOrganization,
    OrganizationDeregistered,
    OrganizationFile,
    OrganizationImported,
    registry_events,
)
from tests.contracts.examples import example_event
from tests.contracts.test_event_contracts import CONTRACTS, contract_problems, exported_schema
from tools import docs

CONSUMED: dict[str, type[BaseModel]] = {
    "pb.registry.organization.registered.v1": OrganizationFile,
    "pb.registry.organization.updated.v1": OrganizationFile,
    "pb.registry.organization.imported.v1": OrganizationImported,
    "pb.registry.organization.reactivated.v1": OrganizationFile,
    "pb.registry.organization.deregistered.v1": OrganizationDeregistered,
    "pb.registry.massorg.established.v1": MassOrganization,
    "pb.registry.massorg.dissolved.v1": MassOrganization,
}


def test_stations_subscribes_to_exactly_these_on_the_registry_stream() -> None:
    assert registry_events.stream == "PB_REGISTRY"
    assert {s.event_type: s.model for s in registry_events.subscriptions} == CONSUMED
    checked = {c.event.type_name for c in CONTRACTS if c.consumer.service == "stations"}
    assert checked == set(CONSUMED)


def test_each_model_reads_the_exported_schema() -> None:
    for type_name, model in CONSUMED.items():
        assert contract_problems(model, exported_schema(type_name)) == [], type_name


def test_what_stations_reads_of_an_organisation_event() -> None:
    entry = docs.discover().event("pb.registry.organization.updated.v1").entry
    event = example_event(entry.model)
    data = json.loads(event.model_dump_json())
    read = OrganizationFile.model_validate(data)
    assert (read.organization_id, read.version, read.name, read.operating_status) == (
        data["organization_id"],
        data["version"],
        data["name"],
        data["operating_status"],
    )
    # fields the registry adds later within v1 do not break the reader
    OrganizationFile.model_validate({**data, "a_new_field": 1})

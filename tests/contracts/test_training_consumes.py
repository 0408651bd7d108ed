"""What the training service reads of the registry: its tolerant models against the registry's
exported schemas (docs/events/schemas), and what it takes from each event."""

from __future__ import annotations

import json
from datetime import date

import pytest

from libs.common.events import Envelope
from services.training import handlers
from tests.contracts.examples import example_event
from tests.contracts.test_event_contracts import CONTRACTS, contract_problems, exported_schema

TRAINING = [c for c in CONTRACTS if c.consumer.durable == "training-registry"]


def test_training_reads_every_branch_event_committees_and_nothing_else() -> None:
    assert sorted(c.event.type_name for c in TRAINING) == [
        "pb.registry.branch.dissolved.v1",
        "pb.registry.branch.formed.v1",
        "pb.registry.branch.reorganized.v1",
        "pb.registry.committee.formed.v1",
    ]
    assert {c.consumer.stream for c in TRAINING} == {"PB_REGISTRY"}


@pytest.mark.parametrize("contract", TRAINING, ids=lambda c: c.event.type_name)
def test_the_registry_exports_what_training_reads(contract: object) -> None:
    schema = exported_schema(contract.event.type_name)  # type: ignore[attr-defined]
    assert contract_problems(contract.consumer.model, schema) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("type_name", "model", "day_field"),
    [
        ("pb.registry.branch.formed.v1", handlers.BranchFormed, "formed_on"),
        ("pb.registry.branch.reorganized.v1", handlers.BranchReorganized, "reorganized_on"),
        ("pb.registry.branch.dissolved.v1", handlers.BranchDissolved, "dissolved_on"),
    ],
)
def test_training_takes_the_branch_and_its_day_from_a_registry_event(
    type_name: str, model: type[handlers.BranchState], day_field: str
) -> None:
    producer = next(c.event.entry.model for c in TRAINING if c.event.type_name == type_name)
    made = example_event(producer, optional=False)
    envelope = Envelope.wrap(made, source="/pb/registry")
    read = model.model_validate(json.loads(envelope.data))
    sent = made.model_dump()
    assert read.branch_id == sent["branch_id"]
    assert read.organization_ids == sent["organization_ids"]
    assert isinstance(getattr(read, day_field), date)
    assert getattr(read, day_field) == sent[day_field]


def test_training_takes_a_committee_as_the_registry_announced_it() -> None:
    producer = next(
        c.event.entry.model
        for c in TRAINING
        if c.event.type_name == "pb.registry.committee.formed.v1"
    )
    made = example_event(producer, optional=False)
    envelope = Envelope.wrap(made, source="/pb/registry")
    read = handlers.CommitteeFormed.model_validate(json.loads(envelope.data))
    sent = made.model_dump()
    assert (read.committee_id, read.region_code, read.formed_on) == (
        sent["committee_id"],
        sent["region_code"],
        sent["formed_on"],
    )

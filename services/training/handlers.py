"""Subscribers of the training service: the registry's branch events start, change and end each
branch's routine (三会一课); its committee events say who may approve an admission.

Each event type has its own tolerant model (`extra="ignore"`, checked by
tests/contracts/test_training_consumes.py against the registry's exported schema) and is applied
a run at a time in stream order.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from libs.common.events import Envelope
from libs.common.inbox import ConsumerSpec
from libs.common.text import EventText
from services.training.service.candidates import CommitteeFormedIn, committees_formed
from services.training.service.routine import BranchChange, branches_changed
from services.training.store.uow import TrainingUnitOfWork

registry_events = ConsumerSpec[TrainingUnitOfWork](name="training-registry", stream="PB_REGISTRY")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BranchState(_Tolerant):
    """What training reads of every `pb.registry.branch.*` event: the branch after it."""

    branch_id: str
    version: int = 1
    kind: Literal["standalone", "joint", "temporary"]
    name: EventText = ""
    region_code: str
    organization_ids: list[str]


class BranchFormed(BranchState):
    """What training reads of `pb.registry.branch.formed.v1`."""

    formed_on: date


class BranchReorganized(BranchState):
    """What training reads of `pb.registry.branch.reorganized.v1`."""

    reorganized_on: date


class BranchDissolved(BranchState):
    """What training reads of `pb.registry.branch.dissolved.v1`."""

    dissolved_on: date


class CommitteeFormed(_Tolerant):
    """What training reads of `pb.registry.committee.formed.v1`."""

    committee_id: str
    kind: str
    name: EventText = ""
    region_code: str
    formed_on: date


def _change(event: BranchState, on: date, *, dissolved: bool = False) -> BranchChange:
    return BranchChange(
        branch_id=event.branch_id,
        version=event.version,
        kind=event.kind,
        name=event.name,
        region_code=event.region_code,
        organization_ids=tuple(sorted(set(event.organization_ids))),
        on=on,
        dissolved=dissolved,
    )


@registry_events.on_batch("pb.registry.branch.formed.v1", BranchFormed)
async def on_branches_formed(uow: TrainingUnitOfWork, items: list[tuple[Envelope, Any]]) -> None:
    await branches_changed(uow, [_change(e, e.formed_on) for _, e in items])


@registry_events.on_batch("pb.registry.branch.reorganized.v1", BranchReorganized)
async def on_branches_reorganized(
    uow: TrainingUnitOfWork, items: list[tuple[Envelope, Any]]
) -> None:
    await branches_changed(uow, [_change(e, e.reorganized_on) for _, e in items])


@registry_events.on_batch("pb.registry.branch.dissolved.v1", BranchDissolved)
async def on_branches_dissolved(uow: TrainingUnitOfWork, items: list[tuple[Envelope, Any]]) -> None:
    await branches_changed(uow, [_change(e, e.dissolved_on, dissolved=True) for _, e in items])


@registry_events.on_batch("pb.registry.committee.formed.v1", CommitteeFormed)
async def on_committees_formed(uow: TrainingUnitOfWork, items: list[tuple[Envelope, Any]]) -> None:
    await committees_formed(
        uow,
        [
            CommitteeFormedIn(e.committee_id, e.kind, e.name, e.region_code, e.formed_on)
            for _, e in items
        ],
    )

"""Subscribers of the coverage service: registry events (and training's judgements of the
branches' routine, for effective coverage) applied to its projection.

Each event type coverage reads has its own tolerant model here (`extra="ignore"`, checked by the
contract tests against the registry's exported schema) and is applied a batch at a time: the
inbox hands over runs of consecutive events of one type, which are noted on the batch's
`Projector` (the consumer's batch scope), and the projector applies the whole batch with a
handful of statements as the scope closes. `PROJECTED` is also what the rebuild replays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Envelope
from libs.common.inbox import BatchHandler, BatchScope, ConsumerSpec
from libs.common.text import EventText
from services.coverage.domain.facts import CoverageFacts
from services.coverage.service.projection import (
    BranchChanged,
    LinkChanged,
    OrganizationFiled,
    OrganizationLeft,
    Projector,
    RoutineJudged,
)
from services.coverage.store.uow import CoverageUnitOfWork

# Each applies one ordered stream with a single writer: deduplicated by the last stream sequence
# applied (stored with the projection's writes), with no inbox row per event.
registry_events = ConsumerSpec[CoverageUnitOfWork](
    name="coverage-registry", stream="PB_REGISTRY", dedupe="sequence"
)
training_events = ConsumerSpec[CoverageUnitOfWork](
    name="coverage-training", stream="PB_TRAINING", dedupe="sequence"
)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OrganizationFile(_Tolerant):
    """The organisation's state every organisation event carries, as coverage reads it."""

    organization_id: str
    version: int = 1
    credit_code: str = ""
    name: EventText = ""
    kind: str
    region_code: str
    industry_code: str | None = None
    staff_count: int | None = None
    area_ids: list[str] = Field(default_factory=list)
    three_haves: bool = False
    three_haves_state: Literal["true", "false", "unknown"] | None = None
    operating_status: str = "operating"
    no_branch_reason: EventText | None = None  # absent from events recorded before it was published
    full_members: int = 0
    probationary_members: int = 0
    ledger_complete: bool = False
    latitude: float | None = None
    longitude: float | None = None

    def known_three_haves(self) -> bool | None:
        """三有 true, false or None (unknown); events from before `three_haves_state` existed
        say only `three_haves`."""
        if self.three_haves_state is None:
            return self.three_haves
        return {"true": True, "false": False}.get(self.three_haves_state)

    def facts(self) -> CoverageFacts:
        return CoverageFacts(
            organization_id=self.organization_id,
            region_code=self.region_code,
            kind=self.kind,
            industry_code=self.industry_code,
            staff_count=self.staff_count,
            area_ids=tuple(sorted(set(self.area_ids))),
            three_haves=self.known_three_haves(),
            operating_status=self.operating_status,
            no_branch_reason=self.no_branch_reason,
            full_members=self.full_members,
            probationary_members=self.probationary_members,
            ledger_complete=self.ledger_complete,
            name=self.name,
            credit_code=self.credit_code,
            latitude=self.latitude,
            longitude=self.longitude,
        )


class OrganizationRegistered(OrganizationFile):
    """What coverage reads of `pb.registry.organization.registered.v1`."""

    registered_at: datetime


class OrganizationUpdated(OrganizationFile):
    """What coverage reads of `pb.registry.organization.updated.v1`."""

    updated_at: datetime


class OrganizationImported(_Tolerant):
    """What coverage reads of `pb.registry.organization.imported.v1`: an import's files of one
    region, as the registration and update events would carry each."""

    registered: list[OrganizationRegistered] = Field(default_factory=list)
    updated: list[OrganizationUpdated] = Field(default_factory=list)


class OrganizationReactivated(OrganizationFile):
    """What coverage reads of `pb.registry.organization.reactivated.v1`: the file opened again,
    applied as a registration of the existing file (its newer version wins over the
    deregistration; the registration time is kept)."""

    reactivated_at: datetime


class OrganizationDeregistered(_Tolerant):
    """What coverage reads of `pb.registry.organization.deregistered.v1`."""

    organization_id: str
    version: int
    region_code: str
    deregistered_at: datetime


class BranchState(_Tolerant):
    """What coverage reads of every `pb.registry.branch.*` event: the branch after it."""

    branch_id: str
    version: int = 1
    kind: str
    region_code: str
    organization_ids: list[str]


class BranchFormed(BranchState):
    """What coverage reads of `pb.registry.branch.formed.v1`."""

    formed_on: date
    ends_on: date | None = None


class BranchReorganized(BranchState):
    """What coverage reads of `pb.registry.branch.reorganized.v1`."""


class BranchDissolved(BranchState):
    """What coverage reads of `pb.registry.branch.dissolved.v1`."""

    dissolved_on: date


class InstructorAssignment(_Tolerant):
    """What coverage reads of `pb.registry.instructor.assigned.v1` and `.unassigned.v1`."""

    assignment_id: str
    instructor_id: str
    organization_id: str


class InstructorAssigned(InstructorAssignment):
    """What coverage reads of `pb.registry.instructor.assigned.v1`."""

    starts_on: date
    ends_on: date | None = None


class InstructorUnassigned(InstructorAssignment):
    """What coverage reads of `pb.registry.instructor.unassigned.v1`."""

    ended_on: date


class MassOrganization(_Tolerant):
    """What coverage reads of `pb.registry.massorg.established.v1` and `.dissolved.v1`."""

    mass_organization_id: str
    organization_id: str
    kind: str


class MassOrganizationEstablished(MassOrganization):
    """What coverage reads of `pb.registry.massorg.established.v1`."""

    established_on: date


class MassOrganizationDissolved(MassOrganization):
    """What coverage reads of `pb.registry.massorg.dissolved.v1`."""

    dissolved_on: date


class RoutinePeriod(_Tolerant):
    """What coverage reads of `pb.training.routine.lapsed.v1` and `.restored.v1`: one period of
    one obligation of a branch's routine."""

    branch_id: str
    organization_ids: list[str] = Field(default_factory=list)
    obligation: str
    period: str
    period_starts_on: date
    period_ends_on: date


class RoutineLapsed(RoutinePeriod):
    """What coverage reads of `pb.training.routine.lapsed.v1`."""

    judged_on: date


class RoutineRestored(RoutinePeriod):
    """What coverage reads of `pb.training.routine.restored.v1`: `period_met` when the meeting
    was held inside the lapsed period (then it was kept after all)."""

    held_on: date
    period_met: bool


Items = Sequence[tuple[Envelope, Any]]
Apply = Callable[[Projector, Items], None]


def _organizations_registered(projector: Projector, items: Items) -> None:
    projector.organizations_filed(
        [
            OrganizationFiled(e.facts(), e.version, envelope.time, registered_at=e.registered_at)
            for envelope, e in items
        ]
    )


def _organizations_updated(projector: Projector, items: Items) -> None:
    projector.organizations_filed(
        [OrganizationFiled(e.facts(), e.version, e.updated_at) for _, e in items]
    )


def _organizations_imported(projector: Projector, items: Items) -> None:
    """Each import event's files as their own registration and update events would apply."""
    for envelope, imported in items:
        _organizations_registered(projector, [(envelope, e) for e in imported.registered])
        _organizations_updated(projector, [(envelope, e) for e in imported.updated])


def _organizations_reactivated(projector: Projector, items: Items) -> None:
    projector.organizations_filed(
        [OrganizationFiled(e.facts(), e.version, e.reactivated_at) for _, e in items]
    )


def _organizations_deregistered(projector: Projector, items: Items) -> None:
    projector.organizations_left(
        [
            OrganizationLeft(e.organization_id, e.region_code, e.version, e.deregistered_at)
            for _, e in items
        ]
    )


def _branches(*, dissolved: bool) -> Apply:
    def apply(projector: Projector, items: Items) -> None:
        projector.branches_changed(
            [
                BranchChanged(
                    branch_id=e.branch_id,
                    version=e.version,
                    kind=e.kind,
                    region_code=e.region_code,
                    organization_ids=frozenset(e.organization_ids),
                    formed_on=getattr(e, "formed_on", None),
                    ends_on=getattr(e, "ends_on", None),
                    dissolved_on=getattr(e, "dissolved_on", None),
                    dissolved=dissolved,
                )
                for _, e in items
            ]
        )

    return apply


def _assignments(items: Items) -> list[LinkChanged]:
    return [
        LinkChanged(
            e.assignment_id,
            e.organization_id,
            e.instructor_id,
            starts_on=getattr(e, "starts_on", None),
            ends_on=getattr(e, "ends_on", None) or getattr(e, "ended_on", None),
        )
        for _, e in items
    ]


def _mass_organizations(items: Items) -> list[LinkChanged]:
    return [
        LinkChanged(
            e.mass_organization_id,
            e.organization_id,
            e.kind,
            starts_on=getattr(e, "established_on", None),
            ends_on=getattr(e, "dissolved_on", None),
        )
        for _, e in items
    ]


def _instructors_assigned(projector: Projector, items: Items) -> None:
    projector.instructors_assigned(_assignments(items))


def _instructors_unassigned(projector: Projector, items: Items) -> None:
    projector.instructors_unassigned(_assignments(items))


def _mass_organizations_established(projector: Projector, items: Items) -> None:
    projector.mass_organizations_established(_mass_organizations(items))


def _mass_organizations_dissolved(projector: Projector, items: Items) -> None:
    projector.mass_organizations_dissolved(_mass_organizations(items))


def _routines(projector: Projector, items: Items) -> None:
    projector.routines_judged(
        [
            RoutineJudged(
                branch_id=e.branch_id,
                obligation=e.obligation,
                period=e.period,
                period_starts_on=e.period_starts_on,
                period_ends_on=e.period_ends_on,
                organization_ids=frozenset(e.organization_ids),
                met=bool(getattr(e, "period_met", False)),
            )
            for _, e in items
        ]
    )


#: Every registry event coverage applies: the model it reads it with and how it is applied.
PROJECTED: dict[str, tuple[type[BaseModel], Apply]] = {
    "pb.registry.organization.registered.v1": (OrganizationRegistered, _organizations_registered),
    "pb.registry.organization.updated.v1": (OrganizationUpdated, _organizations_updated),
    "pb.registry.organization.imported.v1": (OrganizationImported, _organizations_imported),
    "pb.registry.organization.deregistered.v1": (
        OrganizationDeregistered,
        _organizations_deregistered,
    ),
    "pb.registry.organization.reactivated.v1": (
        OrganizationReactivated,
        _organizations_reactivated,
    ),
    "pb.registry.branch.formed.v1": (BranchFormed, _branches(dissolved=False)),
    "pb.registry.branch.reorganized.v1": (BranchReorganized, _branches(dissolved=False)),
    "pb.registry.branch.dissolved.v1": (BranchDissolved, _branches(dissolved=True)),
    "pb.registry.instructor.assigned.v1": (InstructorAssigned, _instructors_assigned),
    "pb.registry.instructor.unassigned.v1": (InstructorUnassigned, _instructors_unassigned),
    "pb.registry.massorg.established.v1": (
        MassOrganizationEstablished,
        _mass_organizations_established,
    ),
    "pb.registry.massorg.dissolved.v1": (MassOrganizationDissolved, _mass_organizations_dissolved),
}


#: Every training event coverage applies (effective coverage).
PROJECTED_TRAINING: dict[str, tuple[type[BaseModel], Apply]] = {
    "pb.training.routine.lapsed.v1": (RoutineLapsed, _routines),
    "pb.training.routine.restored.v1": (RoutineRestored, _routines),
}


#: The projector of the group of events being applied (set by the batch scope, in the task
#: that runs the group's handlers).
_projector: ContextVar[Projector] = ContextVar("coverage_projector")


def _projecting(*, exclusive: bool) -> BatchScope[CoverageUnitOfWork]:
    """The batch scope of a consumer: one projector per group of events the inbox applies
    together; the runs note their events on it, and it applies them all once they have run
    (never after a failure). Training's judgements come on a consumer of their own, beside the
    registry's: its batches hold the projection's day exclusively (`exclusive`), so a batch of
    either never reads organisations the other is rewriting (see `Projector`)."""

    @asynccontextmanager
    async def scope(uow: CoverageUnitOfWork) -> AsyncIterator[Projector]:
        projector = Projector(uow, exclusive=exclusive)
        token = _projector.set(projector)
        try:
            yield projector
            await projector.flush()
        finally:
            _projector.reset(token)

    return scope


registry_events.batch_scope(_projecting(exclusive=False))
training_events.batch_scope(_projecting(exclusive=True))


def _live(apply: Apply) -> BatchHandler[CoverageUnitOfWork]:
    async def handle(_uow: CoverageUnitOfWork, items: list[tuple[Envelope, Any]]) -> None:
        apply(_projector.get(), items)

    handle.__name__ = f"on{apply.__name__}"
    return handle


for _event_type, (_model, _apply) in PROJECTED.items():
    registry_events.on_batch(_event_type, _model)(_live(_apply))
for _event_type, (_model, _apply) in PROJECTED_TRAINING.items():
    training_events.on_batch(_event_type, _model)(_live(_apply))

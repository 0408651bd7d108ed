"""Subscribers of the registry: what it learns from the training and stations services.

- Training's member-development steps (`pb.training.member.admitted/confirmed/cancelled.v1`)
  move the organisation's member counts (`service/admissions.py`).
- Stations' `pb.stations.worker.member_declared.v1` records a declared mobile member (流动党员)
  (`service/mobile_members.py`).

Each event type has its own tolerant model here (`extra="ignore"`, checked by
`tests/contracts/test_registry_consumes.py` against the producer's exported schema) and is applied
a batch at a time (training's steps are counted once per batch, as it closes: each
organisation's file is adjusted once). An event that can never be applied (its organisation
unknown or deregistered, a step out of turn) is dead-lettered at once with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from libs.common.events import Envelope
from libs.common.inbox import BatchHandler, BatchScope, ConsumerSpec, DeadLetter
from libs.common.refusals import Refusal, Stale
from services.registry.domain.admissions import Step
from services.registry.domain.organizations import Rules
from services.registry.service.admissions import CandidateStep, apply_candidate_steps
from services.registry.service.mobile_members import Declaration, record_declarations
from services.registry.settings import RegistrySettings
from services.registry.store.uow import RegistryUnitOfWork

Items = list[tuple[Envelope, Any]]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CandidateFacts(_Tolerant):
    """Where a candidate belongs, as every `pb.training.member.*` event says it."""

    candidate_id: str
    organization_id: str
    branch_id: str
    region_code: str


class MemberAdmitted(CandidateFacts):
    """What the registry reads of `pb.training.member.admitted.v1` (a probationary member)."""

    admitted_on: date


class MemberConfirmed(CandidateFacts):
    """What the registry reads of `pb.training.member.confirmed.v1` (a full member, 转正)."""

    confirmed_on: date


class MemberCancelled(CandidateFacts):
    """What the registry reads of `pb.training.member.cancelled.v1` (admission cancelled)."""

    cancelled_on: date


class WorkerMemberDeclared(_Tolerant):
    """What the registry reads of `pb.stations.worker.member_declared.v1`: keyed hashes only."""

    worker_id: str
    region_code: str
    community_code: str | None = None
    match_key: str  # HMAC-SHA256 of the normalised phone, label "phone", the shared key
    id_match_key: str | None = None  # the same of the ID number, label "id_number", if given
    declared_on: date


#: Each training event the registry applies: its model, the step, and the step's date.
CANDIDATE_STEPS: dict[str, tuple[type[CandidateFacts], Step, Callable[[Any], date]]] = {
    "pb.training.member.admitted.v1": (MemberAdmitted, "admitted", lambda e: e.admitted_on),
    "pb.training.member.confirmed.v1": (MemberConfirmed, "confirmed", lambda e: e.confirmed_on),
    "pb.training.member.cancelled.v1": (MemberCancelled, "cancelled", lambda e: e.cancelled_on),
}
MEMBER_DECLARED = "pb.stations.worker.member_declared.v1"


#: The candidate steps of the group of events being applied (set by the batch scope).
_steps: ContextVar[list[CandidateStep]] = ContextVar("registry_candidate_steps")


def _counting(rules: Rules) -> BatchScope[RegistryUnitOfWork]:
    """One count per group of events the inbox applies together: the runs note their steps,
    and they are counted all at once as the group closes (each organisation's file adjusted
    once); never after a failure."""

    @asynccontextmanager
    async def scope(uow: RegistryUnitOfWork) -> AsyncIterator[list[CandidateStep]]:
        steps: list[CandidateStep] = []
        token = _steps.set(steps)
        try:
            yield steps
            await apply_candidate_steps(uow, rules, steps)
        except Stale:
            raise  # another writer moved a file on meanwhile: a retry will do
        except Refusal as exc:  # unknown or deregistered organisation, a step out of turn
            raise DeadLetter(f"{exc.message} {exc.context}") from exc
        finally:
            _steps.reset(token)

    return scope


def _candidate_steps(step: Step, on: Callable[[Any], date]) -> BatchHandler[RegistryUnitOfWork]:
    async def handle(_uow: RegistryUnitOfWork, items: Items) -> None:
        _steps.get().extend(
            CandidateStep(
                event_id=envelope.id,
                candidate_id=e.candidate_id,
                organization_id=e.organization_id,
                branch_id=e.branch_id,
                region_code=e.region_code,
                step=step,
                on=on(e),
            )
            for envelope, e in items
        )

    handle.__name__ = f"on_member_{step}"
    return handle


async def _members_declared(uow: RegistryUnitOfWork, items: Items) -> None:
    await record_declarations(
        uow,
        [
            Declaration(
                worker_id=e.worker_id,
                region_code=e.region_code,
                community_code=e.community_code,
                phone_hash=e.match_key,
                id_hash=e.id_match_key,
                declared_on=e.declared_on,
            )
            for _, e in items
        ],
    )


def consumers(settings: RegistrySettings) -> list[ConsumerSpec[RegistryUnitOfWork]]:
    """The registry's consumers, with the rules its settings give (eligibility at the third full
    member): one on training's stream, one on stations'."""
    training = ConsumerSpec[RegistryUnitOfWork](name="registry-training", stream="PB_TRAINING")
    training.batch_scope(_counting(settings.rules()))
    for event_type, (model, step, on) in CANDIDATE_STEPS.items():
        training.on_batch(event_type, model)(_candidate_steps(step, on))
    stations = ConsumerSpec[RegistryUnitOfWork](name="registry-stations", stream="PB_STATIONS")
    stations.on_batch(MEMBER_DECLARED, WorkerMemberDeclared)(_members_declared)
    return [training, stations]

"""Use case: the member counts follow the candidates training develops (发展党员).

A batch of candidate steps (admitted, confirmed, cancelled) is applied in stream order: each is
planned against what the registry last applied for the candidate (`domain/admissions.py`), the
changes are summed per organisation, and each organisation's file is adjusted once through
`adjust_member_counts` (a new version, `organization.updated`, and `branch.eligible` when the
third full member arrives). An organisation the registry does not hold, or holds deregistered,
refuses the whole batch (`OrganizationNotFound`, `NotActive`); the inbox then applies the events
one by one and dead-letters the refused ones with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from libs.common.audit import Actor
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.admissions import CandidateState, Step, plan_step
from services.registry.domain.organizations import NotActive, OrganizationNotFound, Rules
from services.registry.service.organizations import adjust_member_counts
from services.registry.store.members import CandidateRecord
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)

#: Who the audit trail names for counts that follow training's events.
TRAINING = "service:training"


@dataclass(frozen=True)
class CandidateStep:
    """One step training announced: which candidate, where, what, when, by which event."""

    event_id: str
    candidate_id: str
    organization_id: str
    branch_id: str
    region_code: str
    step: Step
    on: date


async def apply_candidate_steps(
    uow: RegistryUnitOfWork, rules: Rules, steps: Sequence[CandidateStep]
) -> int:
    """Count these steps in their organisations' files; how many changed a count."""
    states: dict[str, CandidateState] = await uow.members.candidate_states(
        sorted({s.candidate_id for s in steps})
    )
    records: dict[str, CandidateRecord] = {}
    deltas: dict[str, tuple[int, int]] = {}
    for s in steps:
        change = plan_step(s.candidate_id, states.get(s.candidate_id), s.step)
        if change is None:
            continue
        states[s.candidate_id] = change.state
        records[s.candidate_id] = CandidateRecord(
            s.candidate_id,
            s.organization_id,
            s.branch_id,
            s.region_code,
            change.state,
            s.on,
            s.event_id,
        )
        full, probationary = deltas.get(s.organization_id, (0, 0))
        deltas[s.organization_id] = (full + change.full, probationary + change.probationary)
    found = await uow.organizations.get_many(sorted(deltas))
    for organization_id, (full, probationary) in sorted(deltas.items()):
        organization = found.get(organization_id)
        if organization is None:
            raise OrganizationNotFound(organization_id)
        if not organization.active:
            raise NotActive(organization_id)
        if full or probationary:
            await adjust_member_counts(
                uow,
                Actor(TRAINING, organization.region_code),
                rules,
                organization_id,
                full=full,
                probationary=probationary,
                action="organization.members_developed",
            )
    await uow.members.save_candidates(list(records.values()), utcnow())
    if records:
        log.info("candidate steps counted", candidates=len(records), organizations=len(deltas))
    return len(records)

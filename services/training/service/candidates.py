"""Use cases of member development: applications, each step, the pipeline, the deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, TypeVar

from libs.common.audit import Actor
from libs.common.identity import IdentityKey
from libs.common.ids import new_id
from libs.common.refusals import Invalid
from libs.common.tables import utcnow
from libs.common.validators import is_within
from services.training.domain import candidates as pipeline
from services.training.domain.candidates import (
    STAGES,
    AlreadyInPipeline,
    Candidate,
    CandidateNotFound,
    PipelineRules,
    Vote,
)
from services.training.domain.identity import Person
from services.training.events import (
    DeadlineApproachingV1,
    DeadlineBreachedV1,
    MemberAdmittedV1,
    MemberCancelledV1,
    MemberConfirmedV1,
)
from services.training.store.candidates import DueDeadline
from services.training.store.uow import TrainingUnitOfWork

COUNTY_CODE_LENGTH = 6

Step = Literal[
    "talk",
    "activist",
    "development-target",
    "training",
    "political-review",
    "introducers",
    "admission",
    "approval",
    "extend-probation",
    "confirmation",
    "cancel",
]


@dataclass(frozen=True)
class IntroducerIn:
    name: str
    id_number: str
    membership: str


@dataclass(frozen=True)
class StepInput:
    """What a step may carry; each step takes the fields it needs and refuses their absence."""

    on: date | None = None
    days: int | None = None
    hours: int | None = None
    introducers: list[IntroducerIn] = field(default_factory=list)
    vote: Vote | None = None
    committee_id: str | None = None
    extended: bool = False
    months: int | None = None
    reason: str | None = None


async def apply(
    uow: TrainingUnitOfWork,
    actor: Actor,
    rules: PipelineRules,
    key: IdentityKey,
    *,
    name: str,
    id_number: str,
    organization_id: str,
    branch_id: str,
    applied_on: date,
    today: date,
) -> Candidate:
    """An application to the branch that covers the person's organisation, or, where none does,
    to a branch of the county (发展党员工作细则 §5: where they live or where the unit is)."""
    branch = await uow.routines.get(branch_id)
    if branch is None or not is_within(branch.region_code, actor.region_code):
        raise Invalid("branch_id", "no such branch in your region", message="unknown branch")
    if organization_id not in branch.organization_ids:
        county = branch.region_code[:COUNTY_CODE_LENGTH]
        covering = await uow.routines.covering(organization_id, county)
        standing = [b.branch_id for b in covering if b.kind != "temporary"]
        pipeline.check_branch_takes(branch_id, organization_id, standing)
    pipeline.check_branch_develops(branch.kind, branch.dissolved_on is not None, organization_id)
    person = Person.of(key, name, id_number)
    if await uow.candidates.in_pipeline(person.id_hash, branch.region_code):
        raise AlreadyInPipeline()
    candidate = pipeline.apply(
        rules,
        candidate_id=new_id(),
        region_code=branch.region_code,
        organization_id=organization_id,
        branch_id=branch_id,
        id_hash=person.id_hash,
        id_masked=person.id_masked,
        name_masked=person.name_masked,
        born_on=person.born_on,
        applied_on=applied_on,
        today=today,
    )
    await uow.candidates.add(candidate, utcnow())
    await _deadlines(uow, candidate, rules)
    await uow.audit.record(
        actor,
        "candidate.applied",
        entity_type="candidate",
        entity_id=candidate.id,
        region_code=candidate.region_code,
        changes={"name": candidate.name_masked, "applied_on": applied_on.isoformat()},
    )
    return candidate


async def get(uow: TrainingUnitOfWork, candidate_id: str, scope: str) -> Candidate:
    candidate = await uow.candidates.get(candidate_id)
    if candidate is None or not is_within(candidate.region_code, scope):
        raise CandidateNotFound(candidate_id)
    return candidate


async def listed(
    uow: TrainingUnitOfWork,
    region_code: str,
    *,
    organization_id: str | None,
    branch_id: str | None,
    stage: str | None,
    after_id: str | None,
    limit: int,
) -> list[Candidate]:
    return await uow.candidates.listed(
        region_code,
        organization_id=organization_id,
        branch_id=branch_id,
        stage=stage,
        after_id=after_id,
        limit=limit,
    )


T = TypeVar("T")


def _required(value: T | None, name: str, step: str) -> T:
    if value is None:
        raise Invalid(name, f"is required for {step}")
    return value


@dataclass(frozen=True)
class CommitteeFormedIn:
    committee_id: str
    kind: str
    name: str
    region_code: str
    formed_on: date


async def committees_formed(uow: TrainingUnitOfWork, formed: Sequence[CommitteeFormedIn]) -> None:
    """Remember the committees the registry set up: the bodies that approve admissions."""
    await uow.committees.record(
        [
            {
                "committee_id": c.committee_id,
                "kind": c.kind,
                "name": c.name,
                "region_code": c.region_code,
                "formed_on": c.formed_on,
            }
            for c in formed
        ]
    )


async def approving_body(uow: TrainingUnitOfWork, committee_id: str) -> pipeline.ApprovingBody:
    """The organisation named to approve, as the registry announced it (never as a caller says):
    a committee, or a branch (which the rules then refuse), or a 422 when the registry has
    announced neither."""
    committee = await uow.committees.get(committee_id)
    if committee is not None:
        return pipeline.ApprovingBody(
            committee_id, committee["region_code"], committee["formed_on"]
        )
    branch = await uow.routines.get(committee_id)
    if branch is not None:
        return pipeline.ApprovingBody(
            committee_id,
            branch.region_code,
            branch.formed_on,
            is_committee=False,
            temporary=branch.kind == "temporary",
        )
    raise Invalid("committee_id", "no Party committee with this id is known from the registry")


async def take_step(
    uow: TrainingUnitOfWork,
    actor: Actor,
    rules: PipelineRules,
    key: IdentityKey,
    *,
    candidate_id: str,
    step: Step,
    given: StepInput,
    today: date,
) -> Candidate:
    """One step of the pipeline on a candidate of the caller's region, with its event."""
    before = await uow.candidates.get(candidate_id, for_update=True)
    if before is None or not is_within(before.region_code, actor.region_code):
        raise CandidateNotFound(candidate_id)
    on = given.on or today
    after: Candidate
    if step == "talk":
        after = pipeline.talk(before, on, today)
    elif step == "activist":
        after = pipeline.make_activist(before, on, today)
    elif step == "development-target":
        after = pipeline.make_target(before, rules, on, today)
    elif step == "training":
        days, hours = given.days or 0, given.hours or 0
        after = pipeline.record_training(before, rules, on, today, days, hours)
    elif step == "political-review":
        after = pipeline.record_review(before, on, today)
    elif step == "introducers":
        people = [
            Person.of(key, i.name, i.id_number, field=f"introducers.{n}.id_number")
            for n, i in enumerate(given.introducers)
        ]
        introducers = [
            pipeline.Introducer(p.id_hash, p.name_masked, i.membership)
            for p, i in zip(people, given.introducers, strict=True)
        ]
        after = pipeline.record_introducers(before, rules, introducers)
    elif step == "admission":
        after = pipeline.admit(before, on, today, _required(given.vote, "vote", step))
    elif step == "approval":
        after = pipeline.approve(
            before,
            rules,
            on,
            today,
            committee=await approving_body(
                uow, _required(given.committee_id, "committee_id", step)
            ),
            extended=given.extended,
        )
    elif step == "extend-probation":
        after = pipeline.extend_probation(before, rules, _required(given.months, "months", step))
    elif step == "confirmation":
        after = pipeline.confirm(before, rules, on, today, _required(given.vote, "vote", step))
    else:
        reason = _required(given.reason, "reason", step)
        after = pipeline.cancel(before, on, today, reason)
    await uow.candidates.save(after, utcnow())
    await _deadlines(uow, after, rules)
    await _announce(uow, actor, step, before, after)
    return after


async def _announce(
    uow: TrainingUnitOfWork, actor: Actor, step: str, before: Candidate, after: Candidate
) -> None:
    facts = _facts(after)
    changes = {"step": step, "stage": after.stage, "version": after.version}
    if step == "approval" and after.admitted_on and after.approved_on:
        event = MemberAdmittedV1(
            **facts, admitted_on=after.admitted_on, approved_on=after.approved_on
        )
        await uow.record_and_audit(
            actor, event, entity_type="candidate", region_code=after.region_code
        )
    elif step == "confirmation" and after.confirmed_on:
        confirmed = MemberConfirmedV1(**facts, confirmed_on=after.confirmed_on)
        await uow.record_and_audit(
            actor, confirmed, entity_type="candidate", region_code=after.region_code
        )
    elif step == "cancel" and before.stage == "probationary" and after.cancelled_on:
        cancelled = MemberCancelledV1(**facts, cancelled_on=after.cancelled_on)
        await uow.record_and_audit(
            actor,
            cancelled,
            entity_type="candidate",
            region_code=after.region_code,
            extra={"reason": after.cancel_reason},
        )
    else:
        await uow.audit.record(
            actor,
            f"candidate.{step}",
            entity_type="candidate",
            entity_id=after.id,
            region_code=after.region_code,
            changes=changes,
        )


def _facts(candidate: Candidate) -> dict[str, str]:
    return {
        "candidate_id": candidate.id,
        "organization_id": candidate.organization_id,
        "branch_id": candidate.branch_id,
        "region_code": candidate.region_code,
    }


#: How far ahead of a deadline it is announced as approaching.
WARNING = timedelta(days=7)


async def _deadlines(uow: TrainingUnitOfWork, candidate: Candidate, rules: PipelineRules) -> None:
    running = candidate.deadlines(rules)
    await uow.deadlines.replace(
        candidate.id, {kind: (due, due - WARNING) for kind, due in running.items()}
    )


@dataclass(frozen=True)
class Pipeline:
    """Candidates per stage in a region, and per organisation and branch."""

    region_code: str
    stages: dict[str, int]
    groups: list[tuple[str, str, dict[str, int]]]


async def pipeline_of(uow: TrainingUnitOfWork, region_code: str) -> Pipeline:
    totals: dict[str, int] = dict.fromkeys(STAGES, 0)
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for row in await uow.candidates.stage_counts(region_code):
        totals[row.stage] = totals.get(row.stage, 0) + row.count
        groups.setdefault((row.organization_id, row.branch_id), dict.fromkeys(STAGES, 0))[
            row.stage
        ] = row.count
    return Pipeline(
        region_code, totals, [(org, branch, counts) for (org, branch), counts in groups.items()]
    )


async def announce_deadlines(uow: TrainingUnitOfWork, today: date, limit: int) -> int:
    """Announce the deadlines that came near or passed by `today`, each once (durable: the
    marks are stored with the events, so a restart after downtime announces what it missed)."""
    approaching = await uow.deadlines.approaching(today, limit)
    breached = await uow.deadlines.breached(today, limit)
    found = await uow.candidates.many(sorted({d.candidate_id for d in approaching + breached}))

    def events(
        due: Sequence[DueDeadline], cls: type[DeadlineApproachingV1] | type[DeadlineBreachedV1]
    ) -> list[DeadlineApproachingV1 | DeadlineBreachedV1]:
        return [
            cls(**_facts(found[d.candidate_id]), deadline=d.kind, due_on=d.due_on)
            for d in due
            if d.candidate_id in found
        ]

    uow.record_many(
        [*events(approaching, DeadlineApproachingV1), *events(breached, DeadlineBreachedV1)]
    )
    await uow.deadlines.mark(approaching, "warned_on", today)
    await uow.deadlines.mark(breached, "breached_on", today)
    return len(approaching) + len(breached)

"""Use cases of Party organisations: committees, and forming, reorganising, dissolving branches.

Each use case takes the caller's region (`scope`): organisations, committees and branches outside
it do not exist for the caller. The rules live in `domain.branches`; here they are given the
organisations as the ledger holds them (locked for the transaction), and the outcome is written,
announced (branch events carry the covered organisation ids and the branch's version) and audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.tables import utcnow
from services.registry.domain.branches import (
    Branch,
    BranchKind,
    Candidate,
    Committee,
    CommitteeKind,
    RuleBroken,
    check_committee,
    check_upgrade,
    common_region,
    dissolved,
    plan_branch,
    plan_reorganization,
    within,
)
from services.registry.domain.organizations import Organization, OrganizationNotFound, Rules
from services.registry.events import (
    BranchDissolvedV1,
    BranchFormedV1,
    BranchReorganizedV1,
    CommitteeFormedV1,
)
from services.registry.service.organizations import audit
from services.registry.store.branches import BranchRepository, CommitteeRepository
from services.registry.store.organizations import OrganizationRepository


class CommitteeNotFound(Exception):
    def __init__(self, committee_id: str) -> None:
        super().__init__(f"committee {committee_id} not found")
        self.committee_id = committee_id


class BranchNotFound(Exception):
    def __init__(self, branch_id: str) -> None:
        super().__init__(f"branch {branch_id} not found")
        self.branch_id = branch_id


class StaleBranch(Exception):
    """The branch changed while this change was being made."""


@dataclass(frozen=True)
class Covered:
    """An organisation a request asks a branch to cover, and why it cannot stand alone."""

    organization_id: str
    unable_reason: str | None = None


@dataclass(frozen=True)
class Upgrade:
    """A joint branch member to get its own standalone branch, and that branch's name."""

    organization_id: str
    name: str


def committee_visible(committee: Committee, scope: str) -> bool:
    """A caller sees the committees of its subtree and those above it (its 两新工委, say)."""
    return within(committee.region_code, scope) or within(scope, committee.region_code)


async def form_committee(
    uow: UnitOfWork,
    actor: Actor,
    *,
    kind: CommitteeKind,
    name: str,
    region_code: str,
    parent_id: str | None,
    formed_on: date,
) -> Committee:
    store = CommitteeRepository(uow.session)
    parent = None
    if parent_id is not None:
        parent = await store.get(parent_id)
        if parent is None or not committee_visible(parent, actor.region_code):
            raise CommitteeNotFound(parent_id)
    check_committee(region_code, parent)
    committee = Committee(
        id=str(uuid.uuid4()),
        kind=kind,
        name=name,
        region_code=region_code,
        formed_on=formed_on,
        parent_id=parent_id,
    )
    await store.add(committee, utcnow())
    uow.record(
        CommitteeFormedV1(
            committee_id=committee.id,
            kind=kind,
            name=name,
            parent_id=parent_id,
            region_code=region_code,
            formed_on=formed_on,
        )
    )
    await audit(uow).record(
        actor,
        "committee.formed",
        entity_type="committee",
        entity_id=committee.id,
        region_code=region_code,
        changes={"kind": kind, "name": name, "parent_id": parent_id, "formed_on": formed_on},
    )
    return committee


async def get_committee(uow: UnitOfWork, committee_id: str, scope: str) -> Committee:
    committee = await CommitteeRepository(uow.session).get(committee_id)
    if committee is None or not committee_visible(committee, scope):
        raise CommitteeNotFound(committee_id)
    return committee


async def get_branch(uow: UnitOfWork, branch_id: str, scope: str) -> Branch:
    branch = await BranchRepository(uow.session).get(branch_id)
    if branch is None or not within(branch.region_code, scope):
        raise BranchNotFound(branch_id)
    return branch


async def _organizations(
    uow: UnitOfWork, ids: Sequence[str], scope: str
) -> dict[str, Organization]:
    """The organisations, locked; one missing or outside the caller's region is not found."""
    found = await OrganizationRepository(uow.session).get_many(ids, for_update=True)
    for organization_id in ids:
        organization = found.get(organization_id)
        if organization is None or not within(organization.region_code, scope):
            raise OrganizationNotFound(organization_id)
    return found


def _state(branch: Branch) -> dict[str, object]:
    return {
        "branch_id": branch.id,
        "version": branch.version,
        "kind": branch.kind,
        "name": branch.name,
        "parent_id": branch.parent_id,
        "region_code": branch.region_code,
        "organization_ids": sorted(branch.organization_ids),
    }


def _formed(uow: UnitOfWork, branch: Branch) -> None:
    uow.record(BranchFormedV1(**_state(branch), formed_on=branch.formed_on, ends_on=branch.ends_on))


async def _add_branch(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    *,
    kind: BranchKind,
    name: str,
    committee: Committee,
    candidates: Sequence[Candidate],
    covering: dict[str, str | None],
    formed_on: date,
    ends_on: date | None,
) -> Branch:
    advice = plan_branch(
        kind, candidates, committee, covering, rules, formed_on=formed_on, ends_on=ends_on
    )
    branch = Branch(
        id=str(uuid.uuid4()),
        kind=kind,
        name=name,
        parent_id=committee.id,
        region_code=common_region([c.organization.region_code for c in candidates]),
        formed_on=formed_on,
        organization_ids=sorted(c.id for c in candidates),
        ends_on=ends_on,
        can_develop_members=kind != "temporary",
        warnings=[a.as_dict() for a in advice],
        unable_reasons={c.id: c.unable_reason for c in candidates if c.unable_reason},
    )
    await BranchRepository(uow.session).add(branch, utcnow())
    _formed(uow, branch)
    await audit(uow).record(
        actor,
        "branch.formed",
        entity_type="branch",
        entity_id=branch.id,
        region_code=branch.region_code,
        changes={**_state(branch), "formed_on": formed_on, "ends_on": ends_on},
    )
    return branch


async def form_branch(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    *,
    kind: BranchKind,
    name: str,
    parent_id: str,
    covered: Sequence[Covered],
    formed_on: date,
    ends_on: date | None = None,
) -> Branch:
    """Form a standalone, joint or temporary branch under a committee (发现一个、组建一个)."""
    scope = actor.region_code
    committee = await get_committee(uow, parent_id, scope)
    ids = [c.organization_id for c in covered]
    found = await _organizations(uow, ids, scope)
    candidates = [Candidate(found[c.organization_id], c.unable_reason) for c in covered]
    covering = await BranchRepository(uow.session).covering(ids)
    return await _add_branch(
        uow,
        actor,
        rules,
        kind=kind,
        name=name,
        committee=committee,
        candidates=candidates,
        covering=covering,
        formed_on=formed_on,
        ends_on=ends_on,
    )


async def reorganize_branch(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    branch_id: str,
    *,
    add: Sequence[Covered] = (),
    remove: Sequence[str] = (),
    upgrade: Sequence[Upgrade] = (),
    on: date,
) -> tuple[Branch, list[Branch]]:
    """Add or remove covered organisations, and upgrade joint members to standalone branches.

    Returns the branch as it now is and the standalone branches formed by upgrades."""
    scope = actor.region_code
    store = BranchRepository(uow.session)
    before = await store.get(branch_id, for_update=True)
    if before is None or not within(before.region_code, scope):
        raise BranchNotFound(branch_id)
    if not before.active:
        raise RuleBroken(
            "branch_active", "a dissolved branch cannot be reorganised", before.organization_ids
        )
    committee = await get_committee(uow, before.parent_id, before.region_code)
    leaving = [*remove, *(u.organization_id for u in upgrade)]
    strangers = [i for i in leaving if i not in before.organization_ids]
    if strangers:
        raise RuleBroken(
            "covered_by_this_branch", "these organisations are not covered by the branch", strangers
        )
    if len(set(leaving)) != len(leaving):
        raise RuleBroken(
            "organization_listed_once",
            "an organisation is both removed and upgraded, or listed twice",
            [i for i in leaving if leaving.count(i) > 1],
        )
    added_ids = [c.organization_id for c in add]
    found = await _organizations(uow, [*before.organization_ids, *added_ids], scope)
    covering = await store.covering(added_ids)
    remaining = [
        Candidate(found[i], before.unable_reasons.get(i))
        for i in before.organization_ids
        if i not in leaving
    ]
    added = [Candidate(found[c.organization_id], c.unable_reason) for c in add]
    advice = plan_reorganization(before, remaining, added, committee, covering, rules)
    upgrades = [Candidate(found[u.organization_id]) for u in upgrade]
    for candidate in upgrades:
        check_upgrade(before, candidate, rules)

    now = utcnow()
    kept = [*remaining, *added]
    after = replace(
        before,
        organization_ids=sorted(c.id for c in kept),
        region_code=common_region([c.organization.region_code for c in kept]),
        warnings=[a.as_dict() for a in advice],
        unable_reasons={c.id: c.unable_reason for c in kept if c.unable_reason},
        version=before.version + 1,
    )
    if not await store.save(after, expected_version=before.version, now=now):
        raise StaleBranch(branch_id)
    await store.uncover(before.id, leaving, on, ended_by="removed")
    await store.cover(after, added_ids, on)
    uow.record(
        BranchReorganizedV1(
            **_state(after),
            added_organization_ids=sorted(added_ids),
            removed_organization_ids=sorted(leaving),
            reorganized_on=on,
        )
    )
    await audit(uow).record(
        actor,
        "branch.reorganized",
        entity_type="branch",
        entity_id=after.id,
        region_code=after.region_code,
        changes={
            **_state(after),
            "added": sorted(added_ids),
            "removed": sorted(remove),
            "upgraded": sorted(u.organization_id for u in upgrade),
            "on": on,
        },
    )
    formed = []
    for candidate, request in zip(upgrades, upgrade, strict=True):
        formed.append(
            await _add_branch(
                uow,
                actor,
                rules,
                kind="standalone",
                name=request.name,
                committee=committee,
                candidates=[candidate],
                covering={candidate.id: None},  # it has just left the joint branch
                formed_on=on,
                ends_on=None,
            )
        )
    return after, formed


async def dissolve_branch(
    uow: UnitOfWork, actor: Actor, branch_id: str, *, reason: str, on: date
) -> Branch:
    """Dissolve a branch: the organisations it covered are uncovered (they keep their history)."""
    store = BranchRepository(uow.session)
    before = await store.get(branch_id, for_update=True)
    if before is None or not within(before.region_code, actor.region_code):
        raise BranchNotFound(branch_id)
    after = dissolved(before, on=on, reason=reason)
    if not await store.save(after, expected_version=before.version, now=utcnow()):
        raise StaleBranch(branch_id)
    await store.uncover(before.id, before.organization_ids, on, ended_by="dissolved")
    uow.record(BranchDissolvedV1(**_state(after), reason=reason, dissolved_on=on))
    await audit(uow).record(
        actor,
        "branch.dissolved",
        entity_type="branch",
        entity_id=after.id,
        region_code=after.region_code,
        changes={**_state(after), "reason": reason, "dissolved_on": on},
    )
    return after

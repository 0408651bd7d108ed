"""Use cases of Party organisations: committees, and forming, reorganising, dissolving branches.

Each use case takes the caller's region (`scope`): organisations, committees and branches outside
it do not exist for the caller. The rules live in `domain.branches`; here they are given the
organisations as the ledger holds them (locked for the transaction), and the outcome is written,
announced (branch events carry the covered organisation ids and the branch's version) and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.ids import new_id
from libs.common.personal import mask_personal
from libs.common.tables import utcnow
from services.registry.domain.branches import (
    Advice,
    Branch,
    BranchKind,
    BranchNotFound,
    Candidate,
    Committee,
    CommitteeKind,
    CommitteeNotFound,
    Covered,
    ParentCommitteeNotFound,
    StaleBranch,
    Upgrade,
    check_committee,
    check_reorganization,
    committee_visible,
    dissolved,
    new_branch,
    plan_branch,
    plan_departure,
    relocated,
    reparented,
    size_advice,
    visible_organizations,
    within,
)
from services.registry.domain.organizations import Organization, Rules
from services.registry.events import (
    BranchDissolvedV1,
    BranchFormedV1,
    BranchRectificationOverdueV1,
    BranchRelocatedV1,
    BranchReorganizedV1,
    CommitteeFormedV1,
)
from services.registry.service.organizations import refresh_ledgers
from services.registry.store.uow import RegistryUnitOfWork


async def _parent(uow: RegistryUnitOfWork, committee_id: str, scope: str) -> Committee:
    """The committee a branch or committee is to be under (a 422 on `parent_id` if unseen)."""
    parent = await uow.committees.get(committee_id)
    if parent is None or not committee_visible(parent, scope):
        raise ParentCommitteeNotFound(committee_id)
    return parent


async def form_committee(
    uow: RegistryUnitOfWork,
    actor: Actor,
    *,
    kind: CommitteeKind,
    name: str,
    region_code: str,
    parent_id: str | None,
    formed_on: date,
) -> Committee:
    parent = None if parent_id is None else await _parent(uow, parent_id, actor.region_code)
    check_committee(region_code, parent)
    committee = Committee(
        id=new_id(),
        kind=kind,
        name=name,
        region_code=region_code,
        formed_on=formed_on,
        parent_id=parent_id,
    )
    await uow.committees.add(committee, utcnow())
    event = CommitteeFormedV1(
        committee_id=committee.id,
        kind=kind,
        name=name,
        parent_id=parent_id,
        region_code=region_code,
        formed_on=formed_on,
    )
    await uow.record_and_audit(actor, event, entity_type="committee", region_code=region_code)
    return committee


async def get_committee(uow: RegistryUnitOfWork, committee_id: str, scope: str) -> Committee:
    committee = await uow.committees.get(committee_id)
    if committee is None or not committee_visible(committee, scope):
        raise CommitteeNotFound(committee_id)
    return committee


async def _branch(
    uow: RegistryUnitOfWork, branch_id: str, scope: str, *, for_update: bool = False
) -> Branch:
    branch = await uow.branches.get(branch_id, for_update=for_update)
    if branch is None or not within(branch.region_code, scope):
        raise BranchNotFound(branch_id)
    return branch


async def get_branch(uow: RegistryUnitOfWork, branch_id: str, scope: str) -> Branch:
    return await _branch(uow, branch_id, scope)


async def list_committees(
    uow: RegistryUnitOfWork,
    region_code: str,
    *,
    kind: str | None,
    parent_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Committee]:
    """A page of the committees of a region's subtree."""
    return await uow.committees.find(
        region_code, kind=kind, parent_id=parent_id, after=after, limit=limit
    )


async def list_branches(
    uow: RegistryUnitOfWork,
    rules: Rules,
    region_code: str,
    *,
    kind: str | None,
    status: str | None,
    parent_id: str | None,
    organization_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[tuple[Branch, list[Advice]]]:
    """A page of the branches of a region's subtree, each with its advice (the organisations
    of the whole page read at once)."""
    found = await uow.branches.find(
        region_code,
        kind=kind,
        status=status,
        parent_id=parent_id,
        organization_id=organization_id,
        after=after,
        limit=limit,
    )
    covered = await uow.organizations.get_many(
        i for branch in found if branch.active for i in branch.organization_ids
    )
    return [(b, size_advice(b, covered, rules) if b.active else []) for b in found]


async def branch_advice(uow: RegistryUnitOfWork, branch: Branch, rules: Rules) -> list[Advice]:
    """Advice on the branch as its organisations are now (its size: 党总支, 党委)."""
    if not branch.active:
        return []
    found = await uow.organizations.get_many(branch.organization_ids)
    return size_advice(branch, found, rules)


def _state(branch: Branch) -> dict[str, object]:
    return {
        "branch_id": branch.id,
        "version": branch.version,
        "kind": branch.kind,
        "name": branch.name,
        "parent_id": branch.parent_id,
        "region_code": branch.region_code,
        "organization_ids": sorted(branch.organization_ids),
        "status": branch.status,
        "rectification_reason": branch.rectification_reason,
        "rectify_by": branch.rectify_by,
        "needs_reparenting": branch.needs_reparenting,
    }


async def _save(uow: RegistryUnitOfWork, after: Branch, before: Branch) -> None:
    """Write `after` over `before`, unless another writer changed the branch meanwhile."""
    if not await uow.branches.save(after, expected_version=before.version, now=utcnow()):
        raise StaleBranch(before.id)


async def _add_branch(
    uow: RegistryUnitOfWork,
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
        kind,
        candidates,
        committee,
        covering,
        rules,
        formed_on=formed_on,
        ends_on=ends_on,
        today=local_today(),
    )
    branch = new_branch(
        new_id(),
        kind,
        name,
        committee,
        candidates,
        advice,
        formed_on=formed_on,
        ends_on=ends_on,
    )
    await uow.branches.add(branch, utcnow())
    event = BranchFormedV1(**_state(branch), formed_on=formed_on, ends_on=ends_on)
    await uow.record_and_audit(actor, event, entity_type="branch", region_code=branch.region_code)
    await refresh_ledgers(uow, actor, rules, branch.organization_ids)  # covered: 六清 point
    return branch


async def form_branch(
    uow: RegistryUnitOfWork,
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
    committee = await _parent(uow, parent_id, scope)
    ids = [c.organization_id for c in covered]
    found = await uow.organizations.get_many(ids, for_update=True)
    visible = visible_organizations(found, ids, scope)
    candidates = [Candidate(visible[c.organization_id], c.unable_reason) for c in covered]
    return await _add_branch(
        uow,
        actor,
        rules,
        kind=kind,
        name=name,
        committee=committee,
        candidates=candidates,
        covering=await uow.branches.covering(ids),
        formed_on=formed_on,
        ends_on=ends_on,
    )


async def reorganize_branch(
    uow: RegistryUnitOfWork,
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
    before = await _branch(uow, branch_id, actor.region_code, for_update=True)
    committee = await _parent(uow, before.parent_id, before.region_code)
    added_ids = [c.organization_id for c in add]
    found = await uow.organizations.get_many(
        [*before.organization_ids, *added_ids], for_update=True
    )
    plan = check_reorganization(
        before,
        committee,
        found,
        await uow.branches.covering(added_ids),
        rules,
        add=add,
        remove=remove,
        upgrade=upgrade,
        scope=actor.region_code,
        on=on,
    )
    after = plan.after
    await _save(uow, after, before)
    await uow.branches.uncover(before.id, plan.leaving, on, ended_by="removed")
    await uow.branches.cover(after, plan.added_ids, on)
    event = BranchReorganizedV1(
        **_state(after),
        added_organization_ids=sorted(plan.added_ids),
        removed_organization_ids=sorted(plan.leaving),
        reorganized_on=on,
    )
    upgraded = sorted(u.organization_id for u in upgrade)
    await uow.record_and_audit(
        actor,
        event,
        entity_type="branch",
        region_code=after.region_code,
        extra={"upgraded": upgraded},
    )
    formed = [
        await _add_branch(
            uow,
            actor,
            rules,
            kind="standalone",
            name=name,
            committee=committee,
            candidates=[candidate],
            covering={candidate.id: None},  # it has just left the joint branch
            formed_on=on,
            ends_on=None,
        )
        for candidate, name in plan.upgrades
    ]
    await refresh_ledgers(uow, actor, rules, [*plan.leaving, *plan.added_ids])
    return after, formed


async def dissolve_branch(
    uow: RegistryUnitOfWork, actor: Actor, branch_id: str, *, reason: str, on: date
) -> Branch:
    """Dissolve a branch: the organisations it covered are uncovered (they keep their history)."""
    reason = mask_personal(reason)  # free text: what the event and the audit log carry
    before = await _branch(uow, branch_id, actor.region_code, for_update=True)
    after = dissolved(before, on=on, reason=reason)
    await _save(uow, after, before)
    await uow.branches.uncover(before.id, before.organization_ids, on, ended_by="dissolved")
    event = BranchDissolvedV1(**_state(after), reason=reason, dissolved_on=on)
    await uow.record_and_audit(actor, event, entity_type="branch", region_code=after.region_code)
    # member counts do not change here: the rules about them do not apply
    await refresh_ledgers(uow, actor, Rules(), before.organization_ids)
    return after


async def leave_branch(
    uow: RegistryUnitOfWork, actor: Actor, rules: Rules, organization: Organization, *, on: date
) -> Branch | None:
    """The organisation has left the ledger: the branch covering it is dissolved when it was
    the organisation's own (or covered nobody else), otherwise it loses the organisation (a
    joint branch below the rules then needs rectification). Returns the branch after it."""
    branch_id = (await uow.branches.covering([organization.id]))[organization.id]
    if branch_id is None:
        return None
    before = await uow.branches.get(branch_id, for_update=True)
    if before is None:
        return None
    found = dict(await uow.organizations.get_many(before.organization_ids, for_update=True))
    found[organization.id] = organization
    reason = f"the organisation left the ledger: {organization.deregistration_reason or ''}"
    plan = plan_departure(before, organization.id, found, rules, on=on, reason=reason.strip())
    after = plan.after
    await _save(uow, after, before)
    event: BranchDissolvedV1 | BranchReorganizedV1
    if plan.dissolves:
        await uow.branches.uncover(before.id, before.organization_ids, on, ended_by="dissolved")
        event = BranchDissolvedV1(
            **_state(after), reason=after.dissolution_reason or reason, dissolved_on=on
        )
    else:
        await uow.branches.uncover(before.id, [organization.id], on, ended_by="removed")
        event = BranchReorganizedV1(
            **_state(after), removed_organization_ids=[organization.id], reorganized_on=on
        )
    await uow.record_and_audit(
        actor,
        event,
        entity_type="branch",
        region_code=after.region_code,
        extra={"because_of": organization.id},
    )
    if plan.dissolves:
        await refresh_ledgers(uow, actor, rules, before.organization_ids)
    return after


async def follow_move(
    uow: RegistryUnitOfWork, actor: Actor, before: Organization, after: Organization, *, on: date
) -> Branch | None:
    """An organisation changed region: the branch covering it follows (its region), and is
    flagged for re-parenting when the move crossed a township or left its committee's region."""
    if after.branch_id is None or before.region_code == after.region_code:
        return None
    branch = await uow.branches.get(after.branch_id, for_update=True)
    if branch is None or not branch.active:
        return None
    committee = await uow.committees.get(branch.parent_id)
    if committee is None:
        return None
    found = dict(await uow.organizations.get_many(branch.organization_ids))
    found[after.id] = after
    moved = relocated(branch, committee, found, after, before.region_code)
    if moved is None:
        return None
    await _save(uow, moved, branch)
    await uow.record_and_audit(
        actor,
        BranchRelocatedV1(**_state(moved), moved_organization_ids=[after.id], relocated_on=on),
        entity_type="branch",
        region_code=moved.region_code,
        extra={"reparenting_reason": moved.reparenting_reason},
    )
    return moved


async def reparent_branch(
    uow: RegistryUnitOfWork, actor: Actor, branch_id: str, *, parent_id: str, on: date
) -> Branch:
    """Put a branch under a committee holding all its organisations; clears the flag."""
    before = await _branch(uow, branch_id, actor.region_code, for_update=True)
    committee = await _parent(uow, parent_id, actor.region_code)
    found = await uow.organizations.get_many(before.organization_ids)
    after = reparented(before, committee, found)
    await _save(uow, after, before)
    await uow.record_and_audit(
        actor,
        BranchRelocatedV1(**_state(after), relocated_on=on),
        entity_type="branch",
        region_code=after.region_code,
        action="branch.reparented",
    )
    return after


async def announce_overdue_rectifications(
    uow: RegistryUnitOfWork, today: date, limit: int = 500
) -> int:
    """`branch.rectification_overdue` for each branch still needing rectification after its
    deadline, once per deadline; returns how many were announced."""
    due = await uow.branches.rectification_overdue(today, limit)
    for branch_id in due:
        branch = await uow.branches.get(branch_id)
        if branch is None or branch.rectify_by is None:
            continue
        uow.record(
            BranchRectificationOverdueV1(
                **_state(branch),
                overdue_since=branch.rectify_by + timedelta(days=1),
            )
        )
        await uow.branches.mark_overdue_announced(branch_id, branch.rectify_by)
    return len(due)

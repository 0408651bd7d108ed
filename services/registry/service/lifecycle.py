"""Use cases of an organisation's life cycle: deregistration reaching its dependants, and
reactivation of a deregistered file (the rules: `domain.lifecycle`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from libs.common.audit import Actor
from libs.common.logging import get_logger
from libs.common.personal import mask_personal
from libs.common.tables import utcnow
from services.registry.domain.lifecycle import assignment_ended_with, deregistered, reactivated
from services.registry.domain.organizations import (
    Organization,
    OrganizationNotFound,
    Rules,
    StaleVersion,
)
from services.registry.events import (
    InstructorUnassignedV1,
    MemberMovedOutV1,
    OrganizationDeregisteredV1,
    OrganizationReactivatedV1,
)
from services.registry.file_forms import state_of
from services.registry.service.branches import follow_move, leave_branch
from services.registry.service.organizations import (
    eligible_events,
    open_for_change,
    save_over,
    update_organization,
)
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)


async def change_organization(
    uow: RegistryUnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
    on: date,
) -> Organization:
    """Change a file (`organizations.update_organization`); when it moved region, the branch
    covering it follows (`branches.follow_move`: its region, and the re-parenting flag)."""
    before = await open_for_change(uow, organization_id, expected_version)
    after = await update_organization(
        uow, actor, rules, organization_id, changes, expected_version=expected_version
    )
    if after.region_code != before.region_code:
        await follow_move(uow, actor, before, after, on=on)
    return after


async def deregister_organization(
    uow: RegistryUnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    *,
    reason: str,
    on: date,
    expected_version: int | None = None,
) -> Organization:
    """Take an organisation out of the ledger (its file is kept, closed) and, in the same
    transaction, everything that depended on it: its branch, its instructors' assignments and
    the members transferred to it, each with its event."""
    reason = mask_personal(reason)  # free text: what the events and the audit log carry
    before = await open_for_change(uow, organization_id, expected_version)
    members = await uow.members.transferred_at(organization_id)
    moved = [m.moved_out(on) for m in members]
    after = deregistered(
        before,
        on=on,
        reason=reason,
        now=utcnow(),
        moved_full=sum(m.membership == "full" for m in moved),
        moved_probationary=sum(m.membership == "probationary" for m in moved),
    )
    await save_over(uow, after, before)
    await uow.record_and_audit(
        actor,
        OrganizationDeregisteredV1(
            organization_id=after.id,
            version=after.version,
            region_code=after.region_code,
            reason=reason,
            deregistered_at=after.updated_at,
        ),
        entity_type="organization",
        region_code=after.region_code,
        changes={"reason": reason, "on": on.isoformat()},
    )
    await leave_branch(uow, actor, rules, after, on=on)
    await _end_assignments(uow, actor, after, on)
    await uow.members.move_out(moved)
    uow.record_many(
        MemberMovedOutV1(
            member_id=m.id,
            organization_id=m.organization_id,
            region_code=m.region_code,
            membership=m.membership,
            reason=reason,
            moved_out_on=on,
        )
        for m in moved
    )
    await uow.audit.record_many(
        actor,
        "member.moved_out",
        entity_type="member",
        entries=[(m.id, m.region_code, m.snapshot()) for m in moved],
    )
    log.info("organisation deregistered", organization_id=after.id, members_moved=len(moved))
    return await uow.organizations.get(after.id) or after  # uncovered by its branch's end


async def _end_assignments(
    uow: RegistryUnitOfWork, actor: Actor, organization: Organization, on: date
) -> None:
    ended = [
        assignment_ended_with(a, on) for a in await uow.instructors.running_at(organization.id)
    ]
    await uow.instructors.end_assignments(ended)
    for assignment in ended:
        await uow.record_and_audit(
            actor,
            InstructorUnassignedV1(
                assignment_id=assignment.id,
                instructor_id=assignment.instructor_id,
                organization_id=assignment.organization_id,
                region_code=assignment.region_code,
                ended_on=on,
            ),
            entity_type="instructor_assignment",
            region_code=assignment.region_code,
            extra={"because_of": "organization.deregistered"},
        )


async def reactivate_organization(
    uow: RegistryUnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    *,
    reason: str | None,
    expected_version: int | None,
) -> Organization:
    """Open a deregistered file again (re-registered, back from 吊销, wrongly closed)."""
    reason = None if reason is None else mask_personal(reason)
    before = await uow.organizations.get(organization_id, for_update=True)
    if before is None:
        raise OrganizationNotFound(organization_id)
    if expected_version is not None and before.version != expected_version:
        raise StaleVersion(organization_id, expected_version, before.version)
    after = reactivated(before, now=utcnow())
    await save_over(uow, after, before)
    await uow.record_and_audit(
        actor,
        OrganizationReactivatedV1(
            **state_of(after), reason=reason, reactivated_at=after.updated_at
        ),
        entity_type="organization",
        region_code=after.region_code,
        changes={"reason": reason},
    )
    uow.record_many(eligible_events([(None, after)], rules))
    return after

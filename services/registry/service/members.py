"""Use cases of members: staff lists, rosters, discovery (隐形党员), declaration and transfer.

Member counts: only a transfer (组织关系转接) adds to the organisation's full or probationary
count, because only then does the member's relationship belong to the organisation (DOMAIN.md);
discovery and declaration leave the counts as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.ids import new_id
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.branches import Branch
from services.registry.domain.identity import Person
from services.registry.domain.members import (
    Member,
    MemberNotFound,
    MemberStatus,
    RosterEntry,
    StaleMember,
    registered_here,
)
from services.registry.domain.organizations import (
    Organization,
    OrganizationClosed,
    OrganizationNotFound,
    Rules,
)
from services.registry.events import MemberDeclaredV1, MemberDiscoveredV1, MemberTransferredV1
from services.registry.service.mobile_members import note_members, note_staff
from services.registry.service.organizations import adjust_member_counts
from services.registry.store.members import Match
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)


@dataclass
class ListResult:
    """What one staff list or roster did: how many people were new, known, and discovered."""

    received: int
    new: int
    known: int
    repeated: int
    discovered: list[Member] = field(default_factory=list)


async def _open_organization(uow: RegistryUnitOfWork, organization_id: str) -> Organization:
    """The organisation, locked: it must be in the ledger still to take part in Party work."""
    organization = await uow.organizations.get(organization_id, for_update=True)
    if organization is None:
        raise OrganizationNotFound(organization_id)
    if not organization.active:
        raise OrganizationClosed(organization_id)
    return organization


async def receive_staff_list(
    uow: RegistryUnitOfWork,
    actor: Actor,
    organization_id: str,
    people: Sequence[Person],
    *,
    repeated: int = 0,
) -> ListResult:
    """Keep an organisation's staff list and discover those of its staff on a roster."""
    organization = await _open_organization(uow, organization_id)
    entries = [(new_id(), p) for p in people]
    new = await uow.members.save_staff(organization_id, entries, utcnow())
    await note_staff(uow, people)
    matches = await uow.members.roster_matches(organization_id, organization.region_code)
    discovered = await discover(uow, actor, matches)
    await uow.audit.record(
        actor,
        "organization.staff_listed",
        entity_type="organization",
        entity_id=organization_id,
        region_code=organization.region_code,
        changes={"people": len(people), "new": new},
    )
    log.info(
        "staff list received",
        organization_id=organization_id,
        people=len(people),
        discovered=len(discovered),
    )
    return ListResult(len(people) + repeated, new, len(people) - new, repeated, discovered)


async def receive_roster(
    uow: RegistryUnitOfWork,
    actor: Actor,
    entries: Sequence[RosterEntry],
    *,
    repeated: int = 0,
) -> ListResult:
    """Keep a roster extract for the caller's region and discover its people on staff lists."""
    region_code = actor.region_code
    upload_id = new_id()
    rows = [(new_id(), e) for e in entries]
    new = await uow.members.save_roster(region_code, upload_id, rows, utcnow())
    discovered = await discover(uow, actor, await uow.members.staff_matches(region_code, upload_id))
    await uow.audit.record(
        actor,
        "member_roster.received",
        entity_type="member_roster",
        entity_id=region_code,
        region_code=region_code,
        changes={"people": len(entries), "new": new, "upload_id": upload_id},
    )
    log.info("member roster received", people=len(entries), discovered=len(discovered))
    return ListResult(len(entries) + repeated, new, len(entries) - new, repeated, discovered)


def _discovered(match: Match, now: datetime, branch: Branch | None, today: date) -> Member:
    if branch is not None and registered_here(match.registered_with, branch):
        return replace(
            _discovered(match, now, None, today),
            status="transferred",
            transferred_on=today,
            branch_id=branch.id,
        )
    return Member(
        id=new_id(),
        organization_id=match.organization_id,
        region_code=match.region_code,
        id_hash=match.id_hash,
        name=match.name,
        id_masked=match.id_masked,
        phone_masked=match.phone_masked,
        membership="full" if match.membership == "full" else "probationary",
        registered_with=match.registered_with,
        status="discovered",
        discovered_at=now,
    )


async def _covering_branches(
    uow: RegistryUnitOfWork, organization_ids: set[str]
) -> dict[str, Branch]:
    """The branch covering each of these organisations (those that have one)."""
    found = await uow.organizations.get_many(sorted(organization_ids))
    branches: dict[str, Branch] = {}
    for organization in found.values():
        if organization.branch_id:
            branch = await uow.branches.get(organization.branch_id)
            if branch is not None:
                branches[organization.id] = branch
    return branches


async def discover(uow: RegistryUnitOfWork, actor: Actor, matches: Sequence[Match]) -> list[Member]:
    """Record each match as a discovered member, once per person and organisation; a person the
    roster already registers with the branch covering the organisation is matched as
    transferred (no `member.discovered`, not counted again: the file's counts hold them).

    Many at once (a roster finds thousands): the events and the audit entries go in batches."""
    now = utcnow()
    covering = await _covering_branches(uow, {m.organization_id for m in matches})
    candidates = [
        _discovered(m, now, covering.get(m.organization_id), local_today()) for m in matches
    ]
    inserted = await uow.members.add_new(candidates)
    await note_members(uow, [m.id_hash for m in candidates])
    matched = [m for m in candidates if m.id in inserted and m.status == "transferred"]
    found = [m for m in candidates if m.id in inserted and m.status == "discovered"]
    await uow.audit.record_many(
        actor,
        "member.matched",
        entity_type="member",
        entries=[(m.id, m.region_code, m.snapshot()) for m in matched],
    )
    uow.record_many(
        MemberDiscoveredV1(
            member_id=member.id,
            organization_id=member.organization_id,
            region_code=member.region_code,
            membership=member.membership,
            discovered_at=now,
        )
        for member in found
    )
    await uow.audit.record_many(
        actor,
        "member.discovered",
        entity_type="member",
        entries=[(m.id, m.region_code, m.snapshot()) for m in found],
    )
    return found


async def get_member(uow: RegistryUnitOfWork, member_id: str) -> Member | None:
    return await uow.members.get(member_id)


async def members_at(
    uow: RegistryUnitOfWork,
    organization_id: str,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Member]:
    return await uow.members.at_organization(
        organization_id, status=status, after=after, limit=limit
    )


def _stepped(member: Member, to: MemberStatus) -> MemberDeclaredV1 | MemberTransferredV1:
    """The event of a member's step (亮明身份 or 组织关系转接)."""
    facts: dict[str, Any] = {
        "member_id": member.id,
        "organization_id": member.organization_id,
        "region_code": member.region_code,
        "membership": member.membership,
    }
    if to == "declared":
        return MemberDeclaredV1(**facts, declared_at=utcnow())
    return MemberTransferredV1(**facts, transferred_at=utcnow())


async def advance_member(
    uow: RegistryUnitOfWork,
    actor: Actor,
    rules: Rules,
    member_id: str,
    to: MemberStatus,
    on: date,
) -> tuple[Member, Organization | None]:
    """Declare (亮明身份) or transfer (组织关系转接) a member; a transfer counts them in."""
    before = await uow.members.get(member_id, for_update=True)
    if before is None:
        raise MemberNotFound(member_id)
    organization = await uow.organizations.get(before.organization_id)
    if organization is None:  # the member's file moved under us: read it again
        raise StaleMember(member_id)
    if not organization.active:
        raise OrganizationClosed(organization.id)
    if to == "transferred":
        branch = await uow.branches.get(organization.branch_id) if organization.branch_id else None
        after = before.transferred_to(branch, on)
    else:
        after = before.advanced(to, on)
    if not await uow.members.save(after, expected_version=before.version):
        raise StaleMember(member_id)
    await uow.record_and_audit(
        actor,
        _stepped(after, to),
        entity_type="member",
        region_code=after.region_code,
        extra={**after.snapshot(), "on": on.isoformat()},
    )
    counted = None
    if to == "transferred":
        counted = await adjust_member_counts(
            uow,
            actor,
            rules,
            after.organization_id,
            full=1 if after.membership == "full" else 0,
            probationary=1 if after.membership == "probationary" else 0,
            action="organization.member_transferred",
        )
    return after, counted

"""Use cases of members: staff lists, rosters, discovery (隐形党员), declaration and transfer.

Member counts: only a transfer (组织关系转接) adds to the organisation's full or probationary
count, because only then does the member's relationship belong to the organisation (DOMAIN.md);
discovery and declaration leave the counts as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.identity import Person
from services.registry.domain.members import Member, MemberStatus, RosterEntry
from services.registry.domain.organizations import (
    NotActive,
    Organization,
    OrganizationNotFound,
    Rules,
)
from services.registry.events import MemberDeclaredV1, MemberDiscoveredV1, MemberTransferredV1
from services.registry.service.organizations import adjust_member_counts, audit
from services.registry.store.members import Match, MemberRepository
from services.registry.store.organizations import OrganizationRepository

log = get_logger(__name__)


class MemberNotFound(Exception):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} not found")
        self.member_id = member_id


class StaleMember(Exception):
    """The member changed while this step was being taken."""


@dataclass
class ListResult:
    """What one staff list or roster did: how many people were new, known, and discovered."""

    received: int
    new: int
    known: int
    repeated: int
    discovered: list[Member] = field(default_factory=list)


async def receive_staff_list(
    uow: UnitOfWork,
    actor: Actor,
    organization_id: str,
    people: Sequence[Person],
    *,
    repeated: int = 0,
) -> ListResult:
    """Keep an organisation's staff list and discover those of its staff on a roster."""
    organization = await OrganizationRepository(uow.session).get(organization_id, for_update=True)
    if organization is None:
        raise OrganizationNotFound(organization_id)
    if not organization.active:
        raise NotActive(organization_id)
    store = MemberRepository(uow.session)
    now = utcnow()
    new = await store.save_staff(organization_id, [(str(uuid.uuid4()), p) for p in people], now)
    discovered = await discover(
        uow, actor, await store.roster_matches(organization_id, organization.region_code)
    )
    await audit(uow).record(
        actor,
        "organization.staff_listed",
        entity_type="organization",
        entity_id=organization_id,
        region_code=organization.region_code,
        changes={
            "people": len(people),
            "new": new,
        },
    )
    log.info(
        "staff list received",
        organization_id=organization_id,
        people=len(people),
        discovered=len(discovered),
    )
    return ListResult(len(people) + repeated, new, len(people) - new, repeated, discovered)


async def receive_roster(
    uow: UnitOfWork,
    actor: Actor,
    entries: Sequence[RosterEntry],
    *,
    repeated: int = 0,
) -> ListResult:
    """Keep a roster extract for the caller's region and discover its people on staff lists."""
    store = MemberRepository(uow.session)
    region_code = actor.region_code
    upload_id = str(uuid.uuid4())
    now = utcnow()
    new = await store.save_roster(
        region_code, upload_id, [(str(uuid.uuid4()), e) for e in entries], now
    )
    discovered = await discover(uow, actor, await store.staff_matches(region_code, upload_id))
    await audit(uow).record(
        actor,
        "member_roster.received",
        entity_type="member_roster",
        entity_id=region_code,
        region_code=region_code,
        changes={"people": len(entries), "new": new, "upload_id": upload_id},
    )
    log.info("member roster received", people=len(entries), discovered=len(discovered))
    return ListResult(len(entries) + repeated, new, len(entries) - new, repeated, discovered)


async def discover(uow: UnitOfWork, actor: Actor, matches: Sequence[Match]) -> list[Member]:
    """Record each match as a discovered member, once per person and organisation."""
    now = utcnow()
    candidates = [
        Member(
            id=str(uuid.uuid4()),
            organization_id=m.organization_id,
            region_code=m.region_code,
            id_hash=m.id_hash,
            name=m.name,
            id_masked=m.id_masked,
            phone_masked=m.phone_masked,
            membership="full" if m.membership == "full" else "probationary",
            registered_with=m.registered_with,
            status="discovered",
            discovered_at=now,
        )
        for m in matches
    ]
    inserted = await MemberRepository(uow.session).add_new(candidates)
    found = [m for m in candidates if m.id in inserted]
    for member in found:
        uow.record(
            MemberDiscoveredV1(
                member_id=member.id,
                organization_id=member.organization_id,
                region_code=member.region_code,
                membership=member.membership,
                discovered_at=now,
            )
        )
    await audit(uow).record_many(
        actor,
        "member.discovered",
        entity_type="member",
        entries=[(m.id, m.region_code, m.snapshot()) for m in found],
    )
    return found


async def get_member(uow: UnitOfWork, member_id: str) -> Member | None:
    return await MemberRepository(uow.session).get(member_id)


async def members_at(
    uow: UnitOfWork,
    organization_id: str,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[Member]:
    return await MemberRepository(uow.session).at_organization(
        organization_id, status=status, after=after, limit=limit
    )


async def advance_member(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    member_id: str,
    to: MemberStatus,
    on: date,
) -> tuple[Member, Organization | None]:
    """Declare (亮明身份) or transfer (组织关系转接) a member; a transfer counts them in."""
    store = MemberRepository(uow.session)
    before = await store.get(member_id, for_update=True)
    if before is None:
        raise MemberNotFound(member_id)
    organization = await OrganizationRepository(uow.session).get(before.organization_id)
    if organization is None:
        raise OrganizationNotFound(before.organization_id)
    if not organization.active:
        raise NotActive(organization.id)
    after = before.advanced(to, on)
    if not await store.save(after, expected_version=before.version):
        raise StaleMember(member_id)
    counted: Organization | None = None
    if to == "declared":
        uow.record(
            MemberDeclaredV1(
                member_id=after.id,
                organization_id=after.organization_id,
                region_code=after.region_code,
                membership=after.membership,
                declared_at=utcnow(),
            )
        )
    else:
        uow.record(
            MemberTransferredV1(
                member_id=after.id,
                organization_id=after.organization_id,
                region_code=after.region_code,
                membership=after.membership,
                transferred_at=utcnow(),
            )
        )
        counted = await adjust_member_counts(
            uow,
            actor,
            rules,
            after.organization_id,
            full=1 if after.membership == "full" else 0,
            probationary=1 if after.membership == "probationary" else 0,
            action="organization.member_transferred",
        )
    await audit(uow).record(
        actor,
        f"member.{to}",
        entity_type="member",
        entity_id=after.id,
        region_code=after.region_code,
        changes={**after.snapshot(), "on": on.isoformat()},
    )
    return after, counted

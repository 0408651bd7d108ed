"""Use cases on organisations' files, and the one place their events are built."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from libs.common.audit import Actor, AuditTrail
from libs.common.db import UnitOfWork
from libs.common.events import IntegrationEvent
from libs.common.logging import get_logger
from libs.common.tables import utcnow
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    NotActive,
    Organization,
    OrganizationFilter,
    OrganizationNotFound,
    Rules,
    StaleVersion,
    became_eligible,
)
from services.registry.domain.regions import check_area
from services.registry.events import (
    BranchEligibleV1,
    OrganizationDeregisteredV1,
    OrganizationRegisteredV1,
    OrganizationUpdatedV1,
)
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.regions import AreaRepository, region_tree
from services.registry.store.tables import audit_log

log = get_logger(__name__)

Change = tuple[Organization, Organization, list[str]]  # before, after, changed field names


def audit(uow: UnitOfWork) -> AuditTrail:
    return AuditTrail(uow.session, audit_log)


def state_of(organization: Organization) -> dict[str, Any]:
    """The organisation's state as every organisation event carries it."""
    return {
        "organization_id": organization.id,
        "version": organization.version,
        "credit_code": organization.credit_code,
        "name": organization.public_name,
        "kind": organization.kind,
        "region_code": organization.region_code,
        "industry_code": organization.industry_code,
        "staff_count": organization.staff_count,
        "area_ids": organization.area_ids,
        "three_haves": bool(organization.three_haves),
        "full_members": organization.full_members,
        "probationary_members": organization.probationary_members,
        "ledger_complete": organization.ledger.complete,
        "latitude": organization.latitude,
        "longitude": organization.longitude,
    }


def _eligible(organization: Organization, today: date) -> BranchEligibleV1:
    return BranchEligibleV1(
        organization_id=organization.id,
        region_code=organization.region_code,
        full_members=organization.full_members,
        eligible_on=today,
    )


def announce_registered(
    uow: UnitOfWork, batch: Sequence[Organization], rules: Rules | None = None
) -> None:
    """Record `organization.registered` for each new organisation; given the `rules`, then
    `branch.eligible` for each that enters the ledger with enough full members to stand alone."""
    events: list[IntegrationEvent] = [
        OrganizationRegisteredV1(**state_of(organization), registered_at=organization.created_at)
        for organization in batch
    ]
    if rules is not None:
        today = date.today()
        events += [
            _eligible(organization, today)
            for organization in batch
            if became_eligible(None, organization, rules.standalone_min_full_members)
        ]
    uow.record_many(events)


def announce_changed(uow: UnitOfWork, changes: Sequence[Change], rules: Rules) -> None:
    """Record `organization.updated` for each change, and `branch.eligible` where it applies."""
    today = date.today()
    events: list[IntegrationEvent] = []
    for before, after, changed in changes:
        events.append(
            OrganizationUpdatedV1(**state_of(after), changed=changed, updated_at=after.updated_at)
        )
        if became_eligible(before, after, rules.standalone_min_full_members):
            events.append(_eligible(after, today))
    uow.record_many(events)


#: Fields whose change moves the organisation: its region and areas are checked again.
PLACEMENT_FIELDS = frozenset({"region_code", "park_id", "district_id"})


async def check_placements(uow: UnitOfWork, batch: Sequence[Organization]) -> None:
    """Each organisation's region is a known division (as far as the published codes go) and
    its park / commercial district are areas of that kind in its township.

    Raises `UnknownRegion` or `AreaMisplaced` (domain/regions.py) naming the field."""
    tree = region_tree()
    for organization in batch:
        tree.ensure_known(organization.region_code)
    wanted = {a for o in batch for a in (o.park_id, o.district_id) if a}
    found = await AreaRepository(uow.session).get_many(sorted(wanted))
    for organization in batch:
        for name in ("park_id", "district_id"):
            area_id = getattr(organization, name)
            if area_id:
                check_area(name, found.get(area_id), area_id, organization.region_code)


def new_organization(**values: Any) -> Organization:
    now = utcnow()
    return Organization(id=str(uuid.uuid4()), version=1, created_at=now, updated_at=now, **values)


async def register_organization(
    uow: UnitOfWork, actor: Actor, rules: Rules, **values: Any
) -> Organization:
    """Enter an organisation in the ledger and announce it."""
    repo = OrganizationRepository(uow.session)
    existing = await repo.id_by_credit_code(values["credit_code"])
    if existing is not None:
        raise DuplicateCreditCode(values["credit_code"], existing)
    organization = new_organization(**values)
    await check_placements(uow, [organization])
    if not await repo.add_if_new(organization):  # registered meanwhile by another request
        raise DuplicateCreditCode(
            organization.credit_code, await repo.id_by_credit_code(organization.credit_code) or ""
        )
    announce_registered(uow, [organization], rules)
    await audit(uow).record(
        actor,
        "organization.registered",
        entity_type="organization",
        entity_id=organization.id,
        region_code=organization.region_code,
        changes=organization.snapshot(),
    )
    log.info("organisation registered", organization_id=organization.id)
    return organization


async def _open_for_change(
    repo: OrganizationRepository, organization_id: str, expected_version: int | None
) -> Organization:
    """The organisation, locked for a change: it exists, is at `expected_version` (when given)
    and is still in the ledger."""
    before = await repo.get(organization_id, for_update=True)
    if before is None:
        raise OrganizationNotFound(organization_id)
    if expected_version is not None and before.version != expected_version:
        raise StaleVersion(organization_id, expected_version, before.version)
    if not before.active:
        raise NotActive(organization_id)
    return before


async def _save(repo: OrganizationRepository, after: Organization, before: Organization) -> None:
    """Write `after` over `before`, unless another writer moved the file on meanwhile."""
    if not await repo.save(after, expected_version=before.version):
        current = await repo.get(after.id)
        raise StaleVersion(after.id, before.version, current.version if current else 0)


async def get_organization(uow: UnitOfWork, organization_id: str) -> Organization | None:
    return await OrganizationRepository(uow.session).get(organization_id)


async def update_organization(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
    action: str = "organization.updated",
) -> Organization:
    """Change an organisation's file; with `expected_version`, only if nobody changed it since.

    Nothing is written or announced when no field really changes."""
    repo = OrganizationRepository(uow.session)
    before = await _open_for_change(repo, organization_id, expected_version)
    after, changed = before.with_changes(changes)
    if not changed:
        return before
    if PLACEMENT_FIELDS.intersection(changed):
        await check_placements(uow, [after])
    after.version = before.version + 1
    after.updated_at = utcnow()
    await _save(repo, after, before)
    announce_changed(uow, [(before, after, changed)], rules)
    await audit(uow).record(
        actor,
        action,
        entity_type="organization",
        entity_id=organization_id,
        region_code=after.region_code,
        changes=changed_values(before, after, changed),
    )
    return after


def changed_values(
    before: Organization, after: Organization, changed: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """For the audit trail: each changed field's value before and after."""
    old, new = before.snapshot(), after.snapshot()
    return {name: {"from": old[name], "to": new[name]} for name in changed}


async def list_organizations(
    uow: UnitOfWork, where: OrganizationFilter, *, after: tuple[str, str] | None, limit: int
) -> list[Organization]:
    """A page of the ledger in (region_code, id) order, after a keyset cursor."""
    return await OrganizationRepository(uow.session).find(where, after=after, limit=limit)


async def adjust_member_counts(
    uow: UnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    *,
    full: int = 0,
    probationary: int = 0,
    action: str = "organization.members_counted",
) -> Organization:
    """Add to (or take from) the organisation's known member counts, never below zero."""
    current = await OrganizationRepository(uow.session).get(organization_id)
    if current is None:
        raise OrganizationNotFound(organization_id)
    return await update_organization(
        uow,
        actor,
        rules,
        organization_id,
        {
            "full_members": max(0, current.full_members + full),
            "probationary_members": max(0, current.probationary_members + probationary),
        },
        action=action,
    )


async def deregister_organization(
    uow: UnitOfWork,
    actor: Actor,
    organization_id: str,
    *,
    reason: str,
    expected_version: int | None = None,
) -> Organization:
    """Take an organisation out of the ledger (its file is kept, closed)."""
    repo = OrganizationRepository(uow.session)
    before = await _open_for_change(repo, organization_id, expected_version)
    now = utcnow()
    after = replace(
        before,
        status="deregistered",
        deregistered_on=now.date(),
        deregistration_reason=reason,
        version=before.version + 1,
        updated_at=now,
    )
    await _save(repo, after, before)
    uow.record(
        OrganizationDeregisteredV1(
            organization_id=after.id,
            version=after.version,
            region_code=after.region_code,
            reason=reason,
            deregistered_at=now,
        )
    )
    await audit(uow).record(
        actor,
        "organization.deregistered",
        entity_type="organization",
        entity_id=organization_id,
        region_code=after.region_code,
        changes={"reason": reason},
    )
    return after

"""Use cases on organisations' files, and the one place their events are built."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from pydantic_core import to_json

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.events import IntegrationEvent
from libs.common.ids import new_id
from libs.common.logging import get_logger
from libs.common.refusals import Conflict, Invalid
from libs.common.tables import utcnow
from libs.common.validators import is_within
from services.registry.domain.imports import Draft
from services.registry.domain.ledger import check_manual_points, with_derived_ledger
from services.registry.domain.lifecycle import DeregisteredCreditCode
from services.registry.domain.organizations import (
    CreditCodeRegisteredElsewhere,
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
    OrganizationImportedV1,
    OrganizationRegisteredV1,
    OrganizationUpdatedV1,
)
from services.registry.file_forms import (
    registered_data,
    state_of,
    updated_data,
)
from services.registry.store.uow import RegistryUnitOfWork

log = get_logger(__name__)

Change = tuple[Organization, Organization, list[str]]  # before, after, changed field names


def registered_event(organization: Organization) -> OrganizationRegisteredV1:
    return OrganizationRegisteredV1(**state_of(organization), registered_at=organization.created_at)


def updated_event(after: Organization, changed: list[str]) -> OrganizationUpdatedV1:
    return OrganizationUpdatedV1(**state_of(after), changed=changed, updated_at=after.updated_at)


#: Organisations an `organization.imported` event carries at most, and the bytes its data may
#: reach before it is cut sooner (a file of long texts). Consumers batch by message: coverage
#: applies 2,000 messages a transaction, so 8 files an event keep its batch within 16,000 files
#: (about 60 MB decoded) however big the import; the import runs as fast with 8 as with 250
#: (13,040 and 13,270 rows/s on SQLite: an event's own cost is then a small part), with 4 it
#: lost a tenth.
IMPORTED_PIECE = 8
IMPORTED_PIECE_BYTES = 32 * 1024


def imported_data(
    import_id: str, registered: Sequence[Draft], changes: Sequence[Change]
) -> list[bytes]:
    """The `organization.imported` events of an import's part, as their data: the new files
    (drafted) and the changed ones grouped by region (in the order given), each region's in
    pieces of at most `IMPORTED_PIECE`. Byte for byte `OrganizationImportedV1(...)
    .model_dump_json()`, built from `registered_data` and `updated_data` without a model per
    organisation."""
    by_region: dict[str, list[tuple[int, bytes]]] = {}
    for new in registered:
        by_region.setdefault(new.region_code, []).append((0, new.registered))
    for _, after, changed in changes:
        by_region.setdefault(after.region_code, []).append((1, updated_data(after, changed)))
    return [
        piece
        for region, items in by_region.items()
        for piece in _pieces(
            b'{"import_id":%b,"region_code":%b' % (to_json(import_id), to_json(region)), items
        )
    ]


def _pieces(head: bytes, items: list[tuple[int, bytes]]) -> Iterator[bytes]:
    lists: tuple[list[bytes], list[bytes]] = ([], [])
    count = size = 0
    for which, data in items:
        if count == IMPORTED_PIECE or (count and size + len(data) > IMPORTED_PIECE_BYTES):
            yield _piece(head, lists)
            lists, count, size = ([], []), 0, 0
        lists[which].append(data)
        count, size = count + 1, size + len(data) + 1
    if count:
        yield _piece(head, lists)


def _piece(head: bytes, lists: tuple[list[bytes], list[bytes]]) -> bytes:
    registered, updated = (b",".join(items) for items in lists)
    return b'%b,"registered":[%b],"updated":[%b]}' % (head, registered, updated)


def _eligible(organization: Organization, today: date) -> BranchEligibleV1:
    return BranchEligibleV1(
        organization_id=organization.id,
        region_code=organization.region_code,
        full_members=organization.full_members,
        eligible_on=today,
    )


def eligible_events(
    moves: Sequence[tuple[Organization | None, Organization]], rules: Rules
) -> list[IntegrationEvent]:
    """`branch.eligible` for each organisation (before, after; before None when new) that has
    just reached enough full members to stand alone."""
    today = date.today()
    minimum = rules.standalone_min_full_members
    return [
        _eligible(after, today)
        for before, after in moves
        if became_eligible(before, after, minimum)
    ]


def announce_registered(
    uow: UnitOfWork, batch: Sequence[Organization], rules: Rules | None = None
) -> None:
    """Record `organization.registered` for each new organisation (its JSON written without a
    model: the organisations are checked as they are made); given the `rules`, then
    `branch.eligible` for each that enters the ledger with enough full members to stand alone."""
    uow.record_serialized(OrganizationRegisteredV1, [(o.id, registered_data(o)) for o in batch])
    if rules is not None:
        uow.record_many(eligible_events([(None, organization) for organization in batch], rules))


def announce_changed(uow: UnitOfWork, changes: Sequence[Change], rules: Rules) -> None:
    """Record `organization.updated` for each change (as `announce_registered`), then
    `branch.eligible` where it applies."""
    uow.record_serialized(
        OrganizationUpdatedV1,
        [(after.id, updated_data(after, changed)) for _, after, changed in changes],
    )
    uow.record_many(eligible_events([(before, after) for before, after, _ in changes], rules))


def announce_imported(
    uow: UnitOfWork,
    import_id: str,
    registered: Sequence[Draft],
    changes: Sequence[Change],
    rules: Rules,
) -> None:
    """Record `organization.imported` for an import's part (its files in a few events, see
    `imported_data`), then `branch.eligible` for each file that can now stand alone, as
    `announce_registered` and `announce_changed` do one file at a time."""
    uow.record_serialized(
        OrganizationImportedV1,
        [(import_id, data) for data in imported_data(import_id, registered, changes)],
    )
    uow.record_serialized(
        BranchEligibleV1, [(new.id, new.eligible) for new in registered if new.eligible]
    )
    uow.record_many(eligible_events([(before, after) for before, after, _ in changes], rules))


#: Fields whose change moves the organisation: its region and areas are checked again.
PLACEMENT_FIELDS = frozenset({"region_code", "park_id", "district_id"})


async def check_placements(uow: RegistryUnitOfWork, batch: Sequence[Organization]) -> None:
    """Each organisation's region is a known division (as far as the published codes go) and
    its park / commercial district are areas of that kind in its township.

    Raises `UnknownRegion` or `AreaMisplaced` (domain/regions.py) naming the field."""
    for organization in batch:
        uow.regions.ensure_known(organization.region_code)
    wanted = {a for o in batch for a in o.area_ids}
    found = await uow.areas.get_many(sorted(wanted))
    for organization in batch:
        for name in ("park_id", "district_id"):
            area_id = getattr(organization, name)
            if area_id:
                check_area(name, found.get(area_id), area_id, organization.region_code)


def new_organization(**values: Any) -> Organization:
    """A new file, its ledger points (六清) as its data shows them."""
    now = utcnow()
    return with_derived_ledger(
        Organization(id=new_id(), version=1, created_at=now, updated_at=now, **values)
    )


async def register_organization(
    uow: RegistryUnitOfWork, actor: Actor, rules: Rules, **values: Any
) -> Organization:
    """Enter an organisation in the ledger and announce it.

    The insert itself (the credit code's unique index) finds a credit code already in the
    ledger: no read before it, so the write transaction is one statement shorter (on SQLite it
    holds the one writer's turn; on PostgreSQL each statement is a round trip). The file and its
    event are built before the transaction's first statement. A duplicate is still the answer
    before anything else wrong with the body."""
    organization = new_organization(**values)
    registered = registered_event(organization)
    eligible = eligible_events([(None, organization)], rules)
    try:
        requested = values.get("ledger")
        if requested is not None:
            check_manual_points(organization, requested.as_dict())
        await check_placements(uow, [organization])
    except Invalid:
        await _refuse_if_registered(uow, actor, organization.credit_code)
        raise
    if not await uow.organizations.add_if_new(organization):  # its credit code is taken
        existing = await uow.organizations.id_by_credit_code(organization.credit_code)
        raise await _duplicate(uow, actor, organization.credit_code, existing)
    await uow.record_and_audit(
        actor,
        registered,
        entity_type="organization",
        region_code=organization.region_code,
        changes=organization.snapshot(),
    )
    uow.record_many(eligible)
    log.info("organisation registered", organization_id=organization.id)
    return organization


async def _refuse_if_registered(uow: RegistryUnitOfWork, actor: Actor, credit_code: str) -> None:
    """Raise the conflict of `credit_code` when a file already holds it."""
    existing = await uow.organizations.id_by_credit_code(credit_code)
    if existing is not None:
        raise await _duplicate(uow, actor, credit_code, existing)


async def _duplicate(
    uow: RegistryUnitOfWork, actor: Actor, credit_code: str, existing_id: str | None
) -> Conflict:
    """Why `credit_code` cannot be registered again: the file's id (and that it is
    deregistered) only when the file is in the caller's region; elsewhere, only that it is."""
    known = await uow.organizations.get(existing_id) if existing_id else None
    if known is None or not is_within(known.region_code, actor.region_code):
        return CreditCodeRegisteredElsewhere(credit_code)
    if not known.active:
        return DeregisteredCreditCode(credit_code, known.id)
    return DuplicateCreditCode(credit_code, known.id)


async def open_for_change(
    uow: RegistryUnitOfWork, organization_id: str, expected_version: int | None
) -> Organization:
    """The organisation, locked for a change: it exists, is at `expected_version` (when given)
    and is still in the ledger."""
    before = await uow.organizations.get(organization_id, for_update=True)
    if before is None:
        raise OrganizationNotFound(organization_id)
    if expected_version is not None and before.version != expected_version:
        raise StaleVersion(organization_id, expected_version, before.version)
    if not before.active:
        raise NotActive(organization_id)
    return before


async def save_over(uow: RegistryUnitOfWork, after: Organization, before: Organization) -> None:
    """Write `after` over `before`, unless another writer moved the file on meanwhile."""
    if not await uow.organizations.save(after, expected_version=before.version):
        current = await uow.organizations.get(after.id)
        raise StaleVersion(after.id, before.version, current.version if current else 0)


async def get_organization(uow: RegistryUnitOfWork, organization_id: str) -> Organization | None:
    return await uow.organizations.get(organization_id)


async def update_organization(
    uow: RegistryUnitOfWork,
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
    before = await open_for_change(uow, organization_id, expected_version)
    after, changed = before.with_changes(changes)
    check_manual_points(after, changes.get("ledger") or {})
    after = with_derived_ledger(after)
    changed = sorted(
        {*changed, "ledger"} if after.ledger != before.ledger else set(changed) - {"ledger"}
    )
    if not changed:
        return before
    if PLACEMENT_FIELDS.intersection(changed):
        await check_placements(uow, [after])
    after.version = before.version + 1
    after.updated_at = utcnow()
    await save_over(uow, after, before)
    await uow.record_and_audit(
        actor,
        updated_event(after, changed),
        entity_type="organization",
        region_code=after.region_code,
        action=action,
        changes=changed_values(before, after, changed),
    )
    uow.record_many(eligible_events([(before, after)], rules))
    return after


async def refresh_ledgers(
    uow: RegistryUnitOfWork, actor: Actor, rules: Rules, organization_ids: Sequence[str]
) -> None:
    """Derive again the 六清 of these files after something outside them changed what their data
    shows (a Party organisation now covers them, or no longer does); a file whose points moved
    is saved one version on and announced. Deregistered files are left as they were closed."""
    found = await uow.organizations.get_many(organization_ids)
    for organization in found.values():
        if organization.active and with_derived_ledger(organization) != organization:
            await update_organization(
                uow, actor, rules, organization.id, {}, action="organization.ledger_derived"
            )


def changed_values(
    before: Organization, after: Organization, changed: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """For the audit trail: each changed field's value before and after."""
    old, new = before.snapshot(), after.snapshot()
    return {name: {"from": old[name], "to": new[name]} for name in changed}


async def list_organizations(
    uow: RegistryUnitOfWork,
    where: OrganizationFilter,
    *,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Organization]:
    """A page of the ledger in (region_code, id) order, after a keyset cursor."""
    return await uow.organizations.find(where, after=after, limit=limit)


async def adjust_member_counts(
    uow: RegistryUnitOfWork,
    actor: Actor,
    rules: Rules,
    organization_id: str,
    *,
    full: int = 0,
    probationary: int = 0,
    action: str = "organization.members_counted",
) -> Organization:
    """Add to (or take from) the organisation's known member counts, never below zero."""
    current = await uow.organizations.get(organization_id)
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

"""Use cases for workers: register, check in with a community, declare membership."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from libs.common.audit import Actor
from libs.common.calendar import local_today
from libs.common.identity import IdentityKey
from libs.common.ids import new_id
from libs.common.tables import utcnow
from services.stations.domain.identity import Identity, id_number_hash
from services.stations.domain.workers import (
    CheckIn,
    Worker,
    WorkerAlreadyRegistered,
    WorkerNotFound,
    check_community,
    check_declare,
)
from services.stations.events import (
    WorkerCheckedInV1,
    WorkerMemberDeclaredV1,
    WorkerRegisteredV1,
)
from services.stations.store.uow import StationsUnitOfWork


async def register_worker(
    uow: StationsUnitOfWork,
    actor: Actor,
    key: IdentityKey,
    *,
    name: str,
    phone: str,
    region_code: str,
    platform: str,
    occupation: str,
) -> Worker:
    """Register a worker; the name and phone are hashed and masked here and never kept raw."""
    identity = Identity.of(key, name, phone)
    existing = await uow.workers.id_by_phone_hash(identity.phone_hash)
    if existing is not None:
        raise WorkerAlreadyRegistered(existing)
    now = utcnow()
    worker = Worker(
        id=new_id(),
        region_code=region_code,
        platform=platform,
        occupation=occupation,  # type: ignore[arg-type]
        name_hash=identity.name_hash,
        name_masked=identity.name_masked,
        phone_hash=identity.phone_hash,
        phone_masked=identity.phone_masked,
        registered_at=now,
    )
    if not await uow.workers.add_if_new(worker):
        raise WorkerAlreadyRegistered(await uow.workers.id_by_phone_hash(identity.phone_hash) or "")
    await uow.record_and_audit(
        actor,
        WorkerRegisteredV1(
            worker_id=worker.id,
            region_code=region_code,
            platform=platform,
            occupation=occupation,
            registered_at=now,
        ),
        entity_type="worker",
        region_code=region_code,
        extra={"name": worker.name_masked, "phone": worker.phone_masked},
    )
    return worker


async def get_worker(uow: StationsUnitOfWork, worker_id: str) -> Worker | None:
    return await uow.workers.get(worker_id)


async def list_workers(
    uow: StationsUnitOfWork,
    region_code: str,
    *,
    occupation: str | None,
    community_code: str | None,
    checked_in: bool | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[Worker]:
    """A page of the workers of a region's subtree."""
    return await uow.workers.find(
        region_code,
        occupation=occupation,
        community_code=community_code,
        checked_in=checked_in,
        after=after,
        limit=limit,
    )


async def _worker(uow: StationsUnitOfWork, worker_id: str) -> Worker:
    worker = await uow.workers.get(worker_id, for_update=True)
    if worker is None:
        raise WorkerNotFound(worker_id)
    return worker


async def check_in(
    uow: StationsUnitOfWork,
    actor: Actor,
    worker_id: str,
    *,
    community_code: str,
    area_name: str | None,
    roles: tuple[str, ...],
    on: date | None,
) -> Worker:
    """Check a worker in with a community (a later check-in replaces the earlier one)."""
    worker = await _worker(uow, worker_id)
    check_community(community_code, area_name)
    now = utcnow()
    day = on or local_today(now)
    record = CheckIn(new_id(), worker.id, community_code, area_name, roles, day, now)
    after = replace(
        worker,
        community_code=community_code,
        area_name=area_name,
        roles=roles,
        checked_in_on=day,
        version=worker.version + 1,
    )
    await uow.workers.add_check_in(record)
    await uow.workers.save(after, expected_version=worker.version)
    await uow.record_and_audit(
        actor,
        WorkerCheckedInV1(
            worker_id=worker.id,
            check_in_id=record.id,
            region_code=worker.region_code,
            community_code=community_code,
            roles=list(roles),
            checked_in_on=day,
        ),
        entity_type="worker",
        region_code=worker.region_code,
    )
    return after


async def declare_member(
    uow: StationsUnitOfWork,
    actor: Actor,
    key: IdentityKey,
    worker_id: str,
    *,
    id_number: str | None,
) -> Worker:
    """A worker says they are a Party member: announced with keyed hashes and region only."""
    worker = await _worker(uow, worker_id)
    check_declare(worker)
    id_key = id_number_hash(key, id_number)[0] if id_number else None
    today = local_today()
    after = replace(worker, member_declared_on=today, version=worker.version + 1)
    await uow.workers.save(after, expected_version=worker.version)
    await uow.record_and_audit(
        actor,
        WorkerMemberDeclaredV1(
            worker_id=worker.id,
            region_code=worker.region_code,
            community_code=worker.community_code,
            match_key=worker.phone_hash,
            id_match_key=id_key,
            declared_on=today,
        ),
        entity_type="worker",
        region_code=worker.region_code,
        changes={"member_declared_on": today.isoformat()},
    )
    return after

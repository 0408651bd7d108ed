"""Use cases of instructors (党建指导员): register, assign to organisations (包联), end them."""

from __future__ import annotations

from datetime import date

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.tables import utcnow
from services.registry.domain.branches import within
from services.registry.domain.instructors import (
    Assignment,
    AssignmentNotFound,
    Instructor,
    InstructorNotFound,
    check_assignment,
    ended,
)
from services.registry.domain.organizations import OrganizationNotFound
from services.registry.events import (
    InstructorAssignedV1,
    InstructorRegisteredV1,
    InstructorUnassignedV1,
)
from services.registry.store.uow import RegistryUnitOfWork


async def register_instructor(
    uow: RegistryUnitOfWork, actor: Actor, *, name: str, region_code: str
) -> Instructor:
    instructor = Instructor(id=new_id(), name=name, region_code=region_code)
    now = utcnow()
    await uow.instructors.add(instructor, now)
    await uow.record_and_audit(
        actor,
        InstructorRegisteredV1(
            instructor_id=instructor.id, region_code=region_code, registered_at=now
        ),
        entity_type="instructor",
        region_code=region_code,
        extra={"name": instructor.name_masked},  # the event carries no name: it is a person's
    )
    return instructor


async def get_instructor(
    uow: RegistryUnitOfWork, instructor_id: str, scope: str, *, for_update: bool = False
) -> Instructor:
    instructor = await uow.instructors.get(instructor_id, for_update=for_update)
    if instructor is None or not within(instructor.region_code, scope):
        raise InstructorNotFound(instructor_id)
    return instructor


async def list_instructors(
    uow: RegistryUnitOfWork,
    region_code: str,
    *,
    organization_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[tuple[Instructor, list[Assignment]]]:
    """A page of the instructors of a region's subtree, each with its assignments."""
    found = await uow.instructors.find(
        region_code, organization_id=organization_id, after=after, limit=limit
    )
    assignments: dict[str, list[Assignment]] = {}
    for a in await uow.instructors.assignments_of_many([i.id for i in found]):
        assignments.setdefault(a.instructor_id, []).append(a)
    return [(i, assignments.get(i.id, [])) for i in found]


async def assignments_of(uow: RegistryUnitOfWork, instructor_id: str) -> list[Assignment]:
    return await uow.instructors.assignments(instructor_id)


async def assign(
    uow: RegistryUnitOfWork,
    actor: Actor,
    instructor_id: str,
    *,
    organization_id: str,
    starts_on: date,
    ends_on: date | None,
) -> Assignment:
    """Assign an instructor to guide an organisation; one instructor guides many."""
    # locked: two concurrent assignments of one instructor cannot both pass the overlap check
    instructor = await get_instructor(uow, instructor_id, actor.region_code, for_update=True)
    organization = await uow.organizations.get(organization_id)
    if organization is None or not within(organization.region_code, actor.region_code):
        raise OrganizationNotFound(organization_id)
    check_assignment(
        instructor,
        organization.id,
        organization.region_code,
        organization.active,
        starts_on,
        ends_on,
        await uow.instructors.assignments(instructor_id),
    )
    assignment = Assignment(
        id=new_id(),
        instructor_id=instructor_id,
        organization_id=organization.id,
        region_code=organization.region_code,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    await uow.instructors.add_assignment(assignment, utcnow())
    await uow.record_and_audit(
        actor,
        InstructorAssignedV1(
            assignment_id=assignment.id,
            instructor_id=instructor_id,
            organization_id=organization.id,
            region_code=organization.region_code,
            starts_on=starts_on,
            ends_on=ends_on,
        ),
        entity_type="instructor_assignment",
        region_code=organization.region_code,
    )
    return assignment


async def end_assignment(
    uow: RegistryUnitOfWork, actor: Actor, instructor_id: str, assignment_id: str, *, on: date
) -> Assignment:
    """End an assignment; an instructor the caller does not see has no assignment to end."""
    instructor = await uow.instructors.get(instructor_id, for_update=True)
    before = await uow.instructors.assignment(assignment_id)
    if (
        instructor is None
        or not within(instructor.region_code, actor.region_code)
        or before is None
        or before.instructor_id != instructor_id
    ):
        raise AssignmentNotFound(assignment_id)
    after = ended(before, on)
    await uow.instructors.end_assignment(after)
    await uow.record_and_audit(
        actor,
        InstructorUnassignedV1(
            assignment_id=after.id,
            instructor_id=instructor_id,
            organization_id=after.organization_id,
            region_code=after.region_code,
            ended_on=on,
        ),
        entity_type="instructor_assignment",
        region_code=after.region_code,
    )
    return after

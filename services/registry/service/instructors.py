"""Use cases of instructors (党建指导员): register, assign to organisations (包联), end them."""

from __future__ import annotations

import uuid
from datetime import date

from libs.common.audit import Actor
from libs.common.db import UnitOfWork
from libs.common.tables import utcnow
from services.registry.domain.branches import within
from services.registry.domain.instructors import (
    Assignment,
    Instructor,
    check_assignment,
    ended,
)
from services.registry.domain.organizations import OrganizationNotFound
from services.registry.events import (
    InstructorAssignedV1,
    InstructorRegisteredV1,
    InstructorUnassignedV1,
)
from services.registry.service.organizations import audit
from services.registry.store.instructors import InstructorRepository
from services.registry.store.organizations import OrganizationRepository


class InstructorNotFound(Exception):
    def __init__(self, instructor_id: str) -> None:
        super().__init__(f"instructor {instructor_id} not found")


class AssignmentNotFound(Exception):
    def __init__(self, assignment_id: str) -> None:
        super().__init__(f"assignment {assignment_id} not found")


async def register_instructor(
    uow: UnitOfWork, actor: Actor, *, name: str, region_code: str
) -> Instructor:
    instructor = Instructor(id=str(uuid.uuid4()), name=name, region_code=region_code)
    now = utcnow()
    await InstructorRepository(uow.session).add(instructor, now)
    uow.record(
        InstructorRegisteredV1(
            instructor_id=instructor.id, region_code=region_code, registered_at=now
        )
    )
    await audit(uow).record(
        actor,
        "instructor.registered",
        entity_type="instructor",
        entity_id=instructor.id,
        region_code=region_code,
        changes={"name": instructor.name_masked, "region_code": region_code},
    )
    return instructor


async def get_instructor(
    uow: UnitOfWork, instructor_id: str, scope: str, *, for_update: bool = False
) -> Instructor:
    instructor = await InstructorRepository(uow.session).get(instructor_id, for_update=for_update)
    if instructor is None or not within(instructor.region_code, scope):
        raise InstructorNotFound(instructor_id)
    return instructor


async def assignments_of(uow: UnitOfWork, instructor_id: str) -> list[Assignment]:
    return await InstructorRepository(uow.session).assignments(instructor_id)


async def assign(
    uow: UnitOfWork,
    actor: Actor,
    instructor_id: str,
    *,
    organization_id: str,
    starts_on: date,
    ends_on: date | None,
) -> Assignment:
    """Assign an instructor to guide an organisation; one instructor guides many."""
    store = InstructorRepository(uow.session)
    # locked: two concurrent assignments of one instructor cannot both pass the overlap check
    instructor = await get_instructor(uow, instructor_id, actor.region_code, for_update=True)
    organization = await OrganizationRepository(uow.session).get(organization_id)
    if organization is None or not within(organization.region_code, actor.region_code):
        raise OrganizationNotFound(organization_id)
    check_assignment(
        instructor,
        organization.id,
        organization.region_code,
        organization.active,
        starts_on,
        ends_on,
        await store.assignments(instructor_id),
    )
    assignment = Assignment(
        id=str(uuid.uuid4()),
        instructor_id=instructor_id,
        organization_id=organization.id,
        region_code=organization.region_code,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    await store.add_assignment(assignment, utcnow())
    uow.record(
        InstructorAssignedV1(
            assignment_id=assignment.id,
            instructor_id=instructor_id,
            organization_id=organization.id,
            region_code=organization.region_code,
            starts_on=starts_on,
            ends_on=ends_on,
        )
    )
    await audit(uow).record(
        actor,
        "instructor.assigned",
        entity_type="instructor_assignment",
        entity_id=assignment.id,
        region_code=organization.region_code,
        changes={
            "instructor_id": instructor_id,
            "organization_id": organization.id,
            "starts_on": starts_on,
            "ends_on": ends_on,
        },
    )
    return assignment


async def end_assignment(
    uow: UnitOfWork, actor: Actor, instructor_id: str, assignment_id: str, *, on: date
) -> Assignment:
    store = InstructorRepository(uow.session)
    await get_instructor(uow, instructor_id, actor.region_code, for_update=True)
    before = await store.assignment(assignment_id)
    if before is None or before.instructor_id != instructor_id:
        raise AssignmentNotFound(assignment_id)
    after = ended(before, on)
    await store.end_assignment(after)
    uow.record(
        InstructorUnassignedV1(
            assignment_id=after.id,
            instructor_id=instructor_id,
            organization_id=after.organization_id,
            region_code=after.region_code,
            ended_on=on,
        )
    )
    await audit(uow).record(
        actor,
        "instructor.unassigned",
        entity_type="instructor_assignment",
        entity_id=after.id,
        region_code=after.region_code,
        changes={"ended_on": on},
    )
    return after

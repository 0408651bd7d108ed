"""Party-building instructors (党建指导员) and their assignments to organisations (包联).

An instructor's name is kept for the office and shown masked (it is a person's); events carry the
instructor by id only. Ending an assignment: `POST /v1/instructors/{id}/assignments/{aid}/end`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.audit import Actor
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, sends, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Name, Text
from services.registry.api.deps import Reader, ReadSession, Transaction, Writer
from services.registry.domain.instructors import Assignment, Instructor
from services.registry.service import instructors as service

router = APIRouter(prefix="/v1/instructors", tags=["instructors"])


class InstructorIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name = Field(
        min_length=1, max_length=100, description="Kept for the office, shown masked"
    )
    region_code: RegionCode = Field(description="The region whose organisations they may guide")


class AssignmentOut(BaseModel):
    id: str
    instructor_id: str
    organization_id: str
    region_code: str
    starts_on: date
    ends_on: date | None
    ended_on: date | None
    active: bool

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentOut:
        return cls.model_validate(assignment, from_attributes=True)


class InstructorOut(BaseModel):
    id: str
    name: str = Field(description="Masked (王**)")
    region_code: str
    assignments: list[AssignmentOut]

    @classmethod
    def of(cls, instructor: Instructor, assignments: list[Assignment]) -> InstructorOut:
        return cls(
            id=instructor.id,
            name=instructor.name_masked,
            region_code=instructor.region_code,
            assignments=[AssignmentOut.of(a) for a in assignments],
        )


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: Text
    starts_on: date
    ends_on: date | None = Field(default=None, description="Planned end, if any")


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = Field(default=None, description="Default: today")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstructorOut,
    summary="Register an instructor (党建指导员)",
    responses=sends(201, location=True),
)
async def register_instructor(
    body: InstructorIn, uow: Transaction, principal: Writer, response: Response
) -> InstructorOut:
    principal.ensure_covers(body.region_code)
    instructor = await service.register_instructor(
        uow, Actor.of(principal), name=body.name, region_code=body.region_code
    )
    response.headers["Location"] = f"{router.prefix}/{instructor.id}"
    return InstructorOut.of(instructor, [])


class InstructorPage(Page[InstructorOut]):
    pass


@router.get(
    "",
    response_model=InstructorPage,
    summary="The instructors of a region subtree (masked), with their assignments",
)
async def list_instructors(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    organization_id: Annotated[
        Text | None,
        Query(max_length=64, description="Those assigned to this organisation (not ended)"),
    ] = None,
) -> InstructorPage:
    """In (region_code, id) order."""
    found = await service.list_instructors(
        uow,
        subtree_of(principal, region_code),
        organization_id=organization_id,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return InstructorPage.of(
        pages,
        found,
        key=lambda f: (f[0].region_code, f[0].id),
        item=lambda f: InstructorOut.of(*f),
    )


@router.get("/{instructor_id}", response_model=InstructorOut, summary="An instructor (masked)")
async def read_instructor(
    instructor_id: Text, uow: ReadSession, principal: Reader
) -> InstructorOut:
    instructor = await service.get_instructor(uow, instructor_id, principal.region_code)
    return InstructorOut.of(instructor, await service.assignments_of(uow, instructor_id))


@router.post(
    "/{instructor_id}/assignments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentOut,
    summary="Assign the instructor to guide an organisation (包联)",
)
async def assign_instructor(
    instructor_id: Text, body: AssignmentIn, uow: Transaction, principal: Writer
) -> AssignmentOut:
    assignment = await service.assign(
        uow,
        Actor.of(principal),
        instructor_id,
        organization_id=body.organization_id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
    )
    return AssignmentOut.of(assignment)


@router.post(
    "/{instructor_id}/assignments/{assignment_id}/end",
    response_model=AssignmentOut,
    summary="End an assignment",
)
async def end_assignment(
    instructor_id: Text,
    assignment_id: Text,
    uow: Transaction,
    principal: Writer,
    body: EndIn | None = None,
) -> AssignmentOut:
    assignment = await service.end_assignment(
        uow,
        Actor.of(principal),
        instructor_id,
        assignment_id,
        on=(body.on if body else None) or date.today(),
    )
    return AssignmentOut.of(assignment)

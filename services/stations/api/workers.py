"""HTTP routes for workers: register, read (masked), check in with a community (社区报到),
declare membership. Names and phones leave only masked; raw values are never stored."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, sends, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.problems import Forbidden
from libs.common.text import Name, Text
from services.stations.api.deps import (
    Caller,
    Reader,
    ReadSession,
    SettingsDep,
    Transaction,
    Writer,
    party_of,
)
from services.stations.domain.workers import Occupation, Role, Worker
from services.stations.service import StationsUnitOfWork
from services.stations.service import workers as service

router = APIRouter(prefix="/v1/workers", tags=["workers"])


class WorkerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "李师傅",
                    "phone": "13800000000",
                    "region_code": "140212101",
                    "platform": "美团",
                    "occupation": "food_delivery_rider",
                }
            ]
        },
    )

    name: Name = Field(min_length=1, max_length=50, description="Kept only hashed and masked")
    phone: Text = Field(min_length=1, max_length=20, description="Kept only hashed and masked")
    region_code: RegionCode
    platform: Text = Field(min_length=1, max_length=200, description="美团, 顺丰, 货拉拉, ...")
    occupation: Occupation


class CheckInIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"community_code": "140212101001", "roles": ["volunteer"], "on": "2026-11-30"}
            ]
        },
    )

    community_code: RegionCode = Field(description="Village/community code, or a region's")
    area_name: Text | None = Field(default=None, max_length=200, description="A named area")
    roles: list[Role] = Field(default_factory=list, max_length=3)
    on: date | None = None


class DeclarationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: Text | None = Field(
        default=None, max_length=30, description="Optional; only its keyed hash is announced"
    )


class WorkerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
                    "region_code": "140212101",
                    "platform": "美团",
                    "occupation": "food_delivery_rider",
                    "name": "李**",
                    "phone": "138****0000",
                    "registered_at": "2026-11-30T02:15:00Z",
                    "community_code": "140212101001",
                    "area_name": None,
                    "roles": ["volunteer"],
                    "checked_in_on": "2026-11-30",
                    "member_declared": False,
                }
            ]
        }
    )

    id: str
    region_code: str
    platform: str
    occupation: str
    name: str = Field(description="Masked (张**)")
    phone: str = Field(description="Masked (138****5678)")
    registered_at: datetime
    community_code: str | None
    area_name: str | None
    roles: list[str]
    checked_in_on: date | None
    member_declared: bool

    @classmethod
    def of(cls, w: Worker) -> WorkerOut:
        return cls(
            id=w.id,
            region_code=w.region_code,
            platform=w.platform,
            occupation=w.occupation,
            name=w.name_masked,
            phone=w.phone_masked,
            registered_at=w.registered_at,
            community_code=w.community_code,
            area_name=w.area_name,
            roles=list(w.roles),
            checked_in_on=w.checked_in_on,
            member_declared=w.member_declared_on is not None,
        )


class WorkerPage(Page[WorkerOut]):
    pass


def _office_or_self(principal: Principal, worker_id: str) -> None:
    """The office writes for any worker of its region; a worker's own token for itself."""
    party = party_of(principal, moving=True)
    if party.kind == "office" or party.subject == f"worker:{worker_id}":
        return
    raise Forbidden("only the office or the worker themself may do this")


async def _visible(uow: StationsUnitOfWork, worker_id: str, principal: Principal) -> Worker:
    worker = principal.visible(await service.get_worker(uow, worker_id), "worker")
    return worker


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a worker",
    responses=sends(201, location=True),
)
async def register_worker(
    body: WorkerIn, uow: Transaction, principal: Writer, settings: SettingsDep, response: Response
) -> WorkerOut:
    principal.ensure_covers(body.region_code)
    worker = await service.register_worker(
        uow,
        Actor.of(principal),
        settings.identity(),
        name=body.name,
        phone=body.phone,
        region_code=body.region_code,
        platform=body.platform,
        occupation=body.occupation,
    )
    response.headers["Location"] = f"{router.prefix}/{worker.id}"
    return WorkerOut.of(worker)


@router.get("", summary="The workers of a region subtree (names and phones masked)")
async def list_workers(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
    occupation: Occupation | None = None,
    community_code: Annotated[
        str | None,
        Query(
            max_length=12,
            pattern=r"^[0-9]{2,12}$",
            description="Checked in with this community (or within this region)",
        ),
    ] = None,
    checked_in: Annotated[
        bool | None, Query(description="Whether they have checked in with a community (社区报到)")
    ] = None,
) -> WorkerPage:
    """In (region_code, id) order."""
    found = await service.list_workers(
        uow,
        subtree_of(principal, region_code),
        occupation=occupation,
        community_code=community_code,
        checked_in=checked_in,
        after=pages.after(str, str),
        limit=pages.fetch,
    )
    return WorkerPage.of(pages, found, key=lambda w: (w.region_code, w.id), item=WorkerOut.of)


@router.get("/{worker_id}", summary="One worker (name and phone masked)")
async def read_worker(worker_id: Text, uow: ReadSession, principal: Reader) -> WorkerOut:
    return WorkerOut.of(await _visible(uow, worker_id, principal))


@router.post(
    "/{worker_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    summary="Check in with a community (社区报到), taking roles",
)
async def check_in_worker(
    worker_id: Text, body: CheckInIn, uow: Transaction, principal: Caller
) -> WorkerOut:
    _office_or_self(principal, worker_id)
    await _visible(uow, worker_id, principal)
    worker = await service.check_in(
        uow,
        Actor.of(principal),
        worker_id,
        community_code=body.community_code,
        area_name=body.area_name,
        roles=tuple(sorted(set(body.roles))),
        on=body.on,
    )
    return WorkerOut.of(worker)


@router.post(
    "/{worker_id}/member-declaration",
    summary="Declare being a Party member (announced with keyed hashes only)",
)
async def declare_worker_membership(
    worker_id: Text,
    uow: Transaction,
    principal: Caller,
    settings: SettingsDep,
    body: DeclarationIn | None = None,
) -> WorkerOut:
    _office_or_self(principal, worker_id)
    await _visible(uow, worker_id, principal)
    worker = await service.declare_member(
        uow,
        Actor.of(principal),
        settings.identity(),
        worker_id,
        id_number=body.id_number if body else None,
    )
    return WorkerOut.of(worker)

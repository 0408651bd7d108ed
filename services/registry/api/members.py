"""Staff lists, member rosters and the members found at organisations (隐形党员).

`POST /v1/organizations/{id}/staff-lists` and `POST /v1/member-rosters` take either a JSON body
or a multipart upload of a CSV/XLSX `file` (Chinese column names as offices write them). Every row
is validated first; one bad row refuses the whole list (422, each bad row named), so nothing is
half-written. Responses and errors carry only masked ID numbers, phones and names.

A member moves `discovered` -> `declared` (`POST /v1/members/{id}/declare`, 亮明身份) ->
`transferred` (`POST /v1/members/{id}/transfer`, 组织关系转接); the transfer adds the member to the
organisation's full or probationary count.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.identity import IdentityKey
from libs.common.pagination import Page, Pages
from libs.common.problems import FieldError, InvalidInput, malformed_json
from libs.common.text import Name, Text, refused_character
from services.registry.api.deps import (
    Reader,
    ReadSession,
    RulesDep,
    SettingsDep,
    Transaction,
    Writer,
)
from services.registry.api.imports import TOO_LARGE_RESPONSE, refuse_oversized
from services.registry.domain.members import (
    REQUIRED_ROSTER,
    REQUIRED_STAFF,
    ROSTER_HEADERS,
    STAFF_HEADERS,
    Member,
    RowError,
    header_map,
    read_roster,
    read_staff,
)
from services.registry.domain.organizations import Rules
from services.registry.service import members as service
from services.registry.service.organizations import get_organization
from services.registry.settings import RegistrySettings
from services.registry.sheets import SheetError, SheetLimits, iter_numbered

router = APIRouter(prefix="/v1", tags=["members"])

MAX_PEOPLE = 50_000
Rows = list[tuple[str, Mapping[str, str | None]]]


class StaffPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(max_length=100, description="As on the staff list; stored, shown masked")
    id_number: Text = Field(max_length=40, description="GB 11643 ID number; never stored raw")
    phone: Text | None = Field(default=None, max_length=40, description="Mobile; never stored raw")


class StaffListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    people: list[StaffPersonIn] = Field(min_length=1, max_length=MAX_PEOPLE)


class RosterPersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(max_length=100)
    id_number: Text = Field(max_length=40)
    membership: Text = Field(
        max_length=20, description="full (正式党员) or probationary (预备党员)"
    )
    registered_with: Text | None = Field(
        default=None, max_length=200, description="Where the membership relationship is registered"
    )


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[RosterPersonIn] = Field(min_length=1, max_length=MAX_PEOPLE)


class MemberOut(BaseModel):
    id: str
    organization_id: str
    region_code: str
    name: str = Field(description="Masked (张**)")
    id_number: str = Field(description="Masked (140212********123X)")
    phone: str | None = Field(description="Masked (138****5678)")
    membership: Literal["full", "probationary"]
    registered_with: str | None
    status: Literal["discovered", "declared", "transferred", "moved_out"]
    discovered_at: datetime
    declared_on: date | None
    transferred_on: date | None
    branch_id: str | None = Field(
        description="The Party organisation holding the relationship once transferred"
    )
    version: int

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(
            id=member.id,
            organization_id=member.organization_id,
            region_code=member.region_code,
            name=member.name_masked,
            id_number=member.id_masked,
            phone=member.phone_masked,
            membership=member.membership,
            registered_with=member.registered_with,
            status=member.status,
            discovered_at=member.discovered_at,
            declared_on=member.declared_on,
            transferred_on=member.transferred_on,
            branch_id=member.branch_id,
            version=member.version,
        )


class ListOut(BaseModel):
    received: int = Field(description="Rows received")
    new: int = Field(description="People not on this list (or roster) before")
    known: int = Field(description="People already on it (refreshed)")
    repeated: int = Field(description="Rows repeating a person listed earlier in the same upload")
    discovered: list[MemberOut] = Field(description="Members found by this upload (隐形党员)")


class MembersOut(Page[MemberOut]):
    pass


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = Field(default=None, description="When it happened (default: today)")


def identity_key(settings: RegistrySettings) -> IdentityKey:
    return IdentityKey(settings.identity_key.get_secret_value().encode())


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local `$defs` references replaced by the definitions."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def _upload_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route taking JSON or a multipart `file` (read by hand)."""
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "content": {
                "application/json": {"schema": _inline(schema, schema.get("$defs", {}))},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV (UTF-8 or GB18030) or XLSX, a header row "
                                "with the office's column names",
                            }
                        },
                        "required": ["file"],
                    }
                },
            },
            "required": True,
        }
    }


def _validation_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    # never echo the input: it may be an ID number or a phone
    return [
        FieldError(
            ".".join([prefix, *(str(p) for p in e["loc"])]).strip("."),
            e["msg"].removeprefix("Value error, "),
        )
        for e in exc.errors()
    ]


def _refuse_rows(errors: list[RowError]) -> InvalidInput:
    shown = errors[:200]
    return InvalidInput(
        f"{len(errors)} value(s) rejected; nothing was stored",
        errors=[FieldError(e.field, e.reason) for e in shown],
        extra={"rejected": len(errors)},
    )


def _sheet_rows(
    path: Path,
    filename: str,
    columns: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
    limits: SheetLimits,
) -> Rows:
    numbered = iter_numbered(path, filename, limits=limits)
    _, header = next(numbered)
    positions = header_map(header, columns)
    missing = [c for c in required if c not in positions]
    if missing:
        names = "; ".join(f"{c} ({' / '.join(columns[c][1:])})" for c in missing)
        raise SheetError(f"missing columns: {names}")
    rows: Rows = []
    refused: list[FieldError] = []
    for number, cells in numbered:
        if not cells:
            continue
        if len(rows) >= MAX_PEOPLE:
            raise SheetError(f"more than {MAX_PEOPLE} people in one file: split it")
        row = {c: (cells[i] if i < len(cells) else "") for c, i in positions.items()}
        # a file's cells pass the same text check as a JSON body's strings
        refused += [
            FieldError(f"row {number}.{column}", reason)
            for column, value in row.items()
            if value and (reason := refused_character(value, multiline=False)) is not None
        ]
        rows.append((f"row {number}", row))
    if refused:
        raise InvalidInput(
            f"{len(refused)} value(s) rejected; nothing was stored", errors=refused[:200]
        )
    if not rows:
        raise SheetError("the file has a header row but no people")
    return rows


async def _rows(
    request: Request,
    model: type[StaffListIn] | type[RosterIn],
    columns: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
    settings: RegistrySettings,
) -> Rows:
    """The rows of a JSON body or of an uploaded CSV/XLSX `file`, each with where it came from."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        refuse_oversized(request, settings.import_max_bytes)
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("a file is required", errors=[FieldError("file", "missing")])
        with tempfile.TemporaryDirectory(prefix="pb-people-") as folder:
            path = Path(folder) / "upload"
            with path.open("wb") as out:
                await run_in_threadpool(shutil.copyfileobj, upload.file, out)
            # A file that cannot be read raises SheetError, a refusal mapped like any other.
            return await run_in_threadpool(
                _sheet_rows, path, upload.filename, columns, required, settings.sheet_limits()
            )
    try:
        raw = json.loads(await request.body())
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "the body is not JSON", errors=[malformed_json(exc.doc, exc.pos, exc.msg.lower())]
        ) from exc
    except ValueError as exc:  # not UTF-8
        raise InvalidInput(
            "the body is not JSON", errors=[FieldError("body", "not valid JSON")]
        ) from exc
    try:
        body = model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput("invalid input", errors=_validation_errors(exc, "")) from exc
    if isinstance(body, StaffListIn):
        return [(f"people[{i}]", p.model_dump()) for i, p in enumerate(body.people)]
    return [(f"members[{i}]", p.model_dump()) for i, p in enumerate(body.members)]


def _list_out(result: service.ListResult) -> ListOut:
    return ListOut(
        received=result.received,
        new=result.new,
        known=result.known,
        repeated=result.repeated,
        discovered=[MemberOut.of(m) for m in result.discovered],
    )


@router.post(
    "/organizations/{organization_id}/staff-lists",
    response_model=ListOut,
    summary="Receive an organisation's staff list and discover hidden members on it",
    openapi_extra=_upload_body(StaffListIn),
    responses=TOO_LARGE_RESPONSE,
)
async def receive_staff_list(
    organization_id: Text,
    request: Request,
    uow: Transaction,
    principal: Writer,
    settings: SettingsDep,
) -> ListOut:
    principal.visible(await get_organization(uow, organization_id), "organisation")
    rows = await _rows(request, StaffListIn, STAFF_HEADERS, REQUIRED_STAFF, settings)
    people, errors, repeated = read_staff(rows, identity_key(settings))
    if errors:
        raise _refuse_rows(errors)
    result = await service.receive_staff_list(
        uow, Actor.of(principal), organization_id, people, repeated=repeated
    )
    return _list_out(result)


@router.post(
    "/member-rosters",
    response_model=ListOut,
    summary="Receive a member roster extract for the caller's region and discover members",
    openapi_extra=_upload_body(RosterIn),
    responses=TOO_LARGE_RESPONSE,
)
async def receive_roster(
    request: Request, uow: Transaction, principal: Writer, settings: SettingsDep
) -> ListOut:
    rows = await _rows(request, RosterIn, ROSTER_HEADERS, REQUIRED_ROSTER, settings)
    entries, errors, repeated = read_roster(rows, identity_key(settings))
    if errors:
        raise _refuse_rows(errors)
    result = await service.receive_roster(uow, Actor.of(principal), entries, repeated=repeated)
    return _list_out(result)


@router.get(
    "/organizations/{organization_id}/members",
    response_model=MembersOut,
    summary="Members found at an organisation (masked)",
)
async def list_members(
    organization_id: Text,
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    status: Literal["discovered", "declared", "transferred", "moved_out"] | None = None,
) -> MembersOut:
    principal.visible(await get_organization(uow, organization_id), "organisation")
    after = pages.after(str)
    found = await service.members_at(
        uow,
        organization_id,
        status=status,
        after=None if after is None else after[0],
        limit=pages.fetch,
    )
    return MembersOut.of(pages, found, key=lambda m: (m.id,), item=MemberOut.of)


@router.get("/members/{member_id}", response_model=MemberOut, summary="One member (masked)")
async def read_member(member_id: Text, uow: ReadSession, principal: Reader) -> MemberOut:
    member = principal.visible(await service.get_member(uow, member_id), "member")
    return MemberOut.of(member)


async def _step(
    member_id: str,
    to: Literal["declared", "transferred"],
    body: StepIn,
    uow: Transaction,
    principal: Principal,
    rules: Rules,
) -> MemberOut:
    principal.visible(await service.get_member(uow, member_id), "member")
    after, _ = await service.advance_member(
        uow, Actor.of(principal), rules, member_id, to, body.on or date.today()
    )
    return MemberOut.of(after)


@router.post(
    "/members/{member_id}/declare",
    response_model=MemberOut,
    summary="A discovered member declares themself at work (亮明身份)",
)
async def declare_member(
    member_id: Text,
    uow: Transaction,
    principal: Writer,
    rules: RulesDep,
    body: StepIn | None = None,
) -> MemberOut:
    return await _step(member_id, "declared", body or StepIn(), uow, principal, rules)


@router.post(
    "/members/{member_id}/transfer",
    response_model=MemberOut,
    summary="A declared member's relationship is transferred here (组织关系转接); counts them",
)
async def transfer_member(
    member_id: Text,
    uow: Transaction,
    principal: Writer,
    rules: RulesDep,
    body: StepIn | None = None,
) -> MemberOut:
    return await _step(member_id, "transferred", body or StepIn(), uow, principal, rules)

"""What the registry's routes take from a request: the caller, its scopes, the rules, the
version it read (If-Match) and where a page starts (cursor)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from libs.common.audit import Actor
from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from libs.common.validators import InvalidCode, canonical_region_code
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    NotActive,
    OrganizationNotFound,
    Rules,
    StaleVersion,
)
from services.registry.domain.regions import AreaMisplaced, UnknownRegion
from services.registry.settings import RegistrySettings

Reader = Annotated[Principal, Depends(Scope("registry:read"))]
Writer = Annotated[Principal, Depends(Scope("registry:write"))]
Administrator = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]


def registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.runtime.settings
    return settings


def rules(request: Request) -> Rules:
    return registry_settings(request).rules()


SettingsDep = Annotated[RegistrySettings, Depends(registry_settings)]
RulesDep = Annotated[Rules, Depends(rules)]


def actor_of(principal: Principal) -> Actor:
    return Actor.of(principal)


class PreconditionRequired(DomainError):
    """A change to a versioned resource came without `If-Match`."""

    status = 428
    type = "precondition-required"
    title = "If-Match is required"


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names: None for `*` (any current version).

    Required on every change of a versioned resource (428 without it): a client must have read
    what it changes. A value that is no version of ours can never match (412)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("send If-Match with the ETag of the version you read")
    value = if_match.strip()
    if value == "*":
        return None
    tag = value.split(",")[0].strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed(f"If-Match {value} names no version of this resource")
    return int(tag)


IfMatch = Annotated[
    str | None,
    Header(description='The ETag of the version read, e.g. "3" (required; * for any)'),
]


def encode_cursor(*values: str | int) -> str:
    """An opaque cursor for keyset pagination (the sort key of the last item returned)."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput(
            "the cursor is not one this API returned",
            errors=[FieldError("cursor", "not a cursor this API returned")],
        ) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput(
            "the cursor is not one this API returned",
            errors=[FieldError("cursor", "not a cursor this API returned")],
        )
    return values


def subtree_of(principal: Principal, region: str | None) -> str:
    """The subtree a list covers: the caller's region, or one inside it it names (else 403)."""
    if region is None:
        return principal.region_code
    try:
        code = canonical_region_code(region)
    except InvalidCode as exc:
        raise InvalidInput(
            f"invalid region: {exc.reason}", errors=[FieldError("region", exc.reason)]
        ) from exc
    principal.ensure_covers(code)
    return code


Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500)")]


@contextmanager
def refusals() -> Iterator[None]:
    """The registry's domain exceptions as problem+json, in one place for every route."""
    try:
        yield
    except DuplicateCreditCode as exc:
        raise Conflict(
            str(exc),
            errors=[FieldError("credit_code", "already registered")],
            extra={"existing_id": exc.existing_id},
        ) from exc
    except OrganizationNotFound as exc:
        raise NotFound("organisation not found") from exc
    except StaleVersion as exc:
        raise PreconditionFailed(
            f"the organisation is at version {exc.current}, not {exc.expected}: read it again",
            extra={"current_version": exc.current},
        ) from exc
    except NotActive as exc:
        raise Conflict(
            "the organisation is deregistered; its file is closed",
            extra={"organization_id": exc.organization_id},
        ) from exc
    except (UnknownRegion, AreaMisplaced) as exc:
        raise InvalidInput(
            f"invalid {exc.field}: {exc.reason}", errors=[FieldError(exc.field, exc.reason)]
        ) from exc

"""What every service's routes take from a request the same way: the version a client read
(`If-Match` / `ETag`), where a page starts (an opaque keyset cursor), the page size, and the
region subtree a list covers."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Header, Query

from libs.common.auth import Principal
from libs.common.problems import FieldError, InvalidInput, PreconditionFailed, PreconditionRequired
from libs.common.validators import InvalidCode, canonical_region_code


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

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500)")]


def encode_cursor(*values: str | int) -> str:
    """An opaque cursor for keyset pagination (the sort key of the last item returned)."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _not_a_cursor() -> InvalidInput:
    return InvalidInput(
        "the cursor is not one this API returned",
        errors=[FieldError("cursor", "not a cursor this API returned")],
    )


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise _not_a_cursor() from exc
    if not isinstance(values, list) or len(values) != arity:
        raise _not_a_cursor()
    return values


def subtree_of(principal: Principal, region: str | None, *, field: str = "region") -> str:
    """The subtree a list covers: the caller's region, or one inside it it names (422 if not a
    division code, 403 if outside the caller's region)."""
    if region is None:
        return principal.region_code
    try:
        code = canonical_region_code(region)
    except InvalidCode as exc:
        raise InvalidInput(
            f"invalid {field}: {exc.reason}", errors=[FieldError(field, exc.reason)]
        ) from exc
    principal.ensure_covers(code)
    return code

"""What every service's routes take from a request the same way: the version a client read
(`If-Match` / `ETag`), the media type of a body, and the region subtree a list covers
(`region_code`). Paging is `libs.common.pagination`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.common.auth import Principal
from libs.common.problems import (
    FieldError,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    UnsupportedMediaType,
)
from libs.common.validators import InvalidCode, canonical_region_code


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names: None for `*` (any current version).

    Required on every change of a versioned resource (428 without it): a client must have read
    what it changes. If-Match compares strongly (RFC 9110 13.1.1): a weak tag (`W/"3"`) or a
    value that is no version of ours never matches (412)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("send If-Match with the ETag of the version you read")
    value = if_match.strip()
    if value == "*":
        return None
    for tag in (t.strip() for t in value.split(",")):
        if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
            return int(tag[1:-1])
    raise PreconditionFailed(
        f"If-Match {value} names no version of this resource: send its ETag as read "
        '(a strong tag such as "3"; a weak W/ tag never matches)'
    )


def weakly_matches(if_none_match: str, current: str) -> bool:
    """Whether an `If-None-Match` list names the current ETag (`*`, or the same opaque tag
    whether weak or strong: the weak comparison RFC 9110 13.1.2 asks for there)."""
    value = if_none_match.strip()
    if value == "*":
        return True
    tag = current.strip().removeprefix("W/")
    return any(t.strip().removeprefix("W/") == tag for t in value.split(","))


IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag of the version read, e.g. "3" (required: 428 without it; * for '
        "any version; a weak W/ tag never matches)"
    ),
]


def sends(
    status: int = 200, *, etag: bool = False, location: bool = False
) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route whose `status` answer carries an `ETag` (the version it
    returns) and/or a `Location` (where the resource it made lives), so the document says so."""
    headers: dict[str, Any] = {}
    if etag:
        headers["ETag"] = {
            "description": 'The version returned, as a strong entity tag, e.g. "3": send it as '
            "If-Match to change it, or If-None-Match to read it again only if it moved on",
            "schema": {"type": "string"},
        }
    if location:
        headers["Location"] = {
            "description": "The path of the resource made",
            "schema": {"type": "string", "format": "uri-reference"},
        }
    return {status: {"headers": headers}}


#: A list's region filter: a subtree within the caller's region (default: the caller's).
RegionCodeQuery = Annotated[
    str | None,
    Query(
        max_length=12,
        description="A region within yours, as a division code (default: your region)",
    ),
]


def subtree_of(principal: Principal, region: str | None, *, field: str = "region_code") -> str:
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


#: The media types of a JSON body (FastAPI parses `application/json` and `application/*+json`).
JSON = "application/json"
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def accepted_media_types(route: APIRoute) -> frozenset[str]:
    """The media types a route's body may have: those its document lists (`openapi_extra`)
    and JSON for a declared body model (forms for a declared form)."""
    found: frozenset[str] | None = getattr(route, "_pb_media_types", None)
    if found is None:
        extra = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
        types = {str(t).lower() for t in extra}
        if route.body_field is not None:
            form = type(route.body_field.field_info).__name__ in {"Form", "File"}
            types |= set(_FORMS) if form else {JSON}
        found = frozenset(types)
        route._pb_media_types = found  # type: ignore[attr-defined]  # computed once per route
    return found


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _acceptable(media_type: str, accepted: frozenset[str]) -> bool:
    if media_type in accepted:
        return True
    # a structured syntax suffix (RFC 6839): application/merge-patch+json is JSON too
    return (
        JSON in accepted and media_type.startswith("application/") and media_type.endswith("+json")
    )


async def refuse_unexpected_media_type(request: Request) -> None:
    """Before a route reads its body: a body whose media type the operation does not take
    (or that has none) is a 415 naming the ones it does, not a validation error."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    accepted = accepted_media_types(route)
    if not accepted:
        return
    headers = request.headers
    has_body = headers.get("content-length", "0") not in {"", "0"} or (
        "transfer-encoding" in headers
    )
    if not has_body:
        return
    media_type = _media_type(headers.get("content-type", ""))
    if not _acceptable(media_type, accepted):
        raise UnsupportedMediaType(
            f"the body is {media_type or 'of no media type'}; send "
            + " or ".join(sorted(accepted)),
            extra={"accepted": sorted(accepted)},
        )


_KEPT_ON_304 = {b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary"}


class NotModified:
    """ASGI middleware: a GET whose `If-None-Match` names the ETag of the resource it answers
    gets 304 with that ETag and no body (RFC 9110 13.1.2, weak comparison). The route runs as
    usual (it checks access and reads the version); only its answer is replaced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"GET", "HEAD"}:
            await self.app(scope, receive, send)
            return
        wanted = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        if wanted is None:
            await self.app(scope, receive, send)
            return
        replaced = False

        async def answer(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 200:
                etag = next((v for k, v in message.get("headers", []) if k == b"etag"), None)
                if etag is not None and weakly_matches(wanted.decode("latin-1"), etag.decode()):
                    replaced = True
                    kept = [(k, v) for k, v in message["headers"] if k.lower() in _KEPT_ON_304]
                    await send({"type": "http.response.start", "status": 304, "headers": kept})
                    return
            if replaced and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, answer)


def takes_if_match(route: APIRoute) -> bool:
    """Whether the route changes a versioned resource (it reads an `If-Match` header)."""
    found: bool | None = getattr(route, "_pb_if_match", None)
    if found is None:
        found = any(p.alias.lower() == "if-match" for p in route.dependant.header_params)
        route._pb_if_match = found  # type: ignore[attr-defined]  # computed once per route
    return found


async def require_if_match(request: Request) -> None:
    """Before anything else of a route taking `If-Match`: without it, 428 (the document lists
    it as required), whatever else is wrong with the request."""
    route = request.scope.get("route")
    needs = isinstance(route, APIRoute) and takes_if_match(route)
    if needs and not request.headers.get("if-match", "").strip():
        raise PreconditionRequired("send If-Match with the ETag of the version you read")

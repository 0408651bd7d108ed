"""One way to page a list, in every service: an opaque keyset cursor, a `limit`, and the link
to the next page (in the body as `next` and as a `Link: <...>; rel="next"` header).

A cursor is the base64url of a JSON array: a fingerprint of the list (its path and every query
parameter but `cursor` and `limit`) followed by the sort key of the last item returned. So a
cursor only continues the list it came from: one that does not decode, does not have the key's
shape, or was made for other filters is a 422 naming the field `cursor`. Nothing in it is secret
(the key is what the page showed); a forged key only moves where a page starts, inside the
caller's own region, which the query still enforces."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, Self, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from libs.common.problems import FieldError, InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

#: The type of each value of a sort key (`str`, `int`, `datetime` or `date` (written as ISO
#: 8601), or a tuple of them for any of them).
KeyShape = type | tuple[type, ...]
Key = Sequence[str | int | date]

#: What a cursor looks like, for the documents' examples.
NEXT_CURSOR_EXAMPLE = "WyJxM3Z6VjV0aEJrZ2MiLCIxNDAyMTIxMDEiLCIwYjdkNmMxZSJd"

LINK_HEADER: dict[str, Any] = {
    "description": 'The next page, as `<url>; rel="next"` (RFC 8288; absent on the last page)',
    "schema": {"type": "string"},
}
#: `responses=` of a route that pages without the `Pages` dependency (a query model).
SENDS_LINK: dict[int | str, dict[str, Any]] = {200: {"headers": {"Link": LINK_HEADER}}}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(fingerprint: str, key: Key) -> str:
    """The cursor after an item whose sort key is `key`, in the list `fingerprint` names."""
    values = [v.isoformat() if isinstance(v, date) else v for v in key]
    return _b64(json.dumps([fingerprint, *values], separators=(",", ":")).encode())


def _refused(reason: str) -> InvalidInput:
    return InvalidInput(
        "the cursor is not one this list returned", errors=[FieldError("cursor", reason)]
    )


def decode_cursor(cursor: str, fingerprint: str, shape: Sequence[KeyShape]) -> tuple[Any, ...]:
    """The sort key a cursor holds, checked against the list and the key's shape."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise _refused("not a cursor this API returned") from exc
    if not isinstance(values, list) or len(values) != len(shape) + 1:
        raise _refused("not a cursor this API returned")
    made_for, *key = values
    if made_for != fingerprint:
        raise _refused("a cursor of another list: keep the filters it was returned with")
    return tuple(_checked(value, kind) for value, kind in zip(key, shape, strict=True))


def _checked(value: Any, kind: KeyShape) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if datetime in kinds and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment
    if date in kinds and isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    plain = tuple(k for k in kinds if k not in {datetime, date})
    if isinstance(value, bool) or not plain or not isinstance(value, plain):
        raise _refused("not a cursor this API returned")
    return value


def fingerprint_of(path: str, query: Sequence[tuple[str, str]]) -> str:
    """Names a list: its path and its filters (every query parameter but cursor and limit)."""
    filters = sorted((k, v) for k, v in query if k not in {"cursor", "limit"})
    described = json.dumps([path, filters], separators=(",", ":"), ensure_ascii=False)
    return _b64(hashlib.sha256(described.encode()).digest()[:9])


@dataclass(frozen=True)
class Paging:
    """Where a page starts and how long it is, as the request asked; makes the next link."""

    cursor: str | None
    limit: int
    path: str
    query: tuple[tuple[str, str], ...]
    response: Response | None = None  # where the Link header goes (None: a page embedded)

    @classmethod
    def of(cls, request: Request, response: Response, cursor: str | None, limit: int) -> Paging:
        """The paging a request asks for (its path and filters name the list)."""
        return cls(
            cursor=cursor,
            limit=limit,
            path=request.url.path,
            query=tuple(request.query_params.multi_items()),
            response=response,
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.path, self.query)

    @property
    def fetch(self) -> int:
        """How many items to read: one more than a page, to know whether another follows."""
        return self.limit + 1

    def after(self, *shape: KeyShape) -> tuple[Any, ...] | None:
        """The sort key the page starts after (None for the first page)."""
        if self.cursor is None:
            return None
        return decode_cursor(self.cursor, self.fingerprint, shape)

    def next_page(self, key: Key | None) -> tuple[str | None, str | None]:
        """The next cursor and link after an item whose sort key is `key` (None at the end);
        sets the `Link` header."""
        if key is None:
            return None, None
        cursor = encode_cursor(self.fingerprint, key)
        kept = [(k, v) for k, v in self.query if k not in {"cursor", "limit"}]
        link = f"{self.path}?{urlencode([*kept, ('cursor', cursor), ('limit', str(self.limit))])}"
        if self.response is not None:
            self.response.headers["Link"] = f'<{link}>; rel="next"'
        return cursor, link


CursorParam = Annotated[
    str | None,
    Query(
        max_length=2000,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Where the page starts: `next_cursor` of the previous page, with the same "
        "filters (or follow `next`); absent for the first page",
    ),
]
LimitParam = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}"),
]


async def paging(
    request: Request, response: Response, cursor: CursorParam = None, limit: LimitParam = 100
) -> Paging:
    return Paging.of(request, response, cursor, limit)


def first_page(path: str, limit: int = DEFAULT_LIMIT) -> Paging:
    """The first page of the list at `path` (with no filters), for a page embedded in another
    answer whose `next` continues at that list."""
    return Paging(cursor=None, limit=limit, path=path, query=())


#: A route's paging parameters (`cursor`, `limit`); a route taking it documents the `Link`.
Pages = Annotated[Paging, Depends(paging)]

Item = TypeVar("Item")
Found = TypeVar("Found")


class Page(BaseModel, Generic[Item]):
    """A page of a list: its items, and where the next one starts (null on the last)."""

    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null at the end"
    )
    next: str | None = Field(
        json_schema_extra={"format": "uri-reference"},
        description="The next page's URL, relative to the service (the same as the Link "
        "header); null at the end",
    )

    @classmethod
    def of(
        cls,
        pages: Paging,
        found: Sequence[Found],
        *,
        key: Callable[[Found], Key],
        item: Callable[[Found], Item],
        **extra: Any,
    ) -> Self:
        """The page of `found` (read with `pages.fetch`: one more than a page if more follow)."""
        shown = found[: pages.limit]
        more = len(found) > pages.limit
        next_cursor, link = pages.next_page(key(shown[-1]) if more else None)
        return cls(items=[item(f) for f in shown], next_cursor=next_cursor, next=link, **extra)

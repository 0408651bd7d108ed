"""The shared paging: cursors continue only the list they came from, links keep the filters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from starlette.responses import Response

from libs.common.pagination import (
    Page,
    Paging,
    decode_cursor,
    encode_cursor,
    fingerprint_of,
    first_page,
)
from libs.common.problems import InvalidInput


def _paging(cursor: str | None = None, **filters: str) -> Paging:
    return Paging(
        cursor=cursor,
        limit=2,
        path="/v1/things",
        query=(*filters.items(), *((("cursor", cursor),) if cursor else ()), ("limit", "2")),
        response=Response(),
    )


class ThingPage(Page[str]):
    pass


def test_a_page_links_to_the_next_with_the_same_filters() -> None:
    first = _paging(kind="a", region_code="1402")
    page = ThingPage.of(first, ["x1", "x2", "x3"], key=lambda s: (s, 1), item=str.upper)
    assert page.items == ["X1", "X2"]
    assert page.next == (f"/v1/things?kind=a&region_code=1402&cursor={page.next_cursor}&limit=2")
    assert first.response is not None
    assert first.response.headers["link"] == f'<{page.next}>; rel="next"'
    # the next request, as the link makes it, continues after x2
    second = _paging(page.next_cursor, kind="a", region_code="1402")
    assert second.after(str, int) == ("x2", 1)
    last = ThingPage.of(second, ["x3"], key=lambda s: (s, 1), item=str.upper)
    assert (last.items, last.next_cursor, last.next) == (["X3"], None, None)
    assert "link" not in second.response.headers  # type: ignore[union-attr]


def test_a_cursor_only_continues_its_own_list() -> None:
    cursor = ThingPage.of(
        _paging(kind="a"), ["x1", "x2", "x3"], key=lambda s: (s, 1), item=str
    ).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidInput) as refused:
        _paging(cursor, kind="b").after(str, int)  # other filters
    assert [e.field for e in refused.value.errors] == ["cursor"]
    assert "another list" in refused.value.errors[0].reason
    with pytest.raises(InvalidInput):
        _paging(cursor).after(str, int)  # no filters


@pytest.mark.parametrize(
    "cursor",
    [
        "!!",
        "bm90IGpzb24",  # "not json"
        encode_cursor(fingerprint_of("/v1/things", []), ["x"]),  # too short
        encode_cursor(fingerprint_of("/v1/things", []), ["x", "1"]),  # a string for the int
        encode_cursor(fingerprint_of("/v1/things", []), ["x", True]),  # a bool is no int
        encode_cursor(fingerprint_of("/v1/things", []), ["x", 1, 2]),  # too long
    ],
)
def test_a_tampered_cursor_is_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor, fingerprint_of("/v1/things", []), (str, int))
    assert [e.field for e in refused.value.errors] == ["cursor"]


def test_an_embedded_first_page_links_to_its_list() -> None:
    page = ThingPage.of(
        first_page("/v1/jobs/1/errors", 1), ["a", "b"], key=lambda s: (s,), item=str
    )
    assert page.next == f"/v1/jobs/1/errors?cursor={page.next_cursor}&limit=1"
    assert _paging_for(page.next_cursor).after(str) == ("a",)


def _paging_for(cursor: str | None) -> Paging:
    return Paging(cursor=cursor, limit=1, path="/v1/jobs/1/errors", query=(("limit", "1"),))


def test_a_moment_in_a_key_comes_back_as_an_aware_datetime() -> None:
    fingerprint = fingerprint_of("/v1/things", [])
    moment = datetime(2026, 11, 30, 2, 15, 0, 123456, tzinfo=UTC)
    cursor = encode_cursor(fingerprint, [moment, "id-1"])
    assert decode_cursor(cursor, fingerprint, (datetime, str)) == (moment, "id-1")
    for forged in ("yesterday", "2026-11-30T02:15:00", 3):  # not ISO, naive, not a string
        with pytest.raises(InvalidInput):
            decode_cursor(encode_cursor(fingerprint, [forged, "x"]), fingerprint, (datetime, str))


def test_a_day_in_a_key_comes_back_as_a_date() -> None:
    fingerprint = fingerprint_of("/v1/things", [])
    cursor = encode_cursor(fingerprint, [date(2026, 1, 15), "id-1"])
    assert decode_cursor(cursor, fingerprint, (date, str)) == (date(2026, 1, 15), "id-1")
    for forged in ("2026-13-01", "2026-01-15T00:00:00+00:00", 20260115):
        with pytest.raises(InvalidInput):
            decode_cursor(encode_cursor(fingerprint, [forged, "x"]), fingerprint, (date, str))

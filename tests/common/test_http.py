"""The HTTP rules every service shares, as plain functions: If-Match compared strongly,
If-None-Match weakly, where a malformed JSON document breaks, and operation ids unique."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter, FastAPI

from libs.common.http import expected_version, weakly_matches
from libs.common.openapi import document_of, operation_ids
from libs.common.problems import PreconditionFailed, PreconditionRequired, malformed_json


@pytest.mark.parametrize(
    ("header", "version"),
    [('"3"', 3), (' "3" ', 3), ('W/"3", "3"', 3), ("*", None), ('"12"', 12)],
)
def test_if_match_names_a_version_by_its_strong_tag(header: str, version: int | None) -> None:
    assert expected_version(header) == version


@pytest.mark.parametrize("header", ['W/"3"', "3", '"abc"', '""', 'W/"3", W/"4"'])
def test_a_weak_or_foreign_tag_never_matches_if_match(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        expected_version(header)


@pytest.mark.parametrize("header", [None, "", "  "])
def test_no_if_match_is_428(header: str | None) -> None:
    with pytest.raises(PreconditionRequired):
        expected_version(header)


@pytest.mark.parametrize(
    ("header", "current", "matches"),
    [
        ('"3"', '"3"', True),
        ('W/"3"', '"3"', True),
        ('"3"', 'W/"3"', True),
        ('"1", "3"', '"3"', True),
        ("*", '"9"', True),
        ('"4"', '"3"', False),
        ('"33"', '"3"', False),
    ],
)
def test_if_none_match_compares_weakly(header: str, current: str, matches: bool) -> None:
    assert weakly_matches(header, current) is matches


@pytest.mark.parametrize(
    "document", ['{"a": 1,}', '{\n  "a": \n}', "[1, 2", "\n\n   nope", '{"a": "b"} x']
)
def test_malformed_json_is_placed_where_the_parser_stopped(document: str) -> None:
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(document)
    error = malformed_json(document.encode(), parsed.value.pos, parsed.value.msg.lower())
    assert error.field == "body"
    assert error.reason == (
        f"malformed JSON at line {parsed.value.lineno} column {parsed.value.colno}: "
        f"{parsed.value.msg.lower()}"
    )


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # FastAPI's own notice
def test_two_routes_of_one_name_are_refused_a_shared_operation_id() -> None:
    first, second = APIRouter(prefix="/a"), APIRouter(prefix="/b")

    @first.get("")
    async def read() -> dict[str, str]:
        return {}

    @second.get("", name="read")  # another module's `read`
    async def read_too() -> dict[str, str]:
        return {}

    app = FastAPI(generate_unique_id_function=operation_ids("demo"))
    app.include_router(first)
    app.include_router(second)
    with pytest.raises(ValueError, match="demo_read"):
        document_of(app)

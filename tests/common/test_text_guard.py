"""The guard under every route (`libs.common.service.refuse_hostile_text`), without a server:
what it refuses in a path, a query string and a JSON body, and where it says it found it."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from libs.common.problems import InvalidInput
from libs.common.service import refuse_hostile_text


def _request(
    path: str = "/v1/x",
    query: bytes = b"",
    body: bytes = b"",
    content_type: str = "application/json",
) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


async def _refused(request: Request) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as refused:
        await refuse_hostile_text(request)
    return [(e.field, e.reason) for e in refused.value.errors]


NUL = "contains a control character (U+0000)"


async def test_plain_requests_pass() -> None:
    body = json.dumps(
        {"name": "大同物流", "notes": ["第一行\n第二行\t完"], "n": 3}, ensure_ascii=False
    )
    await refuse_hostile_text(_request(query=b"name=%E5%A4%A7&limit=5", body=body.encode()))
    await refuse_hostile_text(_request(body=json.dumps({"name": "大同😀"}).encode()))


async def test_nul_in_path_query_and_body_is_named() -> None:
    assert await _refused(_request(path="/v1/x/a\x00")) == [("path", NUL)]
    assert await _refused(_request(query=b"name=a%00b")) == [("name", NUL)]
    assert await _refused(_request(query=b"a%00=1")) == [("query", NUL)]
    escaped = json.dumps({"people": [{"name": "ok"}, {"name": "张\x00三"}]}).encode()
    assert await _refused(_request(body=escaped)) == [("people.1.name", NUL)]
    raw = json.dumps({"a": {"b": "x\uffff"}}, ensure_ascii=False).encode()
    assert await _refused(_request(body=raw)) == [("a.b", "contains a non-character (U+FFFF)")]


async def test_a_refused_key_is_not_echoed() -> None:
    body = json.dumps({"outer": {"na\x00me": "x"}}).encode()
    assert await _refused(_request(body=body)) == [("outer", NUL)]


async def test_surrogates_and_bidi_in_a_body_are_refused() -> None:
    assert await _refused(_request(body=b'{"n": "a\\ud800"}')) == [
        ("n", "contains a surrogate (U+D800)")
    ]
    assert await _refused(_request(body=b'{"n": "\\u202e"}')) == [
        ("n", "contains a bidirectional override (U+202E)")
    ]


async def test_what_is_not_json_is_left_to_the_route() -> None:
    await refuse_hostile_text(_request(body=b"not json \\u0000"))
    form = _request(body=b"--b\r\n...\x00...", content_type="multipart/form-data; boundary=b")
    await refuse_hostile_text(form)

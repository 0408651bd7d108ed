"""HTTP itself, as every service answers it (libs/common/http.py, problems.py), over real HTTP on
the registry: strong If-Match, If-None-Match and 304, 415 for a body of another media type, and
a malformed JSON body named as the body with where the parser stopped."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.factories import organization
from tests.harness import SQLITE_ONLY, RunningService

pytestmark = SQLITE_ONLY  # HTTP, not the store, is under test


async def created(registry: RunningService) -> tuple[str, str]:
    response = await registry.client.post(
        "/v1/organizations", json=organization(7), headers=registry.as_region("140212")
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.headers["etag"]


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_a_weak_etag_never_matches_if_match(registry: RunningService) -> None:
    org_id, tag = await created(registry)
    headers = {**registry.as_region("140212"), "If-Match": f"W/{tag}"}
    weak = await registry.client.patch(
        f"/v1/organizations/{org_id}", json={"staff_count": 3}, headers=headers
    )
    assert "weak" in problem(weak, 412)["detail"]
    # the strong tag beside it matches
    headers["If-Match"] = f"W/{tag}, {tag}"
    listed = await registry.client.patch(
        f"/v1/organizations/{org_id}", json={"staff_count": 3}, headers=headers
    )
    assert listed.status_code == 200, listed.text


async def test_if_none_match_on_a_current_etag_is_304_without_a_body(
    registry: RunningService,
) -> None:
    org_id, tag = await created(registry)
    url = f"/v1/organizations/{org_id}"
    auth = registry.as_region("140212")
    for held in (tag, f"W/{tag}", f'"0", {tag}', "*"):  # weak comparison here
        same = await registry.client.get(url, headers={**auth, "If-None-Match": held})
        assert same.status_code == 304, (held, same.text)
        assert same.content == b""
        assert same.headers["etag"] == tag
    other = await registry.client.get(url, headers={**auth, "If-None-Match": '"0"'})
    assert other.status_code == 200
    assert other.json()["id"] == org_id
    # access is still checked: another region's caller learns nothing from its ETag
    outside = await registry.client.get(
        url, headers={**registry.as_region("110101"), "If-None-Match": tag}
    )
    problem(outside, 404)
    # once the file moves on, the old ETag gets the new file
    changed = await registry.client.patch(
        url, json={"staff_count": 4}, headers={**auth, "If-Match": tag}
    )
    assert changed.status_code == 200, changed.text
    fresh = await registry.client.get(url, headers={**auth, "If-None-Match": tag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == changed.headers["etag"] != tag


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_a_body_of_another_media_type_is_415(
    registry: RunningService, content_type: str | None
) -> None:
    headers = registry.as_region("140212")
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await registry.client.post(
        "/v1/organizations", content=json.dumps(organization(8)).encode(), headers=headers
    )
    body = problem(response, 415)
    assert body["type"].endswith("/unsupported-media-type")
    assert body["accepted"] == ["application/json"]
    # the merge patch's own media type and plain JSON are both taken by PATCH
    org_id, _ = await created(registry)
    for media_type in ("application/merge-patch+json", "application/json; charset=utf-8"):
        patched = await registry.client.patch(
            f"/v1/organizations/{org_id}",
            content=b'{"staff_count": 5}',
            headers={**registry.as_region("140212"), "Content-Type": media_type, "If-Match": "*"},
        )
        assert patched.status_code == 200, (media_type, patched.text)


async def test_malformed_json_names_the_body_and_where_it_breaks(
    registry: RunningService,
) -> None:
    document = '{\n  "credit_code": "91140212MA0XXXXX1",\n  "name": ,\n}'
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(document)
    response = await registry.client.post(
        "/v1/organizations",
        content=document.encode(),
        headers={**registry.as_region("140212"), "Content-Type": "application/json"},
    )
    body = problem(response, 422)
    assert body["errors"] == [
        {
            "field": "body",
            "reason": f"malformed JSON at line {parsed.value.lineno} column "
            f"{parsed.value.colno}: {parsed.value.msg.lower()}",
        }
    ]
    assert parsed.value.lineno == 3  # where the value is missing, not "1" or a char offset


async def test_without_if_match_a_change_is_428_before_anything_is_looked_up(
    registry: RunningService,
) -> None:
    response = await registry.client.patch(
        f"/v1/organizations/{uuid.uuid4()}",
        json={"staff_count": 1},
        headers=registry.as_region("140212"),
    )
    problem(response, 428)


async def test_the_headers_the_document_lists_are_the_ones_sent(registry: RunningService) -> None:
    document = (await registry.client.get("/openapi.json")).json()
    by_id = {
        op["operationId"]: op
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    auth = registry.as_region("140212")
    made = await registry.client.post("/v1/organizations", json=organization(9), headers=auth)
    read = await registry.client.get(made.headers["location"], headers=auth)
    same = await registry.client.get(
        made.headers["location"], headers={**auth, "If-None-Match": read.headers["etag"]}
    )
    for operation, answer in (
        ("registry_register_organization", made),
        ("registry_read_organization", read),
        ("registry_read_organization", same),
    ):
        documented = by_id[operation]["responses"][str(answer.status_code)]
        headers = set(documented.get("headers", {}))
        assert headers, (operation, answer.status_code)
        assert all(name in answer.headers for name in headers), (operation, headers)

"""The audit trail over real HTTP: administrators only, their subtree only, filters, pages."""

from __future__ import annotations

import json
from typing import Any

from libs.common.calendar import local_today
from tests import pages
from tests.factories import area, organization
from tests.harness import SQLITE_ONLY, RunningService


def admin(registry: RunningService, region: str, subject: str = "admin") -> dict[str, str]:
    return registry.as_region(region, scopes=("admin",), subject=subject)


async def trail(registry: RunningService, caller: str, **params: Any) -> list[dict[str, Any]]:
    return await pages.walk(registry.client, "/v1/audit", admin(registry, caller), **params)


async def test_every_organisation_write_is_audited_and_scoped(registry: RunningService) -> None:
    writer = registry.as_region("140212", subject="clerk-a")
    other_writer = registry.as_region("140213", subject="clerk-b")
    created = await registry.client.post(
        "/v1/organizations", json=organization(300), headers=writer
    )
    org_id = created.json()["id"]
    await registry.client.patch(
        f"/v1/organizations/{org_id}",
        content=json.dumps({"full_members": 2}),
        headers={**writer, "If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    await registry.client.delete(
        f"/v1/organizations/{org_id}",
        params={"reason": "迁出"},
        headers={**writer, "If-Match": '"2"'},
    )
    made_area = await registry.client.post("/v1/areas", json=area(), headers=writer)
    elsewhere = await registry.client.post(
        "/v1/organizations",
        json=organization(301, region_code="140213009"),
        headers=other_writer,
    )
    assert elsewhere.status_code == 201, elsewhere.text

    mine = await trail(registry, "140212", limit=1)
    assert [(e["action"], e["entity_id"]) for e in mine] == [
        ("area.created", made_area.json()["id"]),
        ("organization.deregistered", org_id),
        ("organization.updated", org_id),
        ("organization.registered", org_id),
    ]
    assert mine[1]["changes"] == {"reason": "迁出", "on": local_today().isoformat()}
    assert mine[2]["changes"]["full_members"] == {"from": 0, "to": 2}
    assert mine[2]["changes"]["ledger"]["to"]["members"] is True  # 党员队伍清, from the data
    assert {e["actor"] for e in mine} == {"clerk-a"}
    ids = [e["id"] for e in mine]
    assert ids == sorted(ids, reverse=True)  # newest first

    theirs = await trail(registry, "140213")
    assert [(e["action"], e["entity_id"]) for e in theirs] == [
        ("organization.registered", elsewhere.json()["id"])
    ]
    city = await trail(registry, "1402")
    assert len(city) == 5

    assert [e["entity_id"] for e in await trail(registry, "1402", actor="clerk-b")] == [
        elsewhere.json()["id"]
    ]
    assert len(await trail(registry, "1402", entity_type="area")) == 1
    assert len(await trail(registry, "1402", action="organization.updated")) == 1
    assert len(await trail(registry, "1402", region_code="140212101")) == 4
    moment = mine[0]["at"]
    assert len(await trail(registry, "1402", since=moment)) >= 1
    assert await trail(registry, "1402", until="2000-01-01T00:00:00") == []


@SQLITE_ONLY
async def test_only_administrators_of_the_region_read_it(registry: RunningService) -> None:
    clerk = await registry.client.get(
        "/v1/audit",
        headers=registry.as_region("140212", scopes=("registry:read", "registry:write")),
    )
    assert clerk.status_code == 403
    reader = await registry.client.get(
        "/v1/audit", headers=registry.as_region("140212", scopes=("registry:read",))
    )
    assert reader.status_code == 403
    outside = await registry.client.get(
        "/v1/audit", params={"region_code": "140212"}, headers=admin(registry, "140213")
    )
    assert outside.status_code == 403
    bad_cursor = await registry.client.get(
        "/v1/audit", params={"cursor": "WyJ4Il0"}, headers=admin(registry, "140212")
    )
    assert bad_cursor.status_code == 422

"""Listing committees, branches and instructors over real HTTP on both stores: the region
subtree, the filters, and every page followed to the end."""

from __future__ import annotations

from typing import Any

from tests import pages
from tests.harness import RunningService
from tests.registry.party_helpers import new_organization


async def post(service: RunningService, path: str, body: dict[str, Any], region: str) -> Any:
    response = await service.client.post(path, json=body, headers=service.as_region(region))
    assert response.status_code == 201, response.text
    return response.json()


async def listed(service: RunningService, path: str, caller: str, **params: Any) -> list[str]:
    found = await pages.walk(service.client, path, service.as_region(caller), limit=1, **params)
    return [item["id"] for item in found]


async def test_committees_and_branches_are_listed_by_subtree_and_filters(
    registry: RunningService,
) -> None:
    county = await post(
        registry,
        "/v1/committees",
        {"kind": "two_new", "name": "新荣区两新工委", "region_code": "140212"},
        "140212",
    )
    township = await post(
        registry,
        "/v1/committees",
        {
            "kind": "township",
            "name": "新荣镇综合党委",
            "region_code": "140212101",
            "parent_id": county["id"],
        },
        "140212",
    )
    other = await post(
        registry,
        "/v1/committees",
        {"kind": "two_new", "name": "云冈区两新工委", "region_code": "140211"},
        "14",
    )
    assert await listed(registry, "/v1/committees", "140212") == [county["id"], township["id"]]
    assert await listed(registry, "/v1/committees", "14") == [
        other["id"],
        county["id"],
        township["id"],
    ]
    # the county committee above a township's caller is read by id, not listed
    assert await listed(registry, "/v1/committees", "140212101") == [township["id"]]
    assert await listed(registry, "/v1/committees", "14", kind="township") == [township["id"]]
    assert await listed(registry, "/v1/committees", "14", parent_id=county["id"]) == [
        township["id"]
    ]
    assert await listed(registry, "/v1/committees", "14", region_code="140211") == [other["id"]]

    big = (await new_organization(registry, 601, full_members=3))["id"]
    far = (await new_organization(registry, 602, full_members=4, region_code="140212102"))["id"]
    made = [
        await post(
            registry,
            "/v1/branches",
            {
                "kind": "standalone",
                "name": f"测试党支部{org}",
                "parent_id": county["id"],
                "organization_ids": [org],
            },
            "140212",
        )
        for org in (big, far)
    ]
    everything = await pages.walk(
        registry.client, "/v1/branches", registry.as_region("140212"), limit=1
    )
    assert [b["id"] for b in everything] == [made[0]["id"], made[1]["id"]]
    # each listed branch is what reading it by id gives
    for branch in everything:
        one = await registry.client.get(
            f"/v1/branches/{branch['id']}", headers=registry.as_region("140212")
        )
        assert one.json() == branch
    assert await listed(registry, "/v1/branches", "140212", region_code="140212102") == [
        made[1]["id"]
    ]
    assert await listed(registry, "/v1/branches", "140212", organization_id=far) == [made[1]["id"]]
    assert await listed(registry, "/v1/branches", "140212", kind="joint") == []
    assert await listed(registry, "/v1/branches", "140212", status="active") == [
        b["id"] for b in made
    ]
    assert await listed(registry, "/v1/branches", "140212", parent_id=township["id"]) == []
    assert await listed(registry, "/v1/branches", "140211") == []

    headers = registry.as_region("140212")
    outside = await registry.client.get(
        "/v1/branches", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403
    for path, params, field in [
        ("/v1/branches", {"status": "gone"}, "status"),
        ("/v1/committees", {"kind": "club"}, "kind"),
        ("/v1/committees", {"region_code": "1402x"}, "region_code"),
    ]:
        refused = await registry.client.get(path, params=params, headers=headers)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_instructors_are_listed_masked_with_their_assignments(
    registry: RunningService,
) -> None:
    wang = await post(
        registry, "/v1/instructors", {"name": "王建国", "region_code": "140212"}, "140212"
    )
    li = await post(
        registry, "/v1/instructors", {"name": "李四", "region_code": "140212101"}, "140212"
    )
    zhao = await post(registry, "/v1/instructors", {"name": "赵五", "region_code": "140211"}, "14")
    org = (await new_organization(registry, 611))["id"]
    await post(
        registry,
        f"/v1/instructors/{li['id']}/assignments",
        {"organization_id": org, "starts_on": "2026-01-01"},
        "140212",
    )
    headers = registry.as_region("140212")
    everything = await pages.walk(registry.client, "/v1/instructors", headers, limit=1)
    assert [i["id"] for i in everything] == [wang["id"], li["id"]]
    assert [i["name"] for i in everything] == ["王**", "李*"]
    assert [len(i["assignments"]) for i in everything] == [0, 1]
    assert everything[1]["assignments"][0]["organization_id"] == org
    assert await listed(registry, "/v1/instructors", "140212", organization_id=org) == [li["id"]]
    assert await listed(registry, "/v1/instructors", "14", region_code="140211") == [zhao["id"]]
    assert await listed(registry, "/v1/instructors", "140212101") == [li["id"]]
    outside = await registry.client.get(
        "/v1/instructors", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

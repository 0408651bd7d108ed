"""Mass organisations (群团组织) over real HTTP on both stores: one of each kind, dissolving."""

from __future__ import annotations

from tests import pages
from tests.harness import RunningService
from tests.registry.party_helpers import data_of, new_organization


async def test_one_of_each_kind_then_dissolve(registry: RunningService) -> None:
    org = (await new_organization(registry, 601))["id"]
    headers = registry.as_region("140212")
    path = f"/v1/organizations/{org}/mass-organizations"
    union = await registry.client.post(
        path,
        json={"kind": "union", "name": "某公司工会", "established_on": "2026-05-01"},
        headers=headers,
    )
    assert union.status_code == 201, union.text
    league = await registry.client.post(path, json={"kind": "youth_league"}, headers=headers)
    assert league.status_code == 201
    second = await registry.client.post(path, json={"kind": "union"}, headers=headers)
    assert (second.status_code, second.json()["rule"], second.json()["organization_ids"]) == (
        422,
        "one_mass_organization_per_kind",
        [org],
    )
    wrong = await registry.client.post(path, json={"kind": "party"}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "kind"
    established = await data_of(registry, "pb.registry.massorg.established.v1")
    assert [(e["kind"], e["organization_id"]) for e in established] == [
        ("union", org),
        ("youth_league", org),
    ]
    assert established[0]["mass_organization_id"] == union.json()["id"]

    dissolve = f"{path}/{union.json()['id']}/dissolve"
    early = await registry.client.post(
        dissolve, json={"reason": "x", "on": "2026-04-01"}, headers=headers
    )
    assert early.json()["rule"] == "dissolution_date"
    done = await registry.client.post(
        dissolve, json={"reason": "改组", "on": "2026-10-01"}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert (done.json()["active"], done.json()["dissolved_on"]) == (False, "2026-10-01")
    [event] = await data_of(registry, "pb.registry.massorg.dissolved.v1")
    assert (event["mass_organization_id"], event["kind"]) == (union.json()["id"], "union")
    twice = await registry.client.post(dissolve, json={"reason": "x"}, headers=headers)
    assert twice.json()["rule"] == "mass_organization_active"
    # a new union may be set up once the old one is dissolved
    renewed = await registry.client.post(path, json={"kind": "union"}, headers=headers)
    assert renewed.status_code == 201
    listed = await registry.client.get(path, headers=headers)
    assert sorted((m["kind"], m["active"]) for m in listed.json()["items"]) == [
        ("union", False),
        ("union", True),
        ("youth_league", True),
    ]
    # page by page, by establishment date
    walked = await pages.walk(registry.client, path, headers, limit=1)
    assert [m["id"] for m in walked] == [m["id"] for m in listed.json()["items"]]
    assert walked[0]["id"] == union.json()["id"]  # 2026-05-01, before the others (today)

    # across organisations: the region subtree, by kind and by whether dissolved
    elsewhere = (await new_organization(registry, 603, region_code="140212102"))["id"]
    far = await registry.client.post(
        f"/v1/organizations/{elsewhere}/mass-organizations",
        json={"kind": "womens_federation"},
        headers=headers,
    )
    assert far.status_code == 201, far.text
    everything = await pages.walk(registry.client, "/v1/mass-organizations", headers, limit=2)
    assert len(everything) == 4
    assert [m["region_code"] for m in everything] == sorted(m["region_code"] for m in everything)
    unions = await pages.walk(registry.client, "/v1/mass-organizations", headers, kind="union")
    assert sorted(m["active"] for m in unions) == [False, True]
    dissolved = await pages.walk(registry.client, "/v1/mass-organizations", headers, active="false")
    assert [m["id"] for m in dissolved] == [union.json()["id"]]
    township = await pages.walk(
        registry.client, "/v1/mass-organizations", headers, region_code="140212102"
    )
    assert [m["id"] for m in township] == [far.json()["id"]]
    outside = await registry.client.get(
        "/v1/mass-organizations", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403


async def test_outside_the_region_is_404(registry: RunningService) -> None:
    org = (await new_organization(registry, 602))["id"]
    path = f"/v1/organizations/{org}/mass-organizations"
    response = await registry.client.post(
        path, json={"kind": "union"}, headers=registry.as_region("140211")
    )
    assert response.status_code == 404
    assert (
        await registry.client.get(path, headers=registry.as_region("140211"))
    ).status_code == 404
    missing = await registry.client.post(
        "/v1/organizations/nope/mass-organizations",
        json={"kind": "union"},
        headers=registry.as_region("140212"),
    )
    assert missing.status_code == 404
    assert await data_of(registry, "pb.registry.massorg.established.v1") == []

"""The region tree from the published division codes, and named areas, over real HTTP."""

from __future__ import annotations

from services.registry.domain.regions import RegionTree
from services.registry.store.regions import region_tree
from tests import pages
from tests.factories import area, organization
from tests.harness import SQLITE_ONLY, RunningService


def test_the_tree_holds_the_published_codes_down_to_townships() -> None:
    tree = region_tree()
    assert len(tree) > 40_000  # 34 provinces, ~3,000 counties, ~38,000 townships
    county = tree.get("140212000000")
    assert county is not None
    assert (county.code, county.name, county.level, county.parent) == (
        "140212",
        "新荣区",
        "county",
        "1402",
    )
    assert "古店镇" in [r.name for r in tree.children("140212")]
    beijing = tree.get("110101")
    assert beijing is not None
    assert beijing.parent == "11"
    assert tree.unknown_reason("140212101203") is None  # a village under a known township
    assert tree.unknown_reason("441900003") is None  # 东莞: no townships in the data
    reason = tree.unknown_reason("140212999")
    assert reason is not None
    assert "no township 140212999 under 新荣区" in reason
    assert tree.unknown_reason("110199") is not None


def test_a_tree_knows_only_what_it_was_given() -> None:
    tree = RegionTree([("140000000000", "山西省"), ("140200000000", "大同市")])
    assert [r.code for r in tree.children(None)] == ["14"]
    assert tree.unknown_reason("140212") is None  # no counties in this data
    assert tree.unknown_reason("1403") is not None
    assert tree.unknown_reason("15") is not None
    assert RegionTree([]).unknown_reason("1403") is None  # no data: nothing to check against


@SQLITE_ONLY
async def test_regions_are_read_within_the_callers_reach(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    county = await registry.client.get("/v1/regions/140212", headers=headers)
    assert county.status_code == 200
    body = county.json()
    assert (body["name"], body["level"], body["parent"]["code"]) == ("新荣区", "county", "1402")
    assert {"code": "140212101", "name": "古店镇", "level": "township"} in body["children"]
    assert "国家地名信息库" in body["source"]
    township = await registry.client.get("/v1/regions/140212101000", headers=headers)
    assert township.json()["code"] == "140212101"
    assert township.json()["children"] == []
    ancestor = await registry.client.get("/v1/regions/14", headers=headers)
    assert ancestor.status_code == 200
    assert ancestor.json()["parent"] is None
    sibling = await registry.client.get("/v1/regions/140213", headers=headers)
    assert sibling.status_code == 403
    unknown = await registry.client.get("/v1/regions/140212999", headers=headers)
    assert unknown.status_code == 404
    invalid = await registry.client.get("/v1/regions/1402121", headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "code"


@SQLITE_ONLY
async def test_an_organisation_in_an_unknown_region_is_refused(registry: RunningService) -> None:
    refused = await registry.client.post(
        "/v1/organizations",
        json=organization(400, region_code="140212999"),
        headers=registry.as_region("140212"),
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "region_code"
    assert "no township 140212999 under 新荣区" in refused.json()["errors"][0]["reason"]
    village = await registry.client.post(
        "/v1/organizations",
        json=organization(401, region_code="140212101203"),
        headers=registry.as_region("140212"),
    )
    assert village.status_code == 201, village.text


async def test_areas_are_named_in_townships_and_scoped(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    park = await registry.client.post("/v1/areas", json=area(), headers=headers)
    assert park.status_code == 201, park.text
    assert park.headers["location"] == f"/v1/areas/{park.json()['id']}"
    made = [park.json()["id"]]
    for n in range(4):
        response = await registry.client.post(
            "/v1/areas",
            json=area(f"楼宇{n}", kind="building", region_code="140212102"),
            headers=headers,
        )
        made.append(response.json()["id"])
    elsewhere = await registry.client.post(
        "/v1/areas",
        json=area("平城商圈", kind="commercial_district", region_code="140213009"),
        headers=registry.as_region("140213"),
    )
    assert elsewhere.status_code == 201
    for body, status, field in [
        (area(kind="building", region_code="140212"), 422, "region_code"),  # a township's
        (area(region_code="140212999"), 422, "region_code"),
        (area(kind="mall"), 422, "kind"),
        (area(name=""), 422, "name"),
    ]:
        refused = await registry.client.post("/v1/areas", json=body, headers=headers)
        assert refused.status_code == status, refused.text
        assert refused.json()["errors"][0]["field"] == field
    outside = await registry.client.post(
        "/v1/areas", json=area(region_code="140213009"), headers=headers
    )
    assert outside.status_code == 403

    seen = [a["id"] for a in await pages.walk(registry.client, "/v1/areas", headers, limit=2)]
    assert sorted(seen) == sorted(made)
    buildings = await registry.client.get(
        "/v1/areas", params={"region_code": "140212102", "kind": "building"}, headers=headers
    )
    assert len(buildings.json()["items"]) == 4
    one = await registry.client.get(f"/v1/areas/{park.json()['id']}", headers=headers)
    assert one.json()["name"] == "新荣工业园区"
    hidden = await registry.client.get(f"/v1/areas/{elsewhere.json()['id']}", headers=headers)
    assert hidden.status_code == 404
    assert (
        await registry.client.get("/v1/areas", params={"region_code": "140213"}, headers=headers)
    ).status_code == 403


async def test_a_county_level_park_holds_organisations_of_any_of_its_townships(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    zone = await registry.client.post(
        "/v1/areas", json=area("新荣经济技术开发区", region_code="140212"), headers=headers
    )
    assert zone.status_code == 201, zone.text
    assert zone.json()["region_code"] == "140212"
    placed = []
    for n, township in ((1, "140212101"), (2, "140212102")):
        response = await registry.client.post(
            "/v1/organizations",
            json=organization(880 + n, region_code=township, park_id=zone.json()["id"]),
            headers=headers,
        )
        assert response.status_code == 201, response.text
        placed.append(response.json()["id"])
    listed = await registry.client.get(
        "/v1/organizations", params={"park_id": zone.json()["id"]}, headers=headers
    )
    assert sorted(o["id"] for o in listed.json()["items"]) == sorted(placed)
    district = await registry.client.post(
        "/v1/areas",
        json=area("县级商圈", kind="commercial_district", region_code="140212"),
        headers=headers,
    )
    assert district.status_code == 422
    assert "township" in district.json()["errors"][0]["reason"]
    outside = await registry.client.post(
        "/v1/organizations",
        json=organization(883, region_code="140213009", park_id=zone.json()["id"]),
        headers=registry.as_region("1402"),
    )
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "park_id"
    assert "county 140212" in outside.json()["errors"][0]["reason"]

"""Listing the ledger over real HTTP: region subtree, filters, and walking every page."""

from __future__ import annotations

from typing import Any

from libs.common.pagination import encode_cursor, fingerprint_of
from tests import pages
from tests.factories import area, organization
from tests.harness import SQLITE_ONLY, RunningService


async def walk(registry: RunningService, caller: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of every page, following `next` to the end."""
    return await pages.walk(
        registry.client, "/v1/organizations", registry.as_region(caller), **params
    )


async def test_filters_and_pages_return_exactly_what_was_made(registry: RunningService) -> None:
    headers = registry.as_region("1402")
    park = (await registry.client.post("/v1/areas", json=area(), headers=headers)).json()
    made: dict[str, dict[str, Any]] = {}
    specs = [
        # n, region, kind, industry, staff, premises, stable, ledger complete, park
        (1, "140212101", "enterprise", "I6513", 12, True, True, True, True),
        (2, "140212101", "enterprise", "I6520", 3, True, True, False, False),
        (3, "140212102", "social_organization", "P8310", 20, None, True, False, False),
        (4, "140212102", "enterprise", "G5411", 50, True, False, True, False),
        (5, "140212", "enterprise", None, None, None, None, False, False),
        (6, "140213", "enterprise", "I6513", 12, True, True, False, False),
        (7, "140212101203", "enterprise", "C1311", 11, True, True, False, True),
    ]
    # a complete file (六清) is one whose data shows five points, the sixth confirmed by hand
    shown = {
        "investors": [{"kind": "person", "name": "王小明"}],
        "no_branch_reason": "党员不足3名",
        "full_members": 1,
        "ledger": {"mass_organizations": True},
    }
    for n, region, kind, industry, staff, premises, stable, complete, in_park in specs:
        body = organization(
            200 + n,
            name=f"测试{n}号科技有限公司",
            region_code=region,
            kind=kind,
            industry_code=industry,
            staff_count=staff,
            has_premises=premises,
            stable_operations=stable,
            park_id=park["id"] if in_park else None,
            **(shown if complete else {}),
        )
        response = await registry.client.post("/v1/organizations", json=body, headers=headers)
        assert response.status_code == 201, response.text
        made[str(n)] = response.json()

    def ids(items: list[dict[str, Any]]) -> set[str]:
        return {o["id"] for o in items}

    def of(*ns: int) -> set[str]:
        return {made[str(n)]["id"] for n in ns}

    everything = await walk(registry, "1402", limit=2)
    assert len(everything) == 7
    assert ids(everything) == of(1, 2, 3, 4, 5, 6, 7)
    order = [(o["region_code"], o["id"]) for o in everything]
    assert order == sorted(order)  # stable order across pages, no repeats
    assert ids(await walk(registry, "140212", limit=1)) == of(1, 2, 3, 4, 5, 7)  # default region
    assert ids(await walk(registry, "1402", region_code="140212101")) == of(1, 2, 7)
    assert ids(await walk(registry, "1402", kind="social_organization")) == of(3)
    assert ids(await walk(registry, "1402", industry="I65")) == of(1, 2, 6)
    assert ids(await walk(registry, "1402", industry="I")) == of(1, 2, 6)
    assert ids(await walk(registry, "1402", three_haves="true")) == of(1, 6, 7)
    assert ids(await walk(registry, "1402", three_haves="false")) == of(2, 4)
    assert ids(await walk(registry, "1402", three_haves="unknown")) == of(3, 5)
    assert ids(await walk(registry, "1402", ledger_incomplete="true")) == of(2, 3, 5, 6, 7)
    assert ids(await walk(registry, "1402", ledger_incomplete="false")) == of(1, 4)
    assert ids(await walk(registry, "1402", park_id=park["id"])) == of(1, 7)
    assert ids(await walk(registry, "1402", covered="false")) == of(1, 2, 3, 4, 5, 6, 7)
    assert ids(await walk(registry, "1402", covered="true")) == set()
    assert ids(await walk(registry, "1402", name="３号科技")) == of(3)  # full-width digit
    assert ids(await walk(registry, "1402", name="科技有限责任公司")) == of(1, 2, 3, 4, 5, 6, 7)
    combined = await walk(registry, "1402", region_code="140212", three_haves="true", industry="I")
    assert ids(combined) == of(1)
    # each listed file is the same as reading it by id
    assert {o["id"]: o for o in everything}[made["1"]["id"]] == made["1"]


@SQLITE_ONLY
async def test_list_refusals(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    outside = await registry.client.get(
        "/v1/organizations", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"region_code": "14021"}, "region_code"),
        ({"cursor": "bm90IGpzb24"}, "cursor"),  # base64url of "not json"
        ({"cursor": "a+b"}, "cursor"),  # not base64url
        # a cursor of the areas list, and one of this list with a key of the wrong shape
        ({"cursor": encode_cursor(fingerprint_of("/v1/areas", []), ["1402", "x"])}, "cursor"),
        ({"cursor": encode_cursor(fingerprint_of("/v1/organizations", []), [1402, "x"])}, "cursor"),
        ({"cursor": encode_cursor(fingerprint_of("/v1/organizations", []), ["1402"])}, "cursor"),
        ({"three_haves": "maybe"}, "three_haves"),
        ({"industry": "65"}, "industry"),
    ]
    for params, field in cases:
        refused = await registry.client.get("/v1/organizations", params=params, headers=headers)
        assert refused.status_code == 422, (params, refused.text)
        assert field in [e["field"] for e in refused.json()["errors"]]

    # the same key in a cursor of this list with these filters is taken
    taken = await registry.client.get(
        "/v1/organizations",
        params={"cursor": encode_cursor(fingerprint_of("/v1/organizations", []), ["1402", "x"])},
        headers=headers,
    )
    assert taken.status_code == 200, taken.text

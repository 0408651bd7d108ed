"""Changing an organisation's file over real HTTP: ETag / If-Match, merge patch, deregistration,
the events in the outbox (and on NATS), and the audit trail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import nats

from tests.factories import area, credit_code, organization, outbox_events
from tests.harness import NatsServer, RunningService, wait_for

PATCH = "application/merge-patch+json"


async def create(registry: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    response = await registry.client.post(
        "/v1/organizations", json=body, headers=registry.as_region("140212")
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(
    registry: RunningService, org_id: str, body: Any, if_match: str | None, region: str = "140212"
) -> Any:
    headers = {**registry.as_region(region), "Content-Type": PATCH}
    if if_match is not None:
        headers["If-Match"] = if_match
    return await registry.client.patch(
        f"/v1/organizations/{org_id}", content=json.dumps(body), headers=headers
    )


async def test_the_whole_file_is_stored_and_three_haves_is_derived(
    registry: RunningService,
) -> None:
    body = organization(
        100,
        address="新荣区古店镇1号",
        latitude=40.25,
        longitude=113.1,
        staff_count=15,
        has_premises=True,
        stable_operations=True,
        full_members=2,
        probationary_members=1,
        no_branch_reason="党员不足3名",
        investors=[
            {"kind": "person", "name": "王小明", "share": 60},
            {"kind": "organization", "name": "大同某集团", "credit_code": credit_code(7)},
        ],
        ledger={"operations": True, "workforce": True},
    )
    created = await create(registry, body)
    assert created["three_haves"] is True
    assert created["investors"][0] == {
        "kind": "person",
        "name": "王**",
        "credit_code": None,
        "share": 60.0,
    }
    assert created["investors"][1]["credit_code"] == credit_code(7)
    assert created["ledger"]["complete"] is False
    # 六清 as the data shows them: only the mass organisations are not shown by any data
    assert created["ledger"]["missing"] == ["mass_organizations"]
    assert (created["covered"], created["branch_id"], created["status"]) == (False, None, "active")
    read = await registry.client.get(
        f"/v1/organizations/{created['id']}", headers=registry.as_region("140212")
    )
    assert read.json() == created
    assert read.headers["etag"] == '"1"'
    assert created["three_haves_state"] == "true"
    nobody_knows = await create(registry, organization(101, staff_count=None, has_premises=True))
    assert (nobody_knows["three_haves"], nobody_knows["three_haves_state"]) == (None, "unknown")
    too_small = await create(registry, organization(102, staff_count=3))
    assert (too_small["three_haves"], too_small["three_haves_state"]) == (False, "false")


async def test_patch_needs_if_match_and_refuses_a_stale_version(registry: RunningService) -> None:
    created = await create(registry, organization(110))
    org_id = created["id"]
    missing = await patch(registry, org_id, {"staff_count": 30}, None)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    changed = await patch(registry, org_id, {"staff_count": 30, "ledger": {"members": True}}, '"1"')
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["staff_count"] == 30
    assert changed.json()["ledger"]["members"] is True
    assert changed.json()["ledger"]["operations"] is False  # merged, not replaced
    stale = await patch(registry, org_id, {"staff_count": 31}, '"1"')
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    garbage = await patch(registry, org_id, {"staff_count": 31}, '"abc"')
    assert garbage.status_code == 412
    weak = await patch(registry, org_id, {"staff_count": 32}, 'W/"2"')
    assert weak.status_code == 412  # If-Match compares strongly (RFC 9110 13.1.1)
    assert "weak" in weak.json()["detail"]
    anything = await patch(registry, org_id, {"staff_count": 33}, "*")
    assert anything.status_code == 200
    assert anything.json()["version"] == 3
    same = await patch(registry, org_id, {"staff_count": 33}, '"3"')
    assert same.status_code == 200
    assert same.headers["etag"] == '"3"'


async def test_merge_patch_clears_nullable_fields_and_names_the_refused_ones(
    registry: RunningService,
) -> None:
    created = await create(registry, organization(120, address="某路1号", staff_count=20))
    org_id = created["id"]
    cleared = await patch(registry, org_id, {"address": None, "staff_count": None}, '"1"')
    assert cleared.status_code == 200
    assert (cleared.json()["address"], cleared.json()["staff_count"]) == (None, None)
    for body, field in [
        ({"name": None}, "name"),
        ({"kind": "company"}, "kind"),
        ({"region_code": "1402121"}, "region_code"),
        ({"full_members": -1}, "full_members"),
        ({"credit_code": credit_code(5)}, "credit_code"),
        ({"latitude": 40.0}, "longitude"),
        ({"investors": [{"kind": "person", "name": "李四", "credit_code": credit_code(6)}]}, None),
        ({"ledger": {"unknown_point": True}}, "ledger.unknown_point"),
    ]:
        refused = await patch(registry, org_id, body, '"2"')
        assert refused.status_code == 422, (body, refused.text)
        fields = [e["field"] for e in refused.json()["errors"]]
        if field is not None:
            assert field in fields, (body, fields)
    after = await registry.client.get(
        f"/v1/organizations/{org_id}", headers=registry.as_region("140212")
    )
    assert after.json()["version"] == 2  # nothing half-written


async def test_patch_checks_region_and_areas(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    park = (await registry.client.post("/v1/areas", json=area(), headers=headers)).json()
    district = (
        await registry.client.post(
            "/v1/areas",
            json=area("古店商圈", kind="commercial_district"),
            headers=headers,
        )
    ).json()
    elsewhere = (
        await registry.client.post(
            "/v1/areas", json=area("花园屯园区", region_code="140212102"), headers=headers
        )
    ).json()
    created = await create(registry, organization(130, park_id=park["id"]))
    assert created["park_id"] == park["id"]
    org_id = created["id"]
    cases = [
        ({"park_id": elsewhere["id"]}, "park_id", "lies in township 140212102"),
        ({"park_id": district["id"]}, "park_id", "not a park"),
        ({"district_id": "nope"}, "district_id", "no area nope"),
        ({"region_code": "140212102"}, "park_id", "lies in township 140212101"),
        ({"region_code": "140212999"}, "region_code", "no township 140212999"),
    ]
    for body, field, reason in cases:
        refused = await patch(registry, org_id, body, '"1"')
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
        assert reason in refused.json()["errors"][0]["reason"]
    outside = await patch(registry, org_id, {"region_code": "140211"}, '"1"')
    assert outside.status_code == 403
    moved = await patch(
        registry,
        org_id,
        {"region_code": "140212102", "park_id": elsewhere["id"], "district_id": None},
        '"1"',
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["region_code"] == "140212102"
    other_county = await patch(registry, org_id, {"staff_count": 1}, '"2"', region="140211")
    assert other_county.status_code == 404


async def test_deregistration_needs_a_reason_and_closes_the_file(registry: RunningService) -> None:
    created = await create(registry, organization(140))
    url = f"/v1/organizations/{created['id']}"
    headers = registry.as_region("140212")
    no_reason = await registry.client.delete(url, headers={**headers, "If-Match": '"1"'})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    no_match = await registry.client.delete(url, params={"reason": "注销"}, headers=headers)
    assert no_match.status_code == 428
    gone = await registry.client.delete(
        url, params={"reason": "已注销"}, headers={**headers, "If-Match": '"1"'}
    )
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "deregistered"
    assert gone.json()["deregistration_reason"] == "已注销"
    assert gone.headers["etag"] == '"2"'
    again = await registry.client.delete(
        url, params={"reason": "again"}, headers={**headers, "If-Match": '"2"'}
    )
    assert again.status_code == 409
    closed = await patch(registry, created["id"], {"staff_count": 1}, '"2"')
    assert closed.status_code == 409
    events = await outbox_events(registry.runtime, "pb.registry.organization.deregistered.v1")
    assert [(e["organization_id"], e["version"], e["reason"]) for e in events] == [
        (created["id"], 2, "已注销")
    ]
    listed = await registry.client.get("/v1/organizations", headers=headers)
    assert created["id"] not in [o["id"] for o in listed.json()["items"]]
    listed_all = await registry.client.get(
        "/v1/organizations", params={"status": "deregistered"}, headers=headers
    )
    assert [o["id"] for o in listed_all.json()["items"]] == [created["id"]]


async def test_events_carry_the_change_and_mask_an_individual_business(
    registry: RunningService, nats_server: NatsServer
) -> None:
    shop = await create(
        registry,
        organization(150, credit_code=credit_code(150, prefix="92"), name="张三便利店"),
    )
    assert shop["name"] == "张三便利店"  # its own region sees the registered name
    changed = await patch(registry, shop["id"], {"staff_count": 14, "full_members": 3}, '"1"')
    assert changed.status_code == 200
    registered = await outbox_events(registry.runtime, "pb.registry.organization.registered.v1")
    updated = await outbox_events(registry.runtime, "pb.registry.organization.updated.v1")
    eligible = await outbox_events(registry.runtime, "pb.registry.branch.eligible.v1")
    assert [e["name"] for e in registered] == ["张**"]
    assert [(e["version"], e["changed"], e["name"]) for e in updated] == [
        (2, ["full_members", "ledger", "staff_count"], "张**")  # 党员队伍清 now shown
    ]
    assert updated[0]["full_members"] == 3
    assert updated[0]["staff_count"] == 14
    assert [e["organization_id"] for e in eligible] == [shop["id"]]
    # the relay publishes it to the registry's stream on the real server
    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.jetstream().subscribe(
            "pb.registry.organization.updated.v1", stream="PB_REGISTRY", ordered_consumer=True
        )

        async def published() -> bool:
            async for _ in _drain(sub):
                pass
            return any(shop["id"] in seen for seen in _SEEN)

        _SEEN.clear()
        assert await wait_for(published, timeout=10)
    finally:
        await nc.close()


_SEEN: list[str] = []


async def _drain(sub: Any) -> AsyncIterator[None]:
    while True:
        try:
            message = await sub.next_msg(timeout=0.2)
        except TimeoutError:
            return
        _SEEN.append(message.data.decode())
        yield None


async def test_a_patch_is_in_the_audit_trail_with_its_fields(registry: RunningService) -> None:
    created = await create(registry, organization(160, staff_count=12))
    await patch(registry, created["id"], {"staff_count": 40, "name": "新名字有限公司"}, '"1"')
    trail = await registry.client.get(
        "/v1/audit",
        params={"entity_id": created["id"]},
        headers=registry.as_region("140212", scopes=("admin",)),
    )
    assert trail.status_code == 200
    entries = trail.json()["items"]
    assert [e["action"] for e in entries] == ["organization.updated", "organization.registered"]
    assert entries[0]["changes"] == {
        "name": {"from": "大同市新荣区测试企业160有限公司", "to": "新名字有限公司"},
        "staff_count": {"from": 12, "to": 40},
    }
    assert entries[0]["actor"] == "tester"
    assert entries[0]["region_code"] == "140212101"

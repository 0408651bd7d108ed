"""Workers over real HTTP on both stores: registration with masked personal data, community
check-in with roles, the member declaration that carries keyed hashes only."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import text

from libs.common.settings import DEVELOPMENT_IDENTITY_KEY
from libs.common.validators import id_number_check_char
from tests import pages
from tests.factories import outbox_data, outbox_records
from tests.harness import RunningService
from tests.stations.helpers import REGION, TOWNSHIP

NAME = "王小明"
PHONE = "13912345678"
VILLAGE = "140212101201"


def id_number() -> str:
    first17 = "14021219900101123"
    return first17 + id_number_check_char(first17)


def worker_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": NAME,
        "phone": PHONE,
        "region_code": TOWNSHIP,
        "platform": "美团",
        "occupation": "food_delivery_rider",
    }
    body.update(overrides)
    return body


async def register(service: RunningService, **overrides: Any) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/workers", json=worker_body(**overrides), headers=service.as_region(REGION)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def keyed(label: bytes, value: str) -> str:
    key = DEVELOPMENT_IDENTITY_KEY.encode()
    return hmac.new(key, label + b"\x00" + value.encode(), hashlib.sha256).hexdigest()


async def test_register_check_in_declare(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    worker = await register(stations)
    assert (worker["name"], worker["phone"]) == ("王**", "139****5678")
    again = await stations.client.post(
        "/v1/workers", json=worker_body(phone="+86 139-1234-5678"), headers=headers
    )
    assert (again.status_code, again.json()["errors"][0]["field"]) == (409, "phone")
    bad = await stations.client.post(
        "/v1/workers", json=worker_body(phone="12345"), headers=headers
    )
    assert bad.json()["errors"][0]["field"] == "phone"
    assert "12345" not in bad.text

    path = f"/v1/workers/{worker['id']}"
    checked = await stations.client.post(
        f"{path}/check-ins",
        json={"community_code": VILLAGE, "roles": ["grid_member", "volunteer"]},
        headers=headers,
    )
    assert checked.status_code == 201, checked.text
    assert (checked.json()["community_code"], checked.json()["roles"]) == (
        VILLAGE,
        ["grid_member", "volunteer"],
    )
    vague = await stations.client.post(
        f"{path}/check-ins", json={"community_code": TOWNSHIP}, headers=headers
    )
    assert vague.json()["errors"][0]["field"] == "community_code"
    named = await stations.client.post(
        f"{path}/check-ins",
        json={"community_code": TOWNSHIP, "area_name": "万达商圈", "roles": ["info_reporter"]},
        headers=headers,
    )
    assert named.status_code == 201

    declared = await stations.client.post(
        f"{path}/member-declaration", json={"id_number": id_number()}, headers=headers
    )
    assert declared.status_code == 200, declared.text
    assert declared.json()["member_declared"] is True
    twice = await stations.client.post(f"{path}/member-declaration", headers=headers)
    assert twice.json()["rule"] == "declared_once"

    [registered] = await outbox_data(stations.runtime, "pb.stations.worker.registered.v1")
    assert (registered["worker_id"], registered["occupation"]) == (
        worker["id"],
        "food_delivery_rider",
    )
    checkins = await outbox_data(stations.runtime, "pb.stations.worker.checked_in.v1")
    assert [c["community_code"] for c in checkins] == [VILLAGE, TOWNSHIP]
    [declaration] = await outbox_data(stations.runtime, "pb.stations.worker.member_declared.v1")
    assert declaration["match_key"] == keyed(b"phone", PHONE)
    assert declaration["id_match_key"] == keyed(b"id_number", id_number())
    assert (declaration["region_code"], declaration["community_code"]) == (TOWNSHIP, TOWNSHIP)
    hidden = await stations.client.get(path, headers=stations.as_region("140211"))
    assert hidden.status_code == 404


async def test_a_worker_checks_in_for_themself_only(stations: RunningService) -> None:
    worker = await register(stations)
    other = await register(stations, phone="13900000001")
    own = stations.as_region(REGION, scopes=("stations:request",), subject=f"worker:{worker['id']}")
    checked = await stations.client.post(
        f"/v1/workers/{worker['id']}/check-ins",
        json={"community_code": VILLAGE, "roles": ["volunteer"]},
        headers=own,
    )
    assert checked.status_code == 201, checked.text
    declared = await stations.client.post(
        f"/v1/workers/{worker['id']}/member-declaration", headers=own
    )
    assert declared.json()["member_declared"] is True
    for path, body in (("check-ins", {"community_code": VILLAGE}), ("member-declaration", {})):
        refused = await stations.client.post(
            f"/v1/workers/{other['id']}/{path}", json=body, headers=own
        )
        assert refused.status_code == 403, path
    unit_token = stations.as_region(REGION, scopes=("stations:unit:union",))
    refused = await stations.client.post(
        f"/v1/workers/{worker['id']}/check-ins",
        json={"community_code": VILLAGE},
        headers=unit_token,
    )
    assert refused.status_code == 403


async def test_no_raw_personal_data_anywhere(stations: RunningService) -> None:
    worker = await register(stations)
    await stations.client.post(
        f"/v1/workers/{worker['id']}/member-declaration",
        json={"id_number": id_number()},
        headers=stations.as_region(REGION),
    )
    read = await stations.client.get(
        f"/v1/workers/{worker['id']}", headers=stations.as_region(REGION)
    )
    raw = (NAME, PHONE, id_number())
    assert not any(value in read.text for value in raw)
    for _type, data in await outbox_records(stations.runtime):
        assert not any(value in str(data) for value in raw)
    async with stations.runtime.db.read() as session:
        for table in ("workers", "check_ins", "audit_log", "pb_outbox"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
            dump = repr(rows)
            assert not any(value in dump for value in raw), table


async def test_workers_are_listed_by_subtree_and_filters_masked(stations: RunningService) -> None:
    headers = stations.as_region(REGION)
    rider = await register(stations)
    courier = await register(stations, phone="13900000002", occupation="courier")
    far = await register(stations, phone="13900000003", region_code="140212102")
    checked = await stations.client.post(
        f"/v1/workers/{rider['id']}/check-ins", json={"community_code": VILLAGE}, headers=headers
    )
    assert checked.status_code == 201, checked.text

    async def ids(caller: str = REGION, **params: Any) -> list[str]:
        found = await pages.walk(
            stations.client, "/v1/workers", stations.as_region(caller), limit=1, **params
        )
        assert all("*" in w["name"] and "*" in w["phone"] for w in found)
        return [w["id"] for w in found]

    assert await ids() == [*sorted([rider["id"], courier["id"]]), far["id"]]
    assert await ids(region_code="140212102") == [far["id"]]
    assert await ids("140212102") == [far["id"]]
    assert await ids(occupation="courier") == [courier["id"]]
    assert await ids(checked_in="true") == [rider["id"]]
    assert await ids(community_code=VILLAGE) == [rider["id"]]
    assert sorted(await ids(checked_in="false")) == sorted([courier["id"], far["id"]])
    listed = await stations.client.get("/v1/workers", headers=headers)
    assert NAME not in listed.text
    assert PHONE not in listed.text
    outside = await stations.client.get(
        "/v1/workers", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

"""The points ledger over real HTTP on both stores: idempotent awards, redemptions that never
make a balance negative nor oversell a reward under 50 concurrent requests, a double-entry
ledger that always sums to zero, and the award a resolved report earns once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from tests import pages
from tests.factories import outbox_data
from tests.harness import RunningService
from tests.stations.helpers import REGION, TOWNSHIP
from tests.stations.test_requests_api import move, office, place, unit, worker


async def new_worker(service: RunningService, n: int) -> str:
    response = await service.client.post(
        "/v1/workers",
        json={
            "name": f"骑手{n}",
            "phone": f"139{n:08d}",
            "region_code": TOWNSHIP,
            "platform": "饿了么",
            "occupation": "food_delivery_rider",
        },
        headers=service.as_region(REGION),
    )
    assert response.status_code == 201, response.text
    worker_id: str = response.json()["id"]
    return worker_id


async def award(service: RunningService, worker_id: str, points: int, key: str) -> Any:
    return await service.client.post(
        "/v1/points/awards",
        json={
            "worker_id": worker_id,
            "reason": "volunteer",
            "points": points,
            "idempotency_key": key,
        },
        headers=service.as_region(REGION),
    )


async def reward(service: RunningService, cost: int, stock: int) -> str:
    response = await service.client.post(
        "/v1/rewards",
        json={"name": "免费理发券", "region_code": TOWNSHIP, "cost": cost, "stock": stock},
        headers=service.as_region(REGION),
    )
    assert response.status_code == 201, response.text
    reward_id: str = response.json()["id"]
    return reward_id


async def redeem(service: RunningService, worker_id: str, reward_id: str) -> Any:
    return await service.client.post(
        "/v1/points/redemptions",
        json={"worker_id": worker_id, "reward_id": reward_id},
        headers=service.as_region(REGION),
    )


async def balance(service: RunningService, worker_id: str) -> int:
    response = await service.client.get(
        f"/v1/workers/{worker_id}/points", headers=service.as_region(REGION)
    )
    value: int = response.json()["balance"]
    return value


async def stock_of(service: RunningService, reward_id: str) -> int:
    listed = await service.client.get("/v1/rewards", headers=service.as_region(REGION))
    [found] = [r for r in listed.json()["items"] if r["id"] == reward_id]
    value: int = found["stock"]
    return value


async def ledger_sum(service: RunningService) -> int:
    async with service.runtime.db.read() as session:
        return int(
            (
                await session.execute(text("SELECT COALESCE(SUM(amount), 0) FROM point_entries"))
            ).scalar_one()
        )


async def test_awards_are_idempotent(stations: RunningService) -> None:
    w = await new_worker(stations, 1)
    first = await award(stations, w, 30, "party-day-2026-11")
    assert first.status_code == 201, first.text
    again = await award(stations, w, 30, "party-day-2026-11")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    clash = await award(stations, w, 40, "party-day-2026-11")
    assert (clash.status_code, clash.json()["errors"][0]["field"]) == (409, "idempotency_key")
    zero = await award(stations, w, 0, "other")
    assert zero.json()["errors"][0]["field"] == "points"
    assert await balance(stations, w) == 30
    assert len(await outbox_data(stations.runtime, "pb.stations.points.awarded.v1")) == 1
    missing = await award(stations, "nobody", 5, "x")
    assert missing.status_code == 404
    assert await ledger_sum(stations) == 0


async def test_fifty_concurrent_redemptions_never_go_negative(stations: RunningService) -> None:
    w = await new_worker(stations, 2)
    await award(stations, w, 100, "k1")
    prize = await reward(stations, cost=30, stock=1000)
    answers = await asyncio.gather(*(redeem(stations, w, prize) for _ in range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [422] * 47
    refused = [a.json() for a in answers if a.status_code == 422]
    assert {r["rule"] for r in refused} == {"balance_insufficient"}
    assert await balance(stations, w) == 10
    assert await stock_of(stations, prize) == 997
    assert len(await outbox_data(stations.runtime, "pb.stations.points.redeemed.v1")) == 3
    assert await ledger_sum(stations) == 0


async def test_fifty_concurrent_redemptions_never_oversell(stations: RunningService) -> None:
    workers = [await new_worker(stations, 100 + n) for n in range(50)]
    for n, w in enumerate(workers):
        await award(stations, w, 50, f"grant-{n}")
    prize = await reward(stations, cost=20, stock=7)
    answers = await asyncio.gather(*(redeem(stations, w, prize) for w in workers))
    winners = [w for w, a in zip(workers, answers, strict=True) if a.status_code == 201]
    assert len(winners) == 7
    assert {a.json()["rule"] for a in answers if a.status_code != 201} == {"reward_in_stock"}
    assert await stock_of(stations, prize) == 0
    assert sorted([await balance(stations, w) for w in workers]) == [30] * 7 + [50] * 43
    assert await ledger_sum(stations) == 0


async def test_a_resolved_report_earns_points_once(stations: RunningService) -> None:
    w = await new_worker(stations, 3)
    report = await place(
        stations,
        category="report",
        title="路灯不亮",
        requester={"kind": "worker", "id": w},
        location={"latitude": 40.25, "longitude": 113.14},
        photo_ref="oss://p/2.jpg",
    )
    rid = report["id"]
    for _ in range(2):  # resolved, reopened, resolved again: one award
        await move(stations, rid, "dispatch", office(stations), {"unit": "community"})
        await move(stations, rid, "accept", unit(stations, "community"), None)
        resolved = await move(stations, rid, "resolve", unit(stations, "community"), None)
        assert resolved.status_code == 200, resolved.text
        await move(stations, rid, "reopen", office(stations), {"reason": "复查"})
    [awarded] = await outbox_data(stations.runtime, "pb.stations.points.awarded.v1")
    assert (awarded["worker_id"], awarded["reason"], awarded["request_id"]) == (w, "report", rid)
    assert await balance(stations, w) == awarded["points"] == 10
    rating = await stations.client.get(f"/v1/workers/{w}/points", headers=worker(stations, w))
    assert rating.status_code == 403  # a requester's token reads no ledger here


async def test_transactions_and_rewards_are_listed_page_by_page(stations: RunningService) -> None:
    worker_id = await new_worker(stations, 301)
    for n in range(3):
        assert (await award(stations, worker_id, 10, f"t-{n}")).status_code == 201
    gift = await reward(stations, 5, 10)
    assert (await redeem(stations, worker_id, gift)).status_code == 201
    headers = stations.as_region(REGION)
    path = f"/v1/workers/{worker_id}/points/transactions"
    walked = await pages.walk(stations.client, path, headers, limit=1)
    assert [t["kind"] for t in walked] == ["redemption", "award", "award", "award"]
    assert [t["at"] for t in walked] == sorted((t["at"] for t in walked), reverse=True)
    recent = await stations.client.get(f"/v1/workers/{worker_id}/points", headers=headers)
    assert [t["id"] for t in recent.json()["transactions"]] == [t["id"] for t in walked]
    hidden = await stations.client.get(path, headers=stations.as_region("140211"))
    assert hidden.status_code == 404

    more = await reward(stations, 7, 1)
    rewards = await pages.walk(stations.client, "/v1/rewards", headers, limit=1)
    assert sorted(r["id"] for r in rewards) == sorted([gift, more])
    outside = await stations.client.get(
        "/v1/rewards", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

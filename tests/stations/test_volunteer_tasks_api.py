"""Volunteer tasks (志愿服务) through real HTTP on both stores: post, sign up, withdraw, attendance,
complete, ratings that award the task's points once, cancel; every refusal a rule-violation
problem; sign-ups that never exceed the places under concurrent requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from services.stations.store.tables import volunteer_tasks
from tests.factories import outbox_data, outbox_records
from tests.harness import RunningService
from tests.stations.helpers import TOWNSHIP, new_station
from tests.stations.test_points_api import balance, new_worker
from tests.stations.test_requests_api import office, unit, worker

TASKS = "/v1/volunteer-tasks"


def task_body(**overrides: Any) -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(days=1)
    body: dict[str, Any] = {
        "title": "迎宾路社区冬季扫雪",
        "description": "清扫驿站周边人行道积雪",
        "region_code": TOWNSHIP,
        "community_code": f"{TOWNSHIP}001",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "places": 3,
        "points": 20,
    }
    body.update(overrides)
    return body


async def post_task(service: RunningService, **overrides: Any) -> dict[str, Any]:
    response = await service.client.post(
        TASKS, json=task_body(**overrides), headers=office(service)
    )
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{TASKS}/{response.json()['id']}"
    body: dict[str, Any] = response.json()
    return body


async def sign_up(
    service: RunningService, task_id: str, worker_id: str | None, headers: dict[str, str]
) -> Any:
    body = {"worker_id": worker_id} if worker_id else None
    return await service.client.post(f"{TASKS}/{task_id}/sign-ups", json=body, headers=headers)


async def act(
    service: RunningService,
    task_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return await service.client.post(
        f"{TASKS}/{task_id}/{action}", json=body, headers=headers or office(service)
    )


async def begin(service: RunningService, task_id: str) -> None:
    """Move the task's window so that it started an hour ago (the tests cannot wait a day)."""
    now = datetime.now(UTC)
    async with service.runtime.db.sessions() as session, session.begin():
        await session.execute(
            update(volunteer_tasks)
            .where(volunteer_tasks.c.id == task_id)
            .values(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
        )


def refused(response: Any, rule: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule, response.text


async def test_a_task_from_posting_to_ratings_awards_once(stations: RunningService) -> None:
    w1, w2, w3 = [await new_worker(stations, 500 + n) for n in range(3)]
    station = await new_station(stations)
    task = await post_task(stations, station_id=station["id"])
    tid = task["id"]
    assert (task["state"], task["places_left"], task["participants"]) == ("open", 3, [])

    mine = await sign_up(stations, tid, None, worker(stations, w1))  # a worker signs itself up
    assert mine.status_code == 201, mine.text
    assert [p["worker_id"] for p in mine.json()["participants"]] == [w1]
    refused(await sign_up(stations, tid, w2, worker(stations, w1)), "own_sign_up")
    refused(await sign_up(stations, tid, w1, office(stations)), "signed_up_once")
    for w in (w2, w3):
        assert (await sign_up(stations, tid, w, office(stations))).status_code == 201
    withdrawal = await act(stations, tid, f"sign-ups/{w3}/withdraw", headers=worker(stations, w3))
    assert (withdrawal.status_code, withdrawal.headers["ETag"]) == (200, '"5"')
    as_worker = await stations.client.get(f"{TASKS}/{tid}", headers=worker(stations, w1))
    assert [p["worker_id"] for p in as_worker.json()["participants"]] == [w1]  # only its own
    as_office = await stations.client.get(f"{TASKS}/{tid}", headers=office(stations))
    assert {p["worker_id"]: p["status"] for p in as_office.json()["participants"]} == {
        w1: "signed_up",
        w2: "signed_up",
        w3: "withdrawn",
    }
    assert (as_office.json()["taken"], as_office.headers["ETag"]) == (2, '"5"')
    refused(await act(stations, tid, "attendance", {"attended": [w1]}), "task_started")

    await begin(stations, tid)
    refused(await sign_up(stations, tid, w3, office(stations)), "before_start")
    refused(await act(stations, tid, "attendance", {"attended": [w3]}), "signed_up")
    refused(
        await act(stations, tid, "attendance", {"attended": [w1]}, unit(stations, "union")),
        "who_may_move",
    )
    marked = await act(stations, tid, "attendance", {"attended": [w1]})
    assert marked.status_code == 200, marked.text
    assert (await act(stations, tid, "complete")).status_code == 428
    stale = await act(stations, tid, "complete", headers={**office(stations), "If-Match": '"5"'})
    assert stale.status_code == 412
    done = await act(stations, tid, "complete", headers={**office(stations), "If-Match": '"6"'})
    assert done.status_code == 200, done.text
    assert {p["worker_id"]: p["status"] for p in done.json()["participants"]} == {
        w1: "attended",
        w2: "absent",
        w3: "withdrawn",
    }

    first = await act(stations, tid, "ratings", {"worker_id": w1, "score": 5, "comment": "认真"})
    assert first.status_code == 201, first.text
    again = await act(stations, tid, "ratings", {"worker_id": w1, "score": 4})
    assert again.status_code == 200, again.text
    assert again.json()["score"] == 4
    assert again.json()["transaction_id"] == first.json()["transaction_id"] is not None
    refused(await act(stations, tid, "ratings", {"worker_id": w2, "score": 5}), "attended")
    refused(
        await act(stations, tid, "ratings", {"worker_id": w1, "score": 5}, worker(stations, w1)),
        "who_may_move",
    )
    cancel = await act(
        stations, tid, "cancel", {"reason": "误操作"}, {**office(stations), "If-Match": "*"}
    )
    refused(cancel, "task_state")

    assert await balance(stations, w1) == 20
    assert await balance(stations, w2) == 0
    [award] = await outbox_data(stations.runtime, "pb.stations.points.awarded.v1")
    assert (award["worker_id"], award["reason"], award["volunteer_task_id"]) == (
        w1,
        "volunteer",
        tid,
    )
    events = await outbox_records(stations.runtime, "pb.stations.volunteer_task.")
    assert [t for t, _ in events] == [
        "pb.stations.volunteer_task.posted.v1",
        "pb.stations.volunteer_task.completed.v1",
    ]
    completed = events[1][1]
    assert (completed["signed_up"], completed["attended"], completed["state"]) == (
        2,
        1,
        "completed",
    )
    for _, data in events:  # no free text, no one's name on the wire
        assert "title" not in data
        assert "description" not in data
        assert "扫雪" not in str(data)


async def test_concurrent_sign_ups_never_exceed_the_places(stations: RunningService) -> None:
    workers = [await new_worker(stations, 600 + n) for n in range(12)]
    tid = (await post_task(stations, places=4))["id"]
    answers = await asyncio.gather(*(sign_up(stations, tid, w, office(stations)) for w in workers))
    assert sorted(a.status_code for a in answers) == [201] * 4 + [422] * 8
    assert {a.json()["rule"] for a in answers if a.status_code == 422} == {"places_left"}
    read = (await stations.client.get(f"{TASKS}/{tid}", headers=office(stations))).json()
    winners = {w for w, a in zip(workers, answers, strict=True) if a.status_code == 201}
    assert (read["taken"], read["places_left"]) == (4, 0)
    assert {p["worker_id"] for p in read["participants"]} == winners

    again = (await post_task(stations, places=10))["id"]
    same = await asyncio.gather(
        *(sign_up(stations, again, None, worker(stations, workers[0])) for _ in range(6))
    )
    assert sorted(a.status_code for a in same) == [201] + [422] * 5
    assert {a.json()["rule"] for a in same if a.status_code == 422} == {"signed_up_once"}


async def test_a_cancelled_task_awards_nothing_and_refusals(stations: RunningService) -> None:
    w = await new_worker(stations, 700)
    tid = (await post_task(stations))["id"]
    assert (await sign_up(stations, tid, w, office(stations))).status_code == 201
    cancelled = await act(
        stations, tid, "cancel", {"reason": "暴雪预警"}, {**office(stations), "If-Match": '"2"'}
    )
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    refused(await sign_up(stations, tid, w, office(stations)), "task_state")
    refused(await act(stations, tid, "ratings", {"worker_id": w, "score": 5}), "task_state")
    [event] = await outbox_data(stations.runtime, "pb.stations.volunteer_task.cancelled.v1")
    assert (event["task_id"], event["signed_up"], "reason" in event) == (tid, 1, False)
    assert await outbox_data(stations.runtime, "pb.stations.points.awarded.v1") == []

    listed = await stations.client.get(
        TASKS, params={"state": "cancelled", "limit": 1}, headers=worker(stations, w)
    )
    assert [t["id"] for t in listed.json()["items"]] == [tid]
    assert "participants" not in listed.json()["items"][0]
    as_unit = await stations.client.get(f"{TASKS}/{tid}", headers=unit(stations, "union"))
    assert (as_unit.json()["taken"], as_unit.json()["participants"]) == (1, [])
    outside = await stations.client.get(f"{TASKS}/{tid}", headers=office(stations, region="140211"))
    assert outside.status_code == 404
    any_version = {**office(stations), "If-Match": "*"}
    assert (await act(stations, "nope", "complete", headers=any_version)).status_code == 404

    bad = await stations.client.post(
        TASKS,
        json=task_body(ends_at=task_body()["starts_at"], places=0, station_id="nope"),
        headers=office(stations),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"places"}
    backwards = await stations.client.post(
        TASKS, json=task_body(ends_at=task_body()["starts_at"]), headers=office(stations)
    )
    assert backwards.json()["errors"][0]["field"] == "ends_at"
    no_station = await stations.client.post(
        TASKS, json=task_body(station_id="nope"), headers=office(stations)
    )
    assert no_station.json()["errors"][0]["field"] == "station_id"
    elsewhere = await stations.client.post(
        TASKS, json=task_body(region_code="140211"), headers=office(stations)
    )
    assert elsewhere.status_code == 403
    as_worker = await stations.client.post(TASKS, json=task_body(), headers=worker(stations, w))
    assert as_worker.status_code == 403
    nobody = await sign_up(stations, (await post_task(stations))["id"], "nobody", office(stations))
    assert nobody.status_code == 404

"""The request loop through real HTTP on both stores: every move, who may make it, refusals as
rule-violation problems, the history, the events in order, lists and figures."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.factories import outbox_records
from tests.harness import RunningService
from tests.stations.helpers import HERE, REGION, TOWNSHIP

OFFICE = ("stations:read", "stations:write")


def office(service: RunningService, region: str = REGION) -> dict[str, str]:
    return service.as_region(region, scopes=OFFICE, subject="office-1")


def unit(service: RunningService, name: str, region: str = REGION) -> dict[str, str]:
    return service.as_region(region, scopes=(f"stations:unit:{name}",), subject=f"{name}-desk")


def worker(service: RunningService, worker_id: str = "w1") -> dict[str, str]:
    return service.as_region(REGION, scopes=("stations:request",), subject=f"worker:{worker_id}")


def need(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "need",
        "title": "冬天需要暖手宝",
        "region_code": TOWNSHIP,
        "requester": {"kind": "worker", "id": "w1"},
    }
    body.update(overrides)
    return body


async def place(service: RunningService, **overrides: Any) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/requests", json=need(**overrides), headers=office(service)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def move(
    service: RunningService,
    request_id: str,
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> Any:
    return await service.client.post(
        f"/v1/requests/{request_id}/{action}", json=body, headers=headers
    )


async def test_the_whole_loop_with_history_and_events(stations: RunningService) -> None:
    placed = await place(stations)
    rid = placed["id"]
    assert (placed["state"], placed["version"]) == ("placed", 1)
    steps = [
        ("dispatch", office(stations), {"unit": "union"}, "dispatched"),
        ("return", unit(stations, "union"), {"reason": "不属于工会职责"}, "placed"),
        ("dispatch", office(stations), {"unit": "human_resources"}, "dispatched"),
        ("accept", unit(stations, "human_resources"), None, "accepted"),
        ("resolve", unit(stations, "human_resources"), {"note": "已协调发放"}, "resolved"),
        ("rate", worker(stations), {"score": 5, "comment": "很及时"}, "rated"),
        ("reopen", office(stations), {"reason": "回访发现未落实"}, "placed"),
        ("close", office(stations), {"reason": "已另案处理"}, "closed"),
    ]
    assert [h["action"] for h in placed["history"]] == ["place"]
    for n, (action, headers, body, state) in enumerate(steps, start=2):
        response = await move(stations, rid, action, headers, body)
        assert response.status_code == 200, (action, response.text)
        assert response.json()["state"] == state, action
        assert [h["to_state"] for h in response.json()["history"]][-1] == state, action
        assert len(response.json()["history"]) == n, action
    read = (await stations.client.get(f"/v1/requests/{rid}", headers=office(stations))).json()
    assert [(h["action"], h["from_state"], h["to_state"], h["party"]) for h in read["history"]] == [
        ("place", None, "placed", "office"),
        ("dispatch", "placed", "dispatched", "office"),
        ("return", "dispatched", "placed", "unit"),
        ("dispatch", "placed", "dispatched", "office"),
        ("accept", "dispatched", "accepted", "unit"),
        ("resolve", "accepted", "resolved", "unit"),
        ("rate", "resolved", "rated", "requester"),
        ("reopen", "rated", "placed", "office"),
        ("close", "placed", "closed", "office"),
    ]
    assert read["history"][2]["note"] == "不属于工会职责"
    assert (read["returns"], read["reopens"], read["version"]) == (1, 1, 9)
    events = await outbox_records(stations.runtime, "pb.stations.request.")
    assert [t.split(".")[3] for t, _ in events] == [
        "placed",
        "dispatched",
        "returned",
        "dispatched",
        "accepted",
        "resolved",
        "rated",
        "reopened",
        "closed",
    ]
    assert [d["version"] for _, d in events] == list(range(1, 10))
    rated = events[6][1]
    assert (rated["score"], "comment" not in rated) == (5, True)
    assert events[2][1]["returned_by"] == "union"


async def test_refusals_name_the_rule(stations: RunningService) -> None:
    rid = (await place(stations))["id"]
    cases = [
        ("accept", unit(stations, "union"), None, 404, None),  # not dispatched to it: unseen
        ("dispatch", worker(stations), {"unit": "union"}, 422, "who_may_move"),
        ("resolve", office(stations), None, 422, "who_may_move"),
        ("rate", office(stations), {"score": 3}, 422, "request_state"),
    ]
    for action, headers, body, code, rule in cases:
        response = await move(stations, rid, action, headers, body)
        assert response.status_code == code, (action, response.text)
        if rule:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/rule-violation")
            assert response.json()["rule"] == rule, action
    neighbour = await move(stations, rid, "dispatch", office(stations, "140211"), {"unit": "union"})
    assert neighbour.status_code == 404  # outside the office's region: unseen, untouched
    unknown_unit = await move(stations, rid, "dispatch", office(stations), {"unit": "police"})
    assert unknown_unit.json()["errors"][0]["field"] == "unit"
    await move(stations, rid, "dispatch", office(stations), {"unit": "union"})
    again = await move(stations, rid, "dispatch", office(stations), {"unit": "health"})
    assert (again.json()["rule"], again.json()["state"]) == ("request_state", "dispatched")
    other_unit = await move(stations, rid, "accept", unit(stations, "health"), None)
    assert other_unit.status_code == 404
    early_resolve = await move(stations, rid, "resolve", unit(stations, "union"), None)
    assert early_resolve.json()["rule"] == "request_state"
    await move(stations, rid, "accept", unit(stations, "union"), None)
    await move(stations, rid, "resolve", unit(stations, "union"), None)
    stranger = await move(stations, rid, "rate", worker(stations, "w2"), {"score": 4})
    assert stranger.status_code == 404  # a requester sees only its own
    by_unit = await move(stations, rid, "rate", unit(stations, "union"), {"score": 5})
    assert by_unit.json()["rule"] == "who_may_move"
    bad_score = await move(stations, rid, "rate", worker(stations), {"score": 6})
    assert bad_score.json()["errors"][0]["field"] == "score"
    no_reason = await move(stations, rid, "close", office(stations), {})
    assert no_reason.json()["errors"][0]["field"] == "reason"
    moves = await outbox_records(stations.runtime, "pb.stations.request.")
    assert [t.split(".")[3] for t, _ in moves] == ["placed", "dispatched", "accepted", "resolved"]


async def test_concurrent_moves_of_one_request_are_made_once(stations: RunningService) -> None:
    rid = (await place(stations))["id"]
    units = ["union", "health", "human_resources", "union", "health"]
    answers = await asyncio.gather(
        *(move(stations, rid, "dispatch", office(stations), {"unit": u}) for u in units)
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 422, 422, 422, 422], [a.text for a in answers]
    won = next(a.json() for a in answers if a.status_code == 200)
    assert [h["action"] for h in won["history"]] == ["place", "dispatch"]
    read = (await stations.client.get(f"/v1/requests/{rid}", headers=office(stations))).json()
    assert (read["version"], read["unit"], read["history"]) == (2, won["unit"], won["history"])
    events = await outbox_records(stations.runtime, "pb.stations.request.dispatched")
    assert [d["unit"] for _, d in events] == [won["unit"]]


async def test_who_sees_what(stations: RunningService) -> None:
    first = (await place(stations))["id"]
    second = (await place(stations, requester={"kind": "worker", "id": "w2"}))["id"]
    await move(stations, first, "dispatch", office(stations), {"unit": "union"})
    await move(stations, second, "dispatch", office(stations), {"unit": "health"})

    async def ids(headers: dict[str, str], **params: Any) -> list[str]:
        response = await stations.client.get("/v1/requests", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert sorted(await ids(office(stations))) == sorted([first, second])
    assert await ids(unit(stations, "union")) == [first]
    assert await ids(unit(stations, "union"), unit="health") == [first]  # its own, whatever asked
    assert await ids(worker(stations, "w2")) == [second]
    assert await ids(office(stations), unit="health") == [second]
    assert await ids(office(stations), state="placed") == []
    assert await ids(office(stations, "140211")) == []
    hidden = await stations.client.get(f"/v1/requests/{second}", headers=unit(stations, "union"))
    assert hidden.status_code == 404
    no_part = stations.as_region(REGION, scopes=("coverage:read",))
    assert (await stations.client.get("/v1/requests", headers=no_part)).status_code == 403
    unit_places = await stations.client.post(
        "/v1/requests", json=need(), headers=unit(stations, "union")
    )
    assert unit_places.status_code == 403
    own = await stations.client.post(
        "/v1/requests", json=need(requester=None), headers=worker(stations, "w9")
    )
    assert (own.status_code, own.json()["requester_id"]) == (201, "w9")
    nowhere = await stations.client.post(
        "/v1/requests", json=need(station_id="no-such-station"), headers=office(stations)
    )
    assert nowhere.json()["errors"][0]["field"] == "station_id"
    missing = await stations.client.post(
        "/v1/requests", json=need(requester=None), headers=office(stations)
    )
    assert missing.json()["errors"][0]["field"] == "requester"


async def test_a_report_carries_place_and_photo(stations: RunningService) -> None:
    headers = office(stations)
    without = await stations.client.post(
        "/v1/requests", json=need(category="report", photo_ref="oss://p/1.jpg"), headers=headers
    )
    assert without.json()["errors"][0]["field"] == "location"
    report = await place(
        stations,
        category="report",
        title="井盖缺失",
        photo_ref="oss://p/1.jpg",
        location={"latitude": HERE[0], "longitude": HERE[1]},
    )
    assert (report["latitude"], report["photo_ref"]) == (HERE[0], "oss://p/1.jpg")


async def test_figures_by_region_and_unit(stations: RunningService) -> None:
    scores = [5, 3, None]
    for n, score in enumerate(scores):
        rid = (await place(stations))["id"]
        await move(stations, rid, "dispatch", office(stations), {"unit": "union"})
        await move(stations, rid, "accept", unit(stations, "union"), None)
        await move(stations, rid, "resolve", unit(stations, "union"), None)
        if score:
            await move(stations, rid, "rate", worker(stations), {"score": score})
        assert n < 3
    await place(stations)
    response = await stations.client.get(
        "/v1/requests/stats", params={"region_code": REGION}, headers=office(stations)
    )
    figures = response.json()
    assert figures["total"] == 4
    assert figures["by_state"] == {
        "placed": 1,
        "dispatched": 0,
        "accepted": 0,
        "resolved": 1,
        "rated": 2,
        "closed": 0,
    }
    assert (figures["resolved"], figures["on_time"], figures["on_time_rate"]) == (3, 3, 1.0)
    assert figures["mean_rating"] == 4.0
    assert figures["median_hours_to_accept"] is not None
    as_unit = await stations.client.get("/v1/requests/stats", headers=unit(stations, "health"))
    assert (as_unit.json()["unit"], as_unit.json()["total"]) == ("health", 0)
    outside = await stations.client.get(
        "/v1/requests/stats", params={"region_code": "140211"}, headers=office(stations)
    )
    assert outside.status_code == 403

"""The loop seen from outside: a worker registers, checks in and declares membership, a report
goes placed → dispatched → accepted → resolved → rated and earns points once; a plain nats-py
client reads the stream and finds the events in order, as CloudEvents valid against the exported
schemas, with no personal data on the wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import nats
import pytest

from services.stations.app import definition
from services.stations.settings import StationsSettings
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve
from tests.stations.test_requests_api import move, office, unit
from tests.stations.test_workers_api import NAME, PHONE, id_number, worker_body

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"


@pytest.fixture
async def own_stations(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    """The service on a nats-server of its own: the stream holds this test's events only."""
    settings = StationsSettings(
        database_url=await service_databases.url("stations"), nats_url=private_nats.url
    )
    async with serve(definition(settings)) as service:
        yield service


async def read_stream(url: str, expected: int) -> list[Any]:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        sub = await js.pull_subscribe("pb.stations.>", stream="PB_STATIONS")
        messages: list[Any] = []
        while len(messages) < expected:
            batch = await sub.fetch(expected - len(messages), timeout=10)
            for msg in batch:
                await msg.ack()
            messages.extend(batch)
        assert (await js.stream_info("PB_STATIONS")).state.messages == expected
        return messages
    finally:
        await client.close()


async def test_a_report_round_the_loop_on_the_wire(
    own_stations: RunningService, private_nats: NatsServer
) -> None:
    service = own_stations
    headers = service.as_region("140212")
    worker = (await service.client.post("/v1/workers", json=worker_body(), headers=headers)).json()
    wid = worker["id"]
    await service.client.post(
        f"/v1/workers/{wid}/check-ins",
        json={"community_code": "140212101201", "roles": ["info_reporter"]},
        headers=headers,
    )
    await service.client.post(
        f"/v1/workers/{wid}/member-declaration", json={"id_number": id_number()}, headers=headers
    )
    requester = service.as_region("140212", scopes=("stations:request",), subject=f"worker:{wid}")
    placed = await service.client.post(
        "/v1/requests",
        json={
            "category": "report",
            "title": "积水路段",
            "description": f"联系人{NAME} {PHONE}",  # free text stays in the store
            "region_code": "140212101",
            "location": {"latitude": 40.25, "longitude": 113.14},
            "photo_ref": "oss://p/3.jpg",
        },
        headers=requester,
    )
    assert placed.status_code == 201, placed.text
    rid = placed.json()["id"]
    for action, who, body in [
        ("dispatch", office(service), {"unit": "community"}),
        ("accept", unit(service, "community"), None),
        ("resolve", unit(service, "community"), {"note": "已排水"}),
        ("rate", requester, {"score": 5, "comment": f"谢谢 {PHONE}"}),
    ]:
        response = await move(service, rid, action, who, body)
        assert response.status_code == 200, (action, response.text)

    expected = [
        "pb.stations.worker.registered.v1",
        "pb.stations.worker.checked_in.v1",
        "pb.stations.worker.member_declared.v1",
        "pb.stations.request.placed.v1",
        "pb.stations.request.dispatched.v1",
        "pb.stations.request.accepted.v1",
        "pb.stations.request.resolved.v1",
        "pb.stations.points.awarded.v1",
        "pb.stations.request.rated.v1",
    ]
    messages = await read_stream(private_nats.url, len(expected))
    assert [m.subject for m in messages] == expected
    for msg in messages:
        h = msg.headers
        assert (h["ce-type"], h["Nats-Msg-Id"]) == (msg.subject, h["ce-id"])
        schema = json.loads((SCHEMAS / f"{msg.subject}.json").read_text(encoding="utf-8"))
        jsonschema.validate(json.loads(msg.data), schema)
        wire = msg.data.decode() + json.dumps(dict(h), ensure_ascii=False)
        for raw in (NAME, PHONE, id_number(), "联系人", "谢谢"):
            assert raw not in wire, (msg.subject, raw)
    awarded = json.loads(messages[7].data)
    assert (awarded["worker_id"], awarded["request_id"], awarded["reason"]) == (wid, rid, "report")
    request_ids = {json.loads(m.data).get("request_id") for m in messages[3:]}
    assert request_ids == {rid}

"""SLA timers are rows: those a service left pending fire after it restarts (reminder, overdue,
escalation to the office above), each once, and none for a stage that ended."""

from __future__ import annotations

from typing import Any

from services.stations.app import definition
from services.stations.settings import Level, StationsSettings
from tests.factories import outbox_data, outbox_records
from tests.harness import NatsServer, ServiceDatabases, serve, wait_for
from tests.stations.test_requests_api import move, office, place, unit


def fast(url: str, nats: str, check_seconds: float) -> StationsSettings:
    """Every hour a working hour, and a need due to be accepted within ~2 seconds."""
    return StationsSettings(
        database_url=url,
        nats_url=nats,
        working_day_start_hour=0,
        working_day_end_hour=24,
        working_days=frozenset(range(7)),
        service_levels={"need": Level(accept_within_hours=0.0005, resolve_within_days=1)},
        reminder_share=0.5,
        escalate_after_hours=0.0005,
        sla_check_seconds=check_seconds,
    )


async def test_timers_fire_after_a_restart(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    url = await service_databases.url("stations")
    async with serve(definition(fast(url, nats_server.url, check_seconds=3600))) as first:
        late = (await place(first))["id"]
        await move(first, late, "dispatch", office(first), {"unit": "union"})
        prompt = (await place(first))["id"]
        await move(first, prompt, "dispatch", office(first), {"unit": "health"})
        await move(first, prompt, "accept", unit(first, "health"), None)
        # the first service's worker ran once at start, before anything was due
        assert await outbox_records(first.runtime, "pb.stations.request.reminded") == []

    async with serve(definition(fast(url, nats_server.url, check_seconds=0.1))) as second:

        async def escalated() -> list[dict[str, Any]]:
            return await outbox_data(second.runtime, "pb.stations.request.escalated.v1")

        [escalation] = await wait_for(escalated, timeout=20)
        assert (escalation["request_id"], escalation["to_region_code"]) == (
            late,
            "140212",
        )  # the township's county
        timers = [
            (t.split(".")[3], d["request_id"], d["stage"])
            for t, d in await outbox_records(second.runtime, "pb.stations.request.")
            if t.split(".")[3] in ("reminded", "overdue", "escalated")
        ]
        assert timers == [
            ("reminded", late, "accept"),
            ("overdue", late, "accept"),
            ("escalated", late, "accept"),
        ]
        listed = await second.client.get(
            "/v1/requests", params={"overdue": "true"}, headers=office(second)
        )
        assert [(r["id"], r["overdue"], r["escalated"]) for r in listed.json()["items"]] == [
            (late, True, True)
        ]
        accepted = await move(second, late, "accept", unit(second, "union"), None)
        assert accepted.json()["escalated"] is False
        [event] = [
            d
            for d in await outbox_data(second.runtime, "pb.stations.request.accepted.v1")
            if d["request_id"] == late
        ]
        assert event["on_time"] is False

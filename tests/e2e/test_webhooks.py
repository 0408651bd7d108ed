"""Webhooks end to end: a receiver started here (a real HTTP server on loopback) subscribes to
the registry's organisation events, verifies every delivery with the `standardwebhooks` package
(the Standard Webhooks reference verifier, not our code), answers 503 for a while, and then gets
every delivery once, in order per organisation; an event outside its region never comes. A
second story: deliveries given up on are listed as failures, and a replay from a time before
them delivers them again."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.factories import OTHER_TOWNSHIP, REGION, TOWNSHIP, credit_code, organization
from tests.harness import (
    SQLITE_ONLY,
    NatsServer,
    RunningService,
    ServiceDatabases,
    serve,
    wait_for,
)
from tests.registry.imports_data import MARKET_HEADER, csv_bytes, market_row
from tests.registry.test_imports_api import upload

SUBSCRIPTIONS = "/v1/webhook-subscriptions"


class Receiver:
    """A webhook receiver on loopback: answers `status` (204 when up, 503 when down), keeps
    what it accepted, and counts every attempt."""

    def __init__(self) -> None:
        self.status = 204
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.attempts += 1
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver.accepted.append(
                            ({k.lower(): v for k, v in self.headers.items()}, body)
                        )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pb"

    def events(self, secret: str) -> list[dict[str, Any]]:
        """What was accepted, each verified by the Standard Webhooks reference verifier."""
        verifier = Webhook(secret)
        with self.lock:
            accepted = list(self.accepted)
        events = []
        for headers, body in accepted:
            event: dict[str, Any] = verifier.verify(body, headers)
            assert headers["webhook-id"] == event["id"]
            assert headers["content-type"].startswith("application/cloudevents+json")
            events.append(event)
        return events


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def settings_for(url: str, nats_url: str, **overrides: Any) -> RegistrySettings:
    return RegistrySettings(
        database_url=url,
        nats_url=nats_url,
        outbox_poll_seconds=0.05,
        webhook_allow_local_targets=True,
        webhook_refresh_seconds=0.1,
        webhook_backoff_seconds=[0.1, 0.2, 0.4],
        **overrides,
    )


async def subscribe(
    registry: RunningService,
    receiver: Receiver,
    event_types: tuple[str, ...] = ("pb.registry.organization.*",),
) -> dict[str, Any]:
    answer = await registry.client.post(
        SUBSCRIPTIONS,
        json={
            "event_types": list(event_types),
            "region_code": TOWNSHIP,
            "url": receiver.url,
        },
        headers=registry.as_region(REGION, scopes=("webhooks:manage",)),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["secret"].startswith("whsec_")
    return body


async def register(registry: RunningService, n: int, **overrides: Any) -> str:
    answer = await registry.client.post(
        "/v1/organizations", json=organization(n, **overrides), headers=registry.as_region(REGION)
    )
    assert answer.status_code == 201, answer.text
    organization_id: str = answer.json()["id"]
    return organization_id


async def change(registry: RunningService, organization_id: str, staff: int) -> None:
    path = f"/v1/organizations/{organization_id}"
    headers = registry.as_region(REGION)
    read = await registry.client.get(path, headers=headers)
    answer = await registry.client.patch(
        path,
        content=json.dumps({"staff_count": staff}),
        headers={
            **headers,
            "If-Match": read.headers["etag"],
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert answer.status_code == 200, answer.text


@SQLITE_ONLY
async def test_a_receiver_down_for_a_while_gets_every_delivery_once_in_order(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    url = await service_databases.url("registry")
    settings = settings_for(url, nats_server.url, webhook_max_attempts=100)
    with receiving() as receiver, receiving() as other:
        async with serve(definition(settings)) as registry:
            subscription = await subscribe(registry, receiver)
            secret = subscription["secret"]
            steady = await subscribe(registry, other)  # always up: never held up by the first
            a = await register(registry, 801)

            async def first() -> list[dict[str, Any]]:
                return receiver.events(secret)

            [event] = await wait_for(first, timeout=15)
            assert event["type"] == "pb.registry.organization.registered.v1"
            assert event["subject"] == a
            assert event["data"]["organization_id"] == a
            assert event["specversion"] == "1.0"
            assert event["datacontenttype"] == "application/json"
            assert event["dataschema"].endswith("/pb.registry.organization.registered.v1.json")

            receiver.status = 503  # down: every attempt now fails
            b = await register(registry, 802)
            await change(registry, a, 40)
            await register(registry, 803, region_code=OTHER_TOWNSHIP)  # outside the filter
            await change(registry, b, 50)
            await change(registry, a, 41)

            async def retried() -> bool:
                return receiver.attempts >= 4

            await wait_for(retried, timeout=15)

            async def steady_has_all() -> bool:
                return len(other.events(steady["secret"])) == 5

            await wait_for(steady_has_all, timeout=15)  # while the first receiver is down
            assert len(receiver.accepted) == 1
            receiver.status = 204  # back up

            async def all_five() -> list[dict[str, Any]] | None:
                events = receiver.events(secret)
                return events if len(events) >= 5 else None

            events = await wait_for(all_five, timeout=20)
            metrics = (await registry.client.get("/metrics")).text
            headers = registry.as_region(REGION, scopes=("webhooks:manage",))
            failures = await registry.client.get(
                f"{SUBSCRIPTIONS}/{subscription['id']}/failures", headers=headers
            )
        await_more = len(receiver.events(secret))

    assert await_more == 5, "a delivery came twice, or one outside the region came"
    assert len({e["id"] for e in events}) == 5
    assert all(e["data"]["region_code"] == TOWNSHIP for e in events)
    per_organisation: dict[str, list[tuple[str, Any]]] = {}
    for e in events:
        per_organisation.setdefault(e["subject"], []).append(
            (e["type"].split(".")[3], e["data"].get("staff_count"))
        )
    assert [kind for kind, _ in per_organisation[a]] == ["registered", "updated", "updated"]
    assert [staff for _, staff in per_organisation[a]][1:] == [40, 41]
    assert [kind for kind, _ in per_organisation[b]] == ["registered", "updated"]
    assert failures.status_code == 200
    assert failures.json()["items"] == []
    assert 'outcome="delivered"' in metrics
    assert 'outcome="retried"' in metrics
    assert 'outcome="skipped"' in metrics


@SQLITE_ONLY
async def test_given_up_deliveries_are_failures_and_a_replay_delivers_them_again(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    url = await service_databases.url("registry")
    settings = settings_for(url, nats_server.url, webhook_max_attempts=2)
    with receiving() as receiver:
        receiver.status = 503
        async with serve(definition(settings)) as registry:
            headers = registry.as_region(REGION, scopes=("webhooks:manage",))
            subscription = await subscribe(registry, receiver)
            path = f"{SUBSCRIPTIONS}/{subscription['id']}"
            before = datetime.now(UTC) - timedelta(seconds=1)
            first = await register(registry, 811)
            second = await register(registry, 812)

            async def two_failures() -> list[dict[str, Any]] | None:
                answer = await registry.client.get(f"{path}/failures", headers=headers)
                items: list[dict[str, Any]] = answer.json()["items"]
                return items if len(items) == 2 else None

            failures = await wait_for(two_failures, timeout=15)
            assert [f["subject"] for f in failures] == [first, second]
            assert all(f["reason"] == "HTTP 503" and f["attempts"] == 2 for f in failures)

            receiver.status = 204
            replayed = await registry.client.post(
                f"{path}/replay", json={"from": before.isoformat()}, headers=headers
            )
            assert replayed.status_code == 202, replayed.text

            async def both() -> list[dict[str, Any]] | None:
                events = receiver.events(subscription["secret"])
                return events if len(events) == 2 else None

            events = await wait_for(both, timeout=15)
            assert [e["subject"] for e in events] == [first, second]
            read = await registry.client.get(path, headers=headers)
            assert "secret" not in read.json()
            assert read.json()["deliver_from"] == replayed.json()["deliver_from"]

            deleted = await registry.client.delete(path, headers=headers)
            assert deleted.status_code == 204
            js = registry.runtime.link.js

            async def consumer_gone() -> bool:
                names = {c.name for c in await js.consumers_info(settings.stream_name)}
                return f"webhook-{subscription['id']}" not in names

            await wait_for(consumer_gone, timeout=10)


@SQLITE_ONLY
async def test_the_provincial_profile_payload_carries_the_records_as_they_stand(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    """A provincial platform subscribed with `payload: provincial_profile` gets, for each
    organisation event, the provincial record of that organisation (its full name included:
    a region-scoped, signed delivery, not an event), not the event's data."""
    url = await service_databases.url("registry")
    with receiving() as receiver:
        async with serve(definition(settings_for(url, nats_server.url))) as registry:
            headers = registry.as_region(REGION, scopes=("webhooks:manage",))
            refused = await registry.client.post(
                SUBSCRIPTIONS,
                json={"event_types": ["pb.registry.*"], "url": receiver.url, "payload": "xml"},
                headers=headers,
            )
            assert refused.status_code == 422
            assert refused.json()["errors"][0]["field"] == "payload"
            answer = await registry.client.post(
                SUBSCRIPTIONS,
                json={
                    "event_types": ["pb.registry.organization.*"],
                    "url": receiver.url,
                    "payload": "provincial_profile",
                },
                headers=headers,
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["payload"] == "provincial_profile"
            individual = await register(
                registry, 811, credit_code=credit_code(811, prefix="92"), name="李四小吃店"
            )

            async def delivered() -> list[dict[str, Any]]:
                return receiver.events(answer.json()["secret"])

            [event] = await wait_for(delivered, timeout=15)
    assert event["type"] == "pb.registry.organization.registered.v1"
    data = event["data"]
    assert (data["profile_version"], data["event_type"]) == (1, event["type"])
    assert "dataschema" not in event  # the data is the profile, not the event's
    [record] = data["records"]
    assert (record["organization_id"], record["name"], record["unit_category"]) == (
        individual,
        "李四小吃店",
        "个体工商户",
    )
    assert record["party_situation"] == "none_no_members"


@SQLITE_ONLY
async def test_an_imports_files_come_one_by_one_to_a_subscriber_of_registrations(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    """An import announces its files in `organization.imported` events: a subscription to the
    family gets those as they are, one to `organization.registered` alone gets each file the
    import registered as a registration of its own (not the files it changed), with an id that
    stays the same when the delivery is tried again."""
    url = await service_databases.url("registry")
    settings = settings_for(url, nats_server.url, webhook_max_attempts=100)
    with receiving() as single, receiving() as whole:
        async with serve(definition(settings)) as registry:
            one = await subscribe(registry, single, ("pb.registry.organization.registered.v1",))
            family = await subscribe(registry, whole)
            known = await register(registry, 5)

            async def delivered(receiver: Receiver, secret: str, n: int) -> list[dict[str, Any]]:
                async def enough() -> list[dict[str, Any]] | None:
                    events = receiver.events(secret)
                    return events if len(events) >= n else None

                events: list[dict[str, Any]] = await wait_for(enough, timeout=20)
                return events

            [first] = await delivered(single, one["secret"], 1)
            assert first["subject"] == known
            single.status = 503  # the first attempts fail: the files come again, same ids
            rows = [market_row(n, 行政区划代码=TOWNSHIP) for n in (1, 2, 3, 5)]
            rows.append(market_row(4, 行政区划代码=OTHER_TOWNSHIP))  # outside both regions
            data = csv_bytes(MARKET_HEADER, rows)
            answer = await upload(registry, "market_supervision", data, region=REGION)
            assert answer.status_code == 202, answer.text

            [_, carrier] = await delivered(whole, family["secret"], 2)
            assert carrier["type"] == "pb.registry.organization.imported.v1"
            assert carrier["subject"] == carrier["data"]["import_id"] == answer.json()["id"]
            assert carrier["data"]["region_code"] == TOWNSHIP
            files = carrier["data"]["registered"]
            assert len(files) == 3
            assert [f["organization_id"] for f in carrier["data"]["updated"]] == [known]

            async def retried() -> bool:
                return single.attempts >= 3

            await wait_for(retried, timeout=15)
            single.status = 204
            events = (await delivered(single, one["secret"], 4))[1:]
            await asyncio.sleep(0.5)  # time for anything more to arrive
    assert len(single.events(one["secret"])) == 4  # the update was not asked for
    assert [e["type"] for e in events] == ["pb.registry.organization.registered.v1"] * 3
    assert [e["data"] for e in events] == files
    assert [e["subject"] for e in events] == [f["organization_id"] for f in files]
    assert [e["time"] for e in events] == [carrier["time"]] * 3
    assert len({e["id"] for e in events} | {carrier["id"]}) == 4
    schema = "/pb.registry.organization.registered.v1.json"
    assert all(e["dataschema"].endswith(schema) for e in events)

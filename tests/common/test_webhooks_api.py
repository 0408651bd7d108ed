"""`/v1/webhook-subscriptions` through a served registry: who may manage subscriptions, the
problem+json of every refusal (field and reason), the secret shown once, If-Match on changes,
replay times, pagination."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.harness import SQLITE_ONLY, NatsServer, ServiceDatabases, serve

PATH = "/v1/webhook-subscriptions"
MANAGE = ("webhooks:manage",)
BODY = {"event_types": ["pb.registry.organization.*"], "url": "https://8.8.8.8/hook"}


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


@SQLITE_ONLY
async def test_the_subscription_api(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"), nats_url=nats_server.url
    )
    async with serve(definition(settings)) as registry:
        client = registry.client
        manager = registry.as_region("140212", scopes=MANAGE)
        admin = registry.as_region("140212", scopes=("admin",))

        problem(await client.post(PATH, json=BODY), 401)
        reader = registry.as_region("140212", scopes=("registry:read", "registry:write"))
        assert (
            "webhooks:manage"
            in problem(await client.post(PATH, json=BODY, headers=reader), 403)["detail"]
        )
        for body, field in [
            ({**BODY, "url": "http://8.8.8.8/hook"}, "url"),  # http outside development
            ({**BODY, "url": "https://10.0.0.1/hook"}, "url"),  # private: SSRF
            ({**BODY, "url": "https://169.254.169.254/latest"}, "url"),
            ({**BODY, "url": "https://host.invalid/hook"}, "url"),  # does not resolve
            ({**BODY, "event_types": ["pb.registry.nothing.v1"]}, "event_types.0"),
            ({**BODY, "event_types": ["pb.coverage.rates.changed.v1"]}, "event_types.0"),
            ({**BODY, "event_types": []}, "event_types"),
            ({**BODY, "secret": "plain"}, "secret"),
            ({**BODY, "region_code": "1402x"}, "region_code"),
        ]:
            refused = problem(await client.post(PATH, json=body, headers=manager), 422)
            assert fields(refused) == [field], (body, refused)
        problem(
            await client.post(PATH, json={**BODY, "region_code": "140211"}, headers=manager), 403
        )
        problem(await client.post(PATH, json={**BODY, "region_code": None}, headers=manager), 403)

        made = await client.post(PATH, json=BODY, headers=manager)
        assert made.status_code == 201, made.text
        created = made.json()
        assert created["secret"].startswith("whsec_")
        assert created["region_code"] == "140212"  # the caller's region by default
        assert made.headers["location"] == f"{PATH}/{created['id']}"
        assert made.headers["etag"] == '"1"'
        item = f"{PATH}/{created['id']}"
        read = await client.get(item, headers=manager)
        assert read.status_code == 200
        assert "secret" not in read.json()
        assert created["secret"] not in read.text
        problem(await client.get(item, headers=registry.as_region("140211", scopes=MANAGE)), 404)

        given = "whsec_" + "QUJD" * 8
        unfiltered = await client.post(
            PATH, json={**BODY, "region_code": None, "secret": given}, headers=admin
        )
        assert unfiltered.status_code == 201, unfiltered.text
        assert unfiltered.json()["region_code"] is None
        assert unfiltered.json()["secret"] == given
        listed = await client.get(PATH, params={"limit": 1}, headers=admin)
        assert len(listed.json()["items"]) == 1
        cursor = listed.json()["next_cursor"]
        rest = await client.get(PATH, params={"limit": 1, "cursor": cursor}, headers=admin)
        assert rest.json()["next_cursor"] is None
        ids = {listed.json()["items"][0]["id"], rest.json()["items"][0]["id"]}
        assert ids == {created["id"], unfiltered.json()["id"]}
        mine = await client.get(PATH, headers=manager)
        assert [s["id"] for s in mine.json()["items"]] == [created["id"]]
        problem(await client.get(PATH, params={"cursor": "nonsense"}, headers=manager), 422)

        patch = json.dumps({"active": False})
        merge = {**manager, "Content-Type": "application/merge-patch+json"}
        problem(await client.patch(item, content=patch, headers=merge), 428)
        problem(await client.patch(item, content=patch, headers={**merge, "If-Match": '"7"'}), 412)
        changed = await client.patch(item, content=patch, headers={**merge, "If-Match": '"1"'})
        assert changed.status_code == 200, changed.text
        assert changed.json()["active"] is False
        assert changed.headers["etag"] == '"2"'
        bad_url = json.dumps({"url": "https://192.168.1.1/x"})
        refused = problem(
            await client.patch(item, content=bad_url, headers={**merge, "If-Match": "*"}), 422
        )
        assert fields(refused) == ["url"]

        replay = f"{item}/replay"
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert fields(
            problem(await client.post(replay, json={"from": future}, headers=manager), 422)
        ) == ["from"]
        naive = {"from": "2026-11-30T08:00:00"}
        assert fields(problem(await client.post(replay, json=naive, headers=manager), 422)) == [
            "from"
        ]
        since = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
        replayed = await client.post(replay, json={"from": since.isoformat()}, headers=manager)
        assert replayed.status_code == 202, replayed.text
        assert datetime.fromisoformat(replayed.json()["deliver_from"]) == since

        failures = await client.get(f"{item}/failures", headers=manager)
        assert failures.json() == {"items": [], "next_cursor": None, "next": None}
        assert (await client.delete(item, headers=manager)).status_code == 204
        problem(await client.get(item, headers=manager), 404)
        problem(await client.get(f"{item}/failures", headers=manager), 404)

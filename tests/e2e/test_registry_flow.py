"""The registry's story end to end, read off JetStream by a plain nats-py client.

An import finds three organisations, which form a joint branch; a staff list and a roster
discover a hidden member, who declares and transfers to that branch (a relationship goes to a
Party organisation). The events
must reach the stream in that order, each once, as CloudEvents 1.0 (binary NATS binding) whose
data validates against the schema the project publishes in docs/events/schemas. The reader here
uses nothing of the project's code but the URL of the server and the published schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import nats
from sqlalchemy import func, select

from libs.common.tables import outbox
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.factories import credit_code
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.party_helpers import person, roster_person

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"
COUNTY = "140212"
TOWNSHIP = "140212101"

SURVEY_HEADER = "单位名称,统一社会信用代码,所属乡镇(街道)代码,行业代码,从业人数,正式党员数"


def survey_file() -> bytes:
    rows = [
        f"新荣区联建甲商贸有限公司,{credit_code(701)},{TOWNSHIP},F5212,12,1",
        f"新荣区联建乙物流有限公司,{credit_code(702)},{TOWNSHIP},G5430,15,1",
        f"新荣区联建丙餐饮有限公司,{credit_code(703)},{TOWNSHIP},H6210,11,1",
    ]
    return ("\n".join([SURVEY_HEADER, *rows]) + "\n").encode("utf-8")


async def the_story(registry: RunningService) -> dict[str, Any]:
    """Drive the registry over HTTP; return the ids the events must name."""
    headers = registry.as_region(COUNTY)
    posted = await registry.client.post(
        "/v1/imports",
        data={"source": "survey"},
        files={"file": ("摸排表.csv", survey_file(), "text/csv")},
        headers=headers,
    )
    assert posted.status_code == 202, posted.text

    async def import_done() -> dict[str, Any] | None:
        job = await registry.client.get(posted.headers["location"], headers=headers)
        body: dict[str, Any] = job.json()
        return body if body["status"] in {"done", "failed", "rejected"} else None

    job = await wait_for(import_done, timeout=30)
    assert job["status"] == "done", job
    listed = await registry.client.get(
        "/v1/organizations", params={"region_code": TOWNSHIP, "limit": 10}, headers=headers
    )
    by_code = {o["credit_code"]: o["id"] for o in listed.json()["items"]}
    a, b, c = (by_code[credit_code(n)] for n in (701, 702, 703))

    committee = await registry.client.post(
        "/v1/committees",
        json={"kind": "township", "name": "古店镇综合党委", "region_code": TOWNSHIP},
        headers=headers,
    )
    assert committee.status_code == 201, committee.text
    branch = await registry.client.post(
        "/v1/branches",
        json={
            "kind": "joint",
            "name": "古店镇联建联合党支部",
            "parent_id": committee.json()["id"],
            "organization_ids": [a, b, c],
        },
        headers=headers,
    )
    assert branch.status_code == 201, branch.text
    staff = await registry.client.post(
        f"/v1/organizations/{c}/staff-lists", json={"people": [person(71)]}, headers=headers
    )
    assert staff.status_code == 200, staff.text
    roster = await registry.client.post(
        "/v1/member-rosters", json={"members": [roster_person(71)]}, headers=headers
    )
    [member] = roster.json()["discovered"]
    for step in ("declare", "transfer"):
        done = await registry.client.post(f"/v1/members/{member['id']}/{step}", headers=headers)
        assert done.status_code == 200, done.text
    return {
        "organizations": {a, b, c},
        "member": member["id"],
        "committee": committee.json()["id"],
        "branch": branch.json()["id"],
    }


async def stream_messages(url: str, expected: int) -> list[Any]:
    """Every message of PB_REGISTRY, in stream order, read with plain nats-py."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        sub = await js.pull_subscribe("pb.registry.>", stream="PB_REGISTRY")
        messages: list[Any] = []
        while len(messages) < expected:
            batch = await sub.fetch(expected - len(messages), timeout=5)
            for msg in batch:
                await msg.ack()
            messages.extend(batch)
        info = await js.stream_info("PB_REGISTRY")
        assert info.state.messages == expected, "the stream holds more than the outbox wrote"
        return messages
    finally:
        await client.close()


def cloud_events(messages: list[Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, subject, data) of each message, after checking it is a valid CloudEvent."""
    for msg in messages:
        h = msg.headers
        assert h["ce-specversion"] == "1.0"
        assert h["ce-type"] == msg.subject
        assert h["ce-id"]
        assert h["Nats-Msg-Id"] == h["ce-id"]
        assert h["ce-source"].startswith("/")
        assert datetime.fromisoformat(h["ce-time"]).tzinfo is not None
        assert h["content-type"] == "application/json"
        data = json.loads(msg.data)
        schema = json.loads((SCHEMAS / f"{msg.subject}.json").read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)
        yield msg.subject, h["ce-subject"], data


async def test_import_discovery_transfer_and_joint_branch_reach_nats_in_order_once(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=private_nats.url,
        outbox_poll_seconds=0.1,
    )
    async with serve(definition(settings)) as registry:
        ids = await the_story(registry)
        unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        written = select(func.count()).select_from(outbox)

        async def relayed() -> int | None:
            async with registry.runtime.db.read() as session:
                if (await session.execute(unsent)).scalar_one():
                    return None
                return int((await session.execute(written)).scalar_one())

        total = await wait_for(relayed, timeout=20)

    messages = await stream_messages(private_nats.url, total)
    events = list(cloud_events(messages))
    assert len({m.headers["ce-id"] for m in messages}) == len(messages), "an event twice"

    def position(event_type: str, subject: str) -> int:
        found = [i for i, (t, s, _) in enumerate(events) if t == event_type and s == subject]
        assert len(found) == 1, f"{event_type} for {subject}: {len(found)} times"
        return found[0]

    def imported(organization_id: str) -> int:
        found = [
            i
            for i, (t, _, data) in enumerate(events)
            if t == "pb.registry.organization.imported.v1"
            for f in data["registered"]
            if f["organization_id"] == organization_id
        ]
        assert len(found) == 1, f"{organization_id} imported {len(found)} times"
        return found[0]

    registered = [imported(o) for o in ids["organizations"]]
    discovered = position("pb.registry.member.discovered.v1", ids["member"])
    declared = position("pb.registry.member.declared.v1", ids["member"])
    transferred = position("pb.registry.member.transferred.v1", ids["member"])
    committee = position("pb.registry.committee.formed.v1", ids["committee"])
    formed = position("pb.registry.branch.formed.v1", ids["branch"])
    assert max(registered) < committee < formed < discovered < declared < transferred

    branch = events[formed][2]
    assert (branch["kind"], set(branch["organization_ids"])) == ("joint", ids["organizations"])
    member = events[transferred][2]
    assert set(member) >= {"member_id", "organization_id", "status"}
    assert member["status"] == "transferred"
    counted = [
        data
        for t, _, data in events[declared:]
        if t == "pb.registry.organization.updated.v1" and "full_members" in data["changed"]
    ]
    assert [(d["organization_id"], d["full_members"]) for d in counted] == [
        (member["organization_id"], 2)
    ]

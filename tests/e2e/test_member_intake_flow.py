"""New members reach the registry from the services that find them, over real NATS: training's
applicants carried to full membership move the organisation's counts (and, at the third full
member, `branch.eligible`, and coverage's gap reason from too few full members to eligible for a
branch of its own); a worker who declares membership at the stations becomes a mobile
member (流动党员) the office lists, matched to their member record by keyed hash, with no
personal data on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import nats

from services.coverage.app import definition as coverage_definition
from services.coverage.settings import CoverageSettings
from services.registry.app import definition as registry_definition
from services.registry.settings import RegistrySettings
from services.stations.app import definition as stations_definition
from services.stations.settings import StationsSettings
from services.training.app import definition as training_definition
from services.training.settings import TrainingSettings
from tests.factories import outbox_data
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.party_helpers import new_organization, person, roster_person
from tests.registry.test_branches_api import committee, form
from tests.registry.test_members_api import roster, staff
from tests.training.test_candidates_api import VOTE, apply, step
from tests.training.test_candidates_api import id_number as applicant_id

COUNTY = "140212"


@asynccontextmanager
async def services(
    nats_server: NatsServer, dbs: ServiceDatabases, *names: str
) -> AsyncIterator[dict[str, RunningService]]:
    made = {
        "registry": lambda url: registry_definition(
            RegistrySettings(database_url=url, nats_url=nats_server.url, outbox_poll_seconds=0.1)
        ),
        "training": lambda url: training_definition(
            TrainingSettings(
                database_url=url,
                nats_url=nats_server.url,
                outbox_poll_seconds=0.1,
                routine_check_seconds=3600,
            )
        ),
        "coverage": lambda url: coverage_definition(
            CoverageSettings(database_url=url, nats_url=nats_server.url, outbox_poll_seconds=0.1)
        ),
        "stations": lambda url: stations_definition(
            StationsSettings(database_url=url, nats_url=nats_server.url, outbox_poll_seconds=0.1)
        ),
    }
    running: dict[str, RunningService] = {}
    async with AsyncExitStack() as stack:
        for name in names:
            running[name] = await stack.enter_async_context(serve(made[name](await dbs.url(name))))
        for service in running.values():
            await wait_for(service.ready, timeout=15)
        yield running


async def file_of(registry: RunningService, organization_id: str) -> dict[str, Any]:
    response = await registry.client.get(
        f"/v1/organizations/{organization_id}", headers=registry.as_region("14")
    )
    body: dict[str, Any] = response.json()
    return body


async def carry_to_probation(
    training: RunningService, n: int, org_id: str, branch_id: str, committee_id: str
) -> str:
    """An applicant of `org_id` carried through every step to a probationary member."""
    response = await apply(training, n, "2024-01-31", branch_id=branch_id, organization_id=org_id)
    assert response.status_code == 201, response.text
    cid: str = response.json()["id"]
    introducers: list[dict[str, str]] = [
        {"name": "李四", "id_number": applicant_id(100 + n), "membership": "full"},
        {"name": "王五", "id_number": applicant_id(200 + n), "membership": "full"},
    ]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("talk", {"on": "2024-02-20"}),
        ("activist", {"on": "2024-02-29"}),
        ("development-target", {"on": "2025-02-28"}),
        ("training", {"on": "2025-04-01", "hours": 24}),
        ("political-review", {"on": "2025-04-02"}),
        ("introducers", {"introducers": introducers}),
        ("admission", {"on": f"2025-05-{10 + n:02d}", "vote": VOTE}),
        ("approval", {"on": "2025-06-01", "committee_id": committee_id}),
    ]
    for name, body in steps:
        response = await step(training, cid, name, **body)
        assert response.status_code == 200, (name, response.text)
    return cid


async def test_applicants_carried_to_full_membership_count_in_the_registry(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    names = ("registry", "training", "coverage")
    async with services(private_nats, service_databases, *names) as running:
        registry, training, coverage = (running[name] for name in names)
        parent = await committee(registry, formed_on="2020-01-01")
        a = (await new_organization(registry, 801, full_members=1))["id"]
        b = (await new_organization(registry, 802, full_members=1))["id"]
        c = (await new_organization(registry, 803, full_members=1))["id"]
        # An organisation no branch covers, whose members the joint branch develops.
        d = (await new_organization(registry, 804, full_members=1))["id"]
        joint = await form(
            registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b, c]
        )
        assert joint.status_code == 201, joint.text
        branch_id = joint.json()["id"]

        async def training_knows_the_branch() -> bool:
            response = await training.client.get(
                f"/v1/branches/{branch_id}/routine", headers=training.as_region(COUNTY)
            )
            return bool(response.status_code == 200)

        await wait_for(training_knows_the_branch, timeout=15)
        candidates = [
            await carry_to_probation(training, n, org, branch_id, parent["id"])
            for n, org in ((1, a), (2, a), (3, d), (4, d))
        ]

        async def probationers_counted() -> bool:
            files = [await file_of(registry, org) for org in (a, d)]
            return all(f["probationary_members"] == 2 for f in files)

        await wait_for(probationers_counted, timeout=15)

        async def gap_reason_of_d(expected: str) -> bool:
            response = await coverage.client.get(
                f"/v1/coverage/{COUNTY}/gaps", headers=coverage.as_region(COUNTY)
            )
            lines = {line["organization_id"]: line for line in response.json()["items"]}
            return d in lines and lines[d]["reason"] == expected and a not in lines

        await wait_for(lambda: gap_reason_of_d("too_few_full_members"), timeout=15)
        assert (await file_of(registry, a))["full_members"] == 1
        assert await outbox_data(registry.runtime, "pb.registry.branch.eligible.v1") == []

        assert len(candidates) == 4
        for cid in candidates:
            confirmed = await step(training, cid, "confirmation", on="2026-06-01", vote=VOTE)
            assert confirmed.status_code == 200, confirmed.text

        async def eligible() -> list[str]:
            events = await outbox_data(registry.runtime, "pb.registry.branch.eligible.v1")
            found = sorted(e["organization_id"] for e in events)
            return found if len(found) >= 2 else []

        assert await wait_for(eligible, timeout=15) == sorted([a, d])
        after = await file_of(registry, a)
        assert (after["full_members"], after["probationary_members"]) == (3, 0)
        await wait_for(lambda: gap_reason_of_d("eligible_without_branch"), timeout=15)
        assert (await file_of(registry, d))["full_members"] == 3


async def test_a_declared_worker_becomes_a_mobile_member_matched_by_keyed_hash(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    wire: list[bytes] = []
    client = await nats.connect(private_nats.url)

    async def keep(msg: Any) -> None:
        wire.append(msg.subject.encode() + b" " + msg.data)

    await client.subscribe("pb.>", cb=keep)
    try:
        async with services(private_nats, service_databases, "registry", "stations") as running:
            registry, stations = running["registry"], running["stations"]
            org = await new_organization(registry, 804)
            someone = person(7)
            worker = await stations.client.post(
                "/v1/workers",
                json={
                    "name": someone["name"],
                    "phone": someone["phone"],
                    "region_code": "140212101",
                    "platform": "美团",
                    "occupation": "food_delivery_rider",
                },
                headers=stations.as_region(COUNTY),
            )
            assert worker.status_code == 201, worker.text
            declared = await stations.client.post(
                f"/v1/workers/{worker.json()['id']}/member-declaration",
                json={},
                headers=stations.as_region(COUNTY),
            )
            assert declared.status_code == 200, declared.text

            async def listed() -> list[dict[str, Any]]:
                response = await registry.client.get(
                    "/v1/mobile-members",
                    params={"region_code": COUNTY},
                    headers=registry.as_region(COUNTY),
                )
                items: list[dict[str, Any]] = response.json()["items"]
                return items

            [mobile] = await wait_for(listed, timeout=15)
            assert (mobile["region_code"], mobile["member_id"]) == ("140212101", None)

            # the office's staff list (with the phone) and roster bring the person in
            await staff(registry, org["id"], [someone])
            await roster(registry, [roster_person(7)])
            [mobile] = await listed()
            assert mobile["organization_id"] == org["id"]
            assert mobile["name"] == someone["name"][0] + "**"
    finally:
        await client.drain()
    seen = b"".join(wire)
    assert b"pb.stations.worker.member_declared.v1 " in seen
    assert someone["phone"].encode() not in seen
    assert someone["id_number"].encode() not in seen
    assert someone["name"].encode() not in seen

"""What the registry consumes, on a real nats-server and each store: training's member steps move
an organisation's counts (once per candidate, whatever the event ids), stations' declarations
become mobile members (流动党员) that an office lists and that match member records by keyed hash;
events that can never apply are dead-lettered with the reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from libs.common.events import Envelope
from libs.common.tables import dead_letters, inbox
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.coverage.feed import ProducerStream
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.party_helpers import (
    data_of,
    id_number,
    new_organization,
    person,
    phone,
    roster_person,
)
from tests.registry.producers import candidate, declared
from tests.registry.test_members_api import roster, staff


@pytest.fixture(scope="module")
def producers_nats() -> Iterator[NatsServer]:
    """A nats-server of this module's own: the registry's durable consumers on PB_TRAINING and
    PB_STATIONS must not meet other modules' registries."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
async def registry(
    producers_nats: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=producers_nats.url,
        inbox_fetch_seconds=0.2,
    )
    async with serve(definition(settings)) as service:
        yield service


@pytest.fixture
async def producers(producers_nats: NatsServer) -> AsyncIterator[ProducerStream]:
    async with ProducerStream.on(producers_nats.url, "training", "stations") as streams:
        yield streams


async def handled(service: RunningService, *sent: Envelope) -> None:
    """Wait until every one of these events was applied or dead-lettered."""
    ids = [e.id for e in sent]

    async def done() -> bool:
        async with service.runtime.db.read() as session:
            applied = await session.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
            )
            failed = await session.scalar(
                select(func.count())
                .select_from(dead_letters)
                .where(dead_letters.c.event_id.in_(ids))
            )
        return (applied or 0) + (failed or 0) == len(ids)

    await wait_for(done, timeout=20)


async def counts(service: RunningService, organization_id: str) -> tuple[int, int, int]:
    response = await service.client.get(
        f"/v1/organizations/{organization_id}", headers=service.as_region("14")
    )
    body = response.json()
    return body["full_members"], body["probationary_members"], body["version"]


async def dead(service: RunningService) -> dict[str, str]:
    async with service.runtime.db.read() as session:
        rows = await session.execute(select(dead_letters.c.event_id, dead_letters.c.reason))
    return {row.event_id: row.reason for row in rows}


async def test_members_developed_move_the_counts_once_each(
    registry: RunningService, producers: ProducerStream
) -> None:
    org = await new_organization(registry, 701)
    admitted = [candidate(f"cand-{n}", org["id"], "admitted") for n in range(4)]
    await producers.publish_envelopes(admitted)
    await handled(registry, *admitted)
    full, probationary, version = await counts(registry, org["id"])
    assert (full, probationary) == (0, 4)
    assert version > org["version"]

    # three confirmed, one cancelled; then every step again under new event ids (a producer's
    # outbox re-published as new events) and an admission replayed after its confirmation
    later = [candidate(f"cand-{n}", org["id"], "confirmed") for n in range(3)]
    later.append(candidate("cand-3", org["id"], "cancelled"))
    again = [candidate(f"cand-{n}", org["id"], "confirmed") for n in range(3)]
    again += [
        candidate("cand-3", org["id"], "cancelled"),
        candidate("cand-0", org["id"], "admitted"),
    ]
    await producers.publish_envelopes([*later, *again])
    await handled(registry, *later, *again)
    assert (await counts(registry, org["id"]))[:2] == (3, 0)
    assert await dead(registry) == {}

    updates = await data_of(registry, "pb.registry.organization.updated.v1")
    assert updates[-1]["full_members"] == 3
    assert updates[-1]["probationary_members"] == 0
    assert all("candidate" not in key for u in updates for key in u)
    [eligible] = await data_of(registry, "pb.registry.branch.eligible.v1")
    assert eligible["organization_id"] == org["id"]
    assert eligible["full_members"] == 3


async def test_a_confirmation_never_admitted_here_counts_the_full_member_only(
    registry: RunningService, producers: ProducerStream
) -> None:
    org = await new_organization(registry, 702, full_members=1, probationary_members=1)
    sent = [
        candidate("late-1", org["id"], "confirmed"),
        candidate("late-2", org["id"], "cancelled"),
    ]
    await producers.publish_envelopes(sent)
    await handled(registry, *sent)
    assert (await counts(registry, org["id"]))[:2] == (2, 1)


async def test_unknown_deregistered_and_out_of_turn_are_dead_lettered_with_the_reason(
    registry: RunningService, producers: ProducerStream
) -> None:
    org = await new_organization(registry, 703)
    closed = await new_organization(registry, 704)
    response = await registry.client.delete(
        f"/v1/organizations/{closed['id']}",
        params={"reason": "吊销"},
        headers={**registry.as_region("14"), "If-Match": f'"{closed["version"]}"'},
    )
    assert response.status_code == 200, response.text
    good = candidate("ok-1", org["id"], "admitted")
    unknown = candidate("x-1", "no-such-organisation", "admitted")
    gone = candidate("x-2", closed["id"], "admitted")
    first = candidate("x-3", org["id"], "confirmed")
    out_of_turn = candidate("x-3", org["id"], "cancelled")  # a full member is never cancelled
    await producers.publish_envelopes([good, unknown, gone, first, out_of_turn])
    await handled(registry, good, unknown, gone, first, out_of_turn)
    reasons = await dead(registry)
    assert set(reasons) == {unknown.id, gone.id, out_of_turn.id}
    assert "organisation not found" in reasons[unknown.id]
    assert "no-such-organisation" in reasons[unknown.id]
    assert "deregistered" in reasons[gone.id]
    assert "candidate_step_order" in reasons[out_of_turn.id]
    assert (await counts(registry, org["id"]))[:2] == (1, 1)


async def mobile(service: RunningService, region: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = await service.client.get(
        "/v1/mobile-members",
        params={"region_code": region},
        headers=service.as_region(region, **kwargs),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_declared_workers_are_listed_by_region_and_matched_by_keyed_hash(
    registry: RunningService, producers: ProducerStream
) -> None:
    org = await new_organization(registry, 705)
    # person 1 is already a member here (staff list + roster) and gives an ID number
    await staff(registry, org["id"], [person(1), person(2)])
    await roster(registry, [roster_person(1)])
    by_id = declared("worker-1", phone(91), id_number=id_number(1))
    # person 2 gives only their phone: on the staff list, but not yet on a roster
    by_phone = declared("worker-2", phone(2))
    elsewhere = declared("worker-3", phone(3), region_code="140211")
    await producers.publish_envelopes([by_id, by_phone, elsewhere])
    await handled(registry, by_id, by_phone, elsewhere)

    listed = await mobile(registry, "140212")
    assert sorted(m["region_code"] for m in listed) == ["140212", "140212"]
    [first] = [m for m in listed if m["member_id"]]
    assert first["organization_id"] == org["id"]
    assert first["name"] == "张**"
    assert first["id_number"] == id_number(1)[:6] + "********" + id_number(1)[-4:]
    [second] = [m for m in listed if not m["member_id"]]
    assert second["id_given"] is True  # the staff list tied the phone to an ID number
    assert [m["region_code"] for m in await mobile(registry, "140211")] == ["140211"]
    response = await registry.client.get(
        "/v1/mobile-members", params={"region_code": "140211"}, headers=registry.as_region("140212")
    )
    assert response.status_code == 403

    # the roster brings person 2 in: the declaration now matches their member record
    await roster(registry, [roster_person(2, "probationary")])
    listed = await mobile(registry, "140212")
    assert all(m["member_id"] for m in listed)
    assert {m["membership"] for m in listed} == {"full", "probationary"}
    body = str(listed)
    assert phone(2) not in body
    assert id_number(2) not in body
    assert json.loads(by_phone.data)["match_key"] not in body

    # the same worker declaring again refreshes one record
    again = declared("worker-2", phone(2))
    await producers.publish_envelopes([again])
    await handled(registry, again)
    assert len(await mobile(registry, "140212")) == 2

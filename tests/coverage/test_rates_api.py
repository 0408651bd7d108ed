"""The coverage rates on real NATS and both stores: registry events in, figures out, equal to
what a test counts from the events it sent."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import func, make_url, select, text, update
from sqlalchemy.exc import OperationalError

from libs.common import db as db_module
from libs.common.calendar import local_today
from libs.common.db import Database
from libs.common.events import IntegrationEvent
from services.coverage.app import definition
from services.coverage.domain.facts import Scope
from services.coverage.domain.rates import Area
from services.coverage.domain.rollups import COUNTERS
from services.coverage.service import rates as coverage_rates
from services.coverage.settings import CoverageSettings
from services.coverage.store.rollups import RegionRead
from services.coverage.store.snapshot_reads import read_one
from services.coverage.store.tables import organization_facts, rollups
from services.coverage.store.uow import CoverageUnitOfWork
from tests.coverage.feed import (
    Ledger,
    ProducerStream,
    assigned,
    deregistered,
    dissolved,
    formed,
    registered,
    reorganized,
    unassigned,
    union_dissolved,
    union_set_up,
    updated,
)
from tests.factories import outbox_data
from tests.harness import (
    POSTGRESQL_ONLY,
    SQLITE_ONLY,
    NatsServer,
    RunningService,
    ServiceDatabases,
    serve,
    wait_for,
)

TOWNSHIP_A = "140212101"
TOWNSHIP_B = "140212102"


@asynccontextmanager
async def coverage_service(
    nats: NatsServer, database_url: str, **settings: Any
) -> AsyncIterator[tuple[RunningService, ProducerStream]]:
    async with ProducerStream.on(nats.url) as stream:
        config = CoverageSettings(database_url=database_url, nats_url=nats.url, **settings)
        async with serve(definition(config)) as service:
            yield service, stream


async def rates(service: RunningService, region: str, **params: str) -> dict[str, Any]:
    response = await service.client.get(
        f"/v1/coverage/{region}", params=params, headers=service.as_region("14")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pairs(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        name: (body[f"{name}_coverage"]["covered"], body[f"{name}_coverage"]["in_scope"])
        for name in ("organization", "standalone", "work", "temporary")
    }


async def settled(
    service: RunningService, ledger: Ledger, region: str, timeout: float = 20, **params: str
) -> dict[str, Any]:
    """Wait until the service's figures for `region` are the ledger's; return the response."""
    expected = ledger.rates(
        region,
        params.get("organization_scope", "with_members"),
        params.get("work_scope", "all_managed"),
        params.get("area"),
    )
    last: dict[str, Any] = {}

    async def matches() -> bool:
        nonlocal last
        last = await rates(service, region, **params)
        return pairs(last) == expected

    try:
        await wait_for(matches, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{region} {params}: {pairs(last)} != expected {expected}") from None
    return last


def population() -> list[IntegrationEvent]:
    """Two townships, members or not, 三有 or not, a park; branches of each kind, instructors,
    unions, a re-file, a deregistration."""
    rng = random.Random(7)
    events: list[IntegrationEvent] = []
    orgs = []
    for n in range(40):
        org = registered(
            n,
            region_code=(TOWNSHIP_A if n % 3 else TOWNSHIP_B) + f"{n % 4:03d}",
            kind="enterprise" if n % 5 else "social_organization",
            industry_code=rng.choice(["I6513", "C1311", "5191", None]),
            staff_count=rng.choice([3, 12, 60, 400, None]),
            full_members=rng.choice([0, 0, 1, 3]),
            probationary_members=rng.choice([0, 0, 1]),
            three_haves=rng.random() < 0.5,
            area_ids=["park-1"] if n % 4 == 0 else [],
        )
        orgs.append(org)
        events.append(org)
    events += [
        formed("b-own", "standalone", "org-3"),
        formed("b-joint", "joint", "org-1", "org-2", "org-4"),
        formed("b-temp", "temporary", "org-5", "org-3"),
        assigned("a1", "org-6"),
        assigned("a2", "org-7"),
        union_set_up("u1", "org-8"),
        updated(orgs[9], full_members=4),
        deregistered(orgs[10]),
    ]
    return events


@pytest.fixture
async def running(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[tuple[RunningService, ProducerStream]]:
    url = await service_databases.url("coverage")
    async with coverage_service(private_nats, url) as pair:
        yield pair


async def test_rates_are_the_counts_of_the_events_sent(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    events = population()
    ledger.apply(*events)
    await stream.publish(*events)

    body = await settled(service, ledger, "140212")
    assert body["region_code"] == "140212"
    # no branch has lapsed: every covered organisation is effectively covered
    assert body["effective_coverage"] == body["organization_coverage"]
    assert body["effective"] == body["effective_coverage"]
    for region in ("14", "1402", TOWNSHIP_A, TOWNSHIP_B, TOWNSHIP_A + "001"):
        await settled(service, ledger, region)
    for scope in ("three_haves", "all_managed"):
        await settled(service, ledger, "14", organization_scope=scope, work_scope=scope)
    await settled(service, ledger, "14", area="park-1")
    await settled(service, ledger, TOWNSHIP_B, area="park-1")

    covered, in_scope = ledger.rates("14")["organization"]
    assert body["organization_coverage"]["rate"] == round(covered / in_scope, 4)
    for dimension in ("kind", "section", "size_band"):
        parts = body["breakdown"][dimension].values()
        assert sum(p["organization_coverage"]["in_scope"] for p in parts) == in_scope
        assert sum(p["work_coverage"]["covered"] for p in parts) == ledger.rates("14")["work"][0]

    async with service.runtime.db.read() as session:
        rows = {r.organization_id: r for r in await session.execute(select(organization_facts))}
    assert rows["org-3"].branch_id == "b-own"
    assert rows["org-3"].branch_kind == "standalone"
    assert rows["org-2"].branch_kind == "joint"
    assert rows["org-6"].instructor_count == 1
    assert rows["org-8"].mass_organization_count == 1
    assert rows["org-9"].full_members == 4
    assert rows["org-9"].version == 2
    assert not rows["org-10"].managed


async def test_a_dissolved_branch_lowers_the_rate_and_links_can_end(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=1) for n in range(6)]
    joint = formed("b-joint", "joint", "org-0", "org-1", "org-2")
    setup: list[IntegrationEvent] = [
        *orgs,
        joint,
        assigned("a1", "org-4"),
        union_set_up("u1", "org-5"),
    ]
    ledger.apply(*setup)
    await stream.publish(*setup)
    before = await settled(service, ledger, "140212")
    assert before["organization_coverage"]["rate"] == 0.5

    smaller = reorganized(joint, "org-0", "org-1")
    later: list[IntegrationEvent] = [smaller, unassigned("a1", "org-4")]
    ledger.apply(*later)
    await stream.publish(*later)
    middle = await settled(service, ledger, "140212")
    assert middle["organization_coverage"]["rate"] == 0.3333

    end: list[IntegrationEvent] = [dissolved(smaller), union_dissolved("u1", "org-5")]
    ledger.apply(*end)
    await stream.publish(*end)
    after = await settled(service, ledger, "140212")
    assert after["organization_coverage"] == {
        "covered": 0,
        "in_scope": 6,
        "rate": 0.0,
        "scope": "with_members",
    }
    assert after["work_coverage"]["covered"] == 0


async def test_duplicates_and_reordering_change_nothing(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    first = [registered(n, full_members=n % 3) for n in range(12)]
    joint = formed("b-joint", "joint", "org-1", "org-2", "org-4")
    moved = reorganized(joint, "org-1", "org-5")
    ended = dissolved(formed("b-gone", "standalone", "org-7"))
    refiled = updated(first[6], full_members=5)
    refiled_again = updated(refiled, full_members=0, probationary_members=1)
    left = deregistered(first[11])
    in_order: list[IntegrationEvent] = [
        *first,
        joint,
        moved,
        formed("b-gone", "standalone", "org-7"),
        ended,
        refiled,
        refiled_again,
        left,
        assigned("a1", "org-8"),
        unassigned("a1", "org-8"),
        union_set_up("u1", "org-9"),
        union_dissolved("u1", "org-9"),
        assigned("a2", "org-10"),
    ]
    ledger.apply(*in_order)

    # Delivered backwards: links before the organisations they name, newer versions first.
    sent = await stream.publish(*reversed(in_order))
    # The same events again: as redelivered copies (same event id) and as new envelopes.
    await stream.publish_envelopes(sent[:10], msg_id_suffix="-again")
    await stream.publish(*in_order[::2])

    for region in ("14", TOWNSHIP_A, TOWNSHIP_A + "001"):
        await settled(service, ledger, region)
    for scope in ("three_haves", "all_managed"):
        await settled(service, ledger, "140212", organization_scope=scope, work_scope=scope)
    async with service.runtime.db.read() as session:
        rows = {r.organization_id: r for r in await session.execute(select(organization_facts))}
    assert rows["org-5"].branch_id == "b-joint"
    assert rows["org-4"].branch_id is None
    assert rows["org-7"].branch_id is None
    assert (rows["org-6"].version, rows["org-6"].probationary_members) == (3, 1)
    assert rows["org-8"].instructor_count == 0
    assert rows["org-10"].instructor_count == 1
    assert rows["org-9"].mass_organization_count == 0
    assert not rows["org-11"].managed


@SQLITE_ONLY
async def test_region_scope_and_bad_input(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, _ = running
    other = service.as_region("140211")
    outside = await service.client.get("/v1/coverage/140212", headers=other)
    assert outside.status_code == 403
    assert outside.headers["content-type"] == "application/problem+json"
    bad = await service.client.get("/v1/coverage/14x", headers=other)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["region_code"]
    no_scope = await service.client.get(
        "/v1/coverage/140211", headers=service.as_region("140211", scopes=("registry:read",))
    )
    assert no_scope.status_code == 403
    empty = await service.client.get("/v1/coverage/140211", headers=other)
    assert empty.status_code == 200
    assert empty.json()["organization_coverage"] == {
        "covered": 0,
        "in_scope": 0,
        "rate": None,
        "scope": "with_members",
    }
    wrong_scope = await service.client.get(
        "/v1/coverage/140211", params={"organization_scope": "everyone"}, headers=other
    )
    assert wrong_scope.status_code == 422


async def outbox_events(service: RunningService, event_type: str) -> list[dict[str, Any]]:
    return await outbox_data(service.runtime, event_type)


async def test_targets_are_reached_and_missed_with_events(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=1) for n in range(4)]
    ledger.apply(*orgs)
    await stream.publish(*orgs)
    await settled(service, ledger, "140212")

    reader = service.as_region("140212", scopes=("coverage:read",))
    body = {"metric": "organization", "rate": 0.5, "due_on": "2026-12-31"}
    refused = await service.client.put("/v1/targets/140212", json=body, headers=reader)
    assert refused.status_code == 403
    outside = await service.client.put(
        "/v1/targets/140211", json=body, headers=service.as_region("140212")
    )
    assert outside.status_code == 403
    too_fine = await service.client.put(
        "/v1/targets/140212", json={**body, "rate": 0.12345}, headers=service.as_region("140212")
    )
    assert too_fine.status_code == 422
    put = await service.client.put("/v1/targets/140212", json=body, headers=service.as_region("14"))
    assert put.status_code == 200, put.text
    assert put.json()["standing"] == "below"
    assert put.json()["scope"] == "with_members"
    assert put.json()["current"]["in_scope"] == 4

    joint = formed("b-joint", "joint", "org-0", "org-1")
    ledger.apply(joint)
    await stream.publish(joint)
    reached = await wait_for(lambda: outbox_events(service, "pb.coverage.target.reached.v1"))
    assert reached[0]["region_code"] == "140212"
    assert (reached[0]["covered"], reached[0]["in_scope"], reached[0]["rate"]) == (2, 4, 0.5)
    assert reached[0]["target_rate"] == 0.5

    ledger.apply(dissolved(joint))
    await stream.publish(dissolved(joint))
    missed = await wait_for(lambda: outbox_events(service, "pb.coverage.target.missed.v1"))
    assert (missed[0]["covered"], missed[0]["rate"]) == (0, 0.0)
    assert len(await outbox_events(service, "pb.coverage.target.reached.v1")) == 1
    listed = await service.client.get("/v1/targets/140212", headers=reader)
    assert [t["standing"] for t in listed.json()] == ["below"]
    # the current standing, as the roll-ups say now (not only when the target was set)
    assert listed.json()[0]["current"] == {
        "covered": 0,
        "in_scope": 4,
        "rate": 0.0,
        "scope": "with_members",
    }


async def test_rates_changed_is_sent_once_per_region_per_window(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    url = await service_databases.url("coverage")
    async with coverage_service(
        private_nats, url, rates_changed_window_seconds=0.5, inbox_batch_size=5
    ) as (service, stream):
        ledger = Ledger()
        orgs = [registered(n, full_members=1) for n in range(60)]
        ledger.apply(*orgs)
        started = time.monotonic()
        for org in orgs:  # one by one, so the consumer applies many small batches
            await stream.publish(org)

        async def announced_final() -> list[dict[str, Any]] | None:
            found = await outbox_events(service, "pb.coverage.rates.changed.v1")
            province = [e for e in found if e["region_code"] == "14" and not e["area_id"]]
            return province if province and province[-1]["organization_in_scope"] == 60 else None

        province = await wait_for(announced_final, timeout=20)
        windows = (time.monotonic() - started) / 0.5
        assert len(province) <= windows + 1  # at most one per window
        assert len(province) < 60  # debounced: not one per organisation event
        assert province[-1]["organization_rate"] == 0.0
        assert province[-1]["work_in_scope"] == 60


async def test_history_answers_from_stored_snapshots(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=1) for n in range(4)]
    branch = formed("b-own", "standalone", "org-0")
    ledger.apply(*orgs, branch)
    await stream.publish(*orgs, branch)
    await settled(service, ledger, "140212")

    admin = service.as_region("14")
    refused = await service.client.post(
        "/v1/snapshots", headers=service.as_region("14", scopes=("coverage:write",))
    )
    assert refused.status_code == 403
    taken = await service.client.post("/v1/snapshots", headers=admin)
    assert taken.status_code == 201, taken.text
    day = taken.json()["taken_on"]

    more = [registered(n, full_members=1) for n in range(4, 8)]
    ledger.apply(*more)
    await stream.publish(*more)
    now = await settled(service, ledger, "140212")
    assert now["organization_coverage"]["in_scope"] == 8

    for _ in range(2):  # the same answer every time, whatever happened since
        history = await service.client.get(
            "/v1/coverage/140212/history", params={"from": day, "to": day}, headers=admin
        )
        assert history.status_code == 200, history.text
        points = history.json()["snapshots"]
        assert [p["date"] for p in points] == [day]
        assert points[0]["organization_coverage"] == {
            "covered": 1,
            "in_scope": 4,
            "rate": 0.25,
            "scope": "with_members",
        }
        assert points[0]["standalone_coverage"]["covered"] == 1
    backwards = await service.client.get(
        "/v1/coverage/140212/history",
        params={"from": "2026-12-01", "to": "2026-11-01"},
        headers=admin,
    )
    assert backwards.status_code == 422


async def test_a_cached_figure_changes_when_the_projection_applies_a_change(
    running: tuple[RunningService, ProducerStream],
) -> None:
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=3) for n in range(4)]
    ledger.apply(*orgs)
    await stream.publish(*orgs)
    before = await settled(service, ledger, "140212")
    assert before["organization_coverage"]["covered"] == 0
    again = await rates(service, "140212")  # answered from the cache, unchanged
    assert again == before
    key: tuple[Area, Scope, Scope] = (("140212", ""), "with_members", "all_managed")
    read = await live_read(service, ("140212", ""))
    cached = coverage_rates.cache.get(key, read)
    assert cached is not None

    # another region's batch moves the stream positions, not this region's version
    elsewhere: list[IntegrationEvent] = [registered(9, region_code="140211101001")]
    ledger.apply(*elsewhere)
    await stream.publish(*elsewhere)
    await settled(service, ledger, "140211")
    assert (await live_read(service, ("140212", ""))).version == read.version
    assert await rates(service, "140212") == before
    assert coverage_rates.cache.get(key, read) is cached

    change: list[IntegrationEvent] = [formed("b-own", "standalone", "org-1")]
    ledger.apply(*change)
    await stream.publish(*change)
    after = await settled(service, ledger, "140212")
    assert after["organization_coverage"]["covered"] == 1
    assert after["as_of"] > before["as_of"]
    assert (await live_read(service, ("140212", ""))).version != read.version
    async with CoverageUnitOfWork(service.runtime.db, readonly=True) as uow:
        stored = await coverage_rates.figures(uow, ("140212", ""))
    assert stored.organization.covered == 1


async def live_read(service: RunningService, area: Area) -> RegionRead:
    async with CoverageUnitOfWork(service.runtime.db, readonly=True) as uow:
        return await uow.rollups.live(area, local_today())


async def test_equal_versions_are_equal_figures_whatever_the_clock(
    running: tuple[RunningService, ProducerStream],
) -> None:
    """A region's version is its rows themselves: a change written with the same `updated_at`
    (a writer whose clock went back) and no stream position moved is still seen at once, in
    the figures and the breakdown, never answered from what was kept."""
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=3, staff_count=12 if n < 2 else 400) for n in range(4)]
    ledger.apply(*orgs)
    await stream.publish(*orgs)
    before = await settled(service, ledger, "140212")
    assert await rates(service, "140212") == before  # kept now
    read = await live_read(service, ("140212", ""))
    by_band = before["breakdown"]["size_band"]
    assert [by_band[b]["organization_coverage"]["in_scope"] for b in ("10-49", "300+")] == [2, 2]

    # move one organisation's counts from one size band's row to the other's, as a re-file
    # would, keeping the rows, every total and every timestamp as they were
    r = rollups.c
    of_region = (r.region_code == "140212") & (r.area_id == "")
    async with service.runtime.db.sessions() as session, session.begin():
        small = (
            (await session.execute(select(rollups).where(of_region, r.size_band == "10-49")))
            .mappings()
            .one()
        )
        one = {name: small[name] // 2 for name in COUNTERS}  # the two were counted alike
        for band, sign in (("10-49", -1), ("300+", 1)):
            await session.execute(
                update(rollups)
                .where(of_region, r.size_band == band)
                .values({name: r[name] + sign * one[name] for name in COUNTERS})
            )
    moved = await live_read(service, ("140212", ""))
    assert (moved.day, moved.as_of, len(moved.rows)) == (read.day, read.as_of, len(read.rows))
    assert moved.version != read.version

    after = await rates(service, "140212")
    assert pairs(after) == pairs(before)
    assert after["as_of"] == before["as_of"]
    by_band = after["breakdown"]["size_band"]
    assert [by_band[b]["organization_coverage"]["in_scope"] for b in ("10-49", "300+")] == [1, 3]


@SQLITE_ONLY
async def test_reads_do_not_wait_for_the_writer(
    running: tuple[RunningService, ProducerStream],
) -> None:
    """A GET runs on a WAL read snapshot: a write transaction held open on the store (as a
    worker process's batch holds it) neither delays it nor shows it its uncommitted rows."""
    service, stream = running
    ledger = Ledger()
    orgs = [registered(n, full_members=3) for n in range(3)]
    ledger.apply(*orgs)
    await stream.publish(*orgs)
    before = await settled(service, ledger, "140212")

    path = make_url(service.runtime.settings.resolved_database_url()).database
    assert path
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(f"UPDATE coverage_rollups SET {COUNTERS[0]} = {COUNTERS[0]} + 100")
        started = time.perf_counter()
        during = await rates(service, "140212")
        waited = time.perf_counter() - started
        assert during == before
        assert waited < 2  # a read behind the writer would wait out its busy timeout (30 s)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert await rates(service, "140212") == before


async def _terminate(db: Database, pid: int) -> None:
    """Have the server end backend `pid` (as a restart would), from a connection of another
    engine (disposed after)."""
    admin = Database(db.url, source="/pb/coverage-test")
    try:
        async with admin.sessions() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


@POSTGRESQL_ONLY
async def test_a_read_on_a_connection_cut_fails_once_then_reads_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The region's read goes straight to asyncpg (`read_one`): a connection the server cut
    (restarted) since its last use fails as SQLAlchemy's own would (OperationalError, which the
    API answers 503), is dropped, and the next read reconnects."""
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)  # handed out unchecked
    area = ("140212", "")

    async def read() -> RegionRead:
        async with CoverageUnitOfWork(db, readonly=True) as uow:
            return await uow.rollups.live(area, local_today())

    first = await read()
    async with db.read() as session:  # the pool's one connection
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await _terminate(db, pid)
    await asyncio.sleep(0.1)
    with pytest.raises(OperationalError):
        await read()
    assert await read() == first


async def test_a_region_without_rows_reads_as_the_head_alone(db: Database) -> None:
    """The live read joins the head to the region's rows: with none, the head comes once with
    the rows' columns NULL, read as no rows (not one row of NULLs)."""
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        read = await uow.rollups.live(("140212", ""), local_today())
    assert (read.day, read.as_of, read.rows, read.new_employment) == (None, None, (), (0,) * 5)


async def test_the_region_read_is_traced_inside_its_request(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    """The read runs beside SQLAlchemy (which traces the session's SQL): it has a span of its
    own, the SQL's, a child of the request's."""
    exporter = InMemorySpanExporter()
    url = await service_databases.url("coverage")
    settings = CoverageSettings(database_url=url, nats_url=private_nats.url)
    async with serve(definition(settings), span_exporter=exporter) as service:
        exporter.clear()
        response = await service.client.get("/v1/coverage/140212", headers=service.as_region("14"))
        assert response.status_code == 200
        spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.kind == SpanKind.SERVER]
    (read,) = [
        s for s in spans if "coverage_rollups" in str((s.attributes or {}).get("db.statement"))
    ]
    assert read.kind == SpanKind.CLIENT
    assert read.parent is not None
    assert read.parent.span_id == request.context.span_id
    assert (read.attributes or {})["db.system"] == make_url(url).get_backend_name()


@POSTGRESQL_ONLY
async def test_a_read_whose_server_shuts_it_down_midway_fails_once(db: Database) -> None:
    """A connection terminated while its statement runs (the server shutting down: asyncpg's
    AdminShutdownError, not a connection error) is dropped too, and answered 503 as a lost
    connection; the next read reconnects."""
    async with db.read() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()

    async def sleep_and_pid() -> list[tuple[Any, ...]]:
        async with CoverageUnitOfWork(db, readonly=True) as uow:
            sleeping = select(func.pg_sleep(5), func.pg_backend_pid())
            return await read_one(uow.session, sleeping, {})

    reading = asyncio.create_task(sleep_and_pid())
    await asyncio.sleep(0.5)
    await _terminate(db, pid)
    with pytest.raises(OperationalError):
        await reading
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        ((_, new_pid),) = await read_one(
            uow.session, select(func.pg_sleep(0), func.pg_backend_pid()), {}
        )
    assert new_pid != pid


@POSTGRESQL_ONLY
async def test_a_read_past_the_statement_timeout_answers_503_and_keeps_its_connection(
    db: Database,
) -> None:
    def sleeping(seconds: float) -> Any:
        return select(func.pg_sleep(seconds), func.pg_backend_pid())

    async with CoverageUnitOfWork(db, readonly=True) as uow:
        connection = await uow.session.connection()
        driver: Any = (await connection.get_raw_connection()).driver_connection
        await driver.execute("SET statement_timeout = 100")
        try:
            with pytest.raises(OperationalError):
                await read_one(uow.session, sleeping(2), {})
        finally:
            await driver.execute("RESET statement_timeout")
        ((_, pid),) = await read_one(uow.session, sleeping(0), {})
        assert not connection.invalidated
    async with CoverageUnitOfWork(db, readonly=True) as uow:
        ((_, again),) = await read_one(uow.session, sleeping(0), {})
    assert again == pid

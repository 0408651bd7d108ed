"""One event end to end: registry records an organisation, coverage applies it, over real NATS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from libs.common.tables import outbox
from libs.common.tracing import span_context_of
from services.coverage.app import definition as coverage_definition
from services.coverage.settings import CoverageSettings
from services.registry.app import definition as registry_definition
from services.registry.settings import RegistrySettings
from tests.factories import organization
from tests.harness import (
    SQLITE_ONLY,
    NatsServer,
    RunningService,
    ServiceDatabases,
    serve,
    wait_for,
)

REGION = "140212"


@asynccontextmanager
async def both_services(
    nats: NatsServer,
    registry_db: str,
    coverage_db: str,
    exporter: InMemorySpanExporter | None = None,
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    registry_settings = RegistrySettings(
        database_url=registry_db, nats_url=nats.url, outbox_poll_seconds=0.1
    )
    coverage_settings = CoverageSettings(database_url=coverage_db, nats_url=nats.url)
    async with (
        serve(registry_definition(registry_settings), span_exporter=exporter) as registry,
        serve(coverage_definition(coverage_settings), span_exporter=exporter) as coverage,
    ):
        await wait_for(registry.ready, timeout=15)
        await wait_for(coverage.ready, timeout=15)
        yield registry, coverage


async def databases(service_databases: ServiceDatabases) -> tuple[str, str]:
    """The registry's and coverage's databases, each a copy of its service's template."""
    return await service_databases.url("registry"), await service_databases.url("coverage")


async def projected(coverage: RunningService, organization_id: str) -> dict[str, Any] | None:
    response = await coverage.client.get(
        f"/v1/projection/organizations/{organization_id}", headers=coverage.as_region(REGION)
    )
    return response.json() if response.status_code == 200 else None


async def test_registered_organization_reaches_coverage(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    async with both_services(private_nats, *await databases(service_databases)) as (
        registry,
        coverage,
    ):
        created = await registry.client.post(
            "/v1/organizations", json=organization(1), headers=registry.as_region(REGION)
        )
        assert created.status_code == 201, created.text
        org = created.json()
        assert created.headers["Location"] == f"/v1/organizations/{org['id']}"

        facts = await wait_for(lambda: projected(coverage, org["id"]), timeout=15)
        assert facts["region_code"] == "140212101"
        assert facts["kind"] == "enterprise"
        assert facts["industry_code"] == "I6513"


async def test_event_written_while_nats_is_down_is_delivered_after_restart(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    async with both_services(private_nats, *await databases(service_databases)) as (
        registry,
        coverage,
    ):
        private_nats.stop()
        created = await registry.client.post(
            "/v1/organizations", json=organization(2), headers=registry.as_region(REGION)
        )
        assert created.status_code == 201, created.text
        assert (await registry.client.get("/readyz")).status_code == 503
        assert await projected(coverage, created.json()["id"]) is None

        private_nats.start()
        facts = await wait_for(lambda: projected(coverage, created.json()["id"]), timeout=30)
        assert facts["organization_id"] == created.json()["id"]


@SQLITE_ONLY
async def test_one_trace_from_request_through_relay_to_consumer(
    private_nats: NatsServer,
    service_databases: ServiceDatabases,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exporter = InMemorySpanExporter()
    async with both_services(private_nats, *await databases(service_databases), exporter) as (
        registry,
        coverage,
    ):
        capsys.readouterr()
        created = await registry.client.post(
            "/v1/organizations", json=organization(3), headers=registry.as_region(REGION)
        )
        assert created.status_code == 201
        await wait_for(lambda: projected(coverage, created.json()["id"]), timeout=15)

        async def announced() -> list[str]:  # the debounced rates.changed of the county
            statement = select(outbox.c.traceparent).where(
                outbox.c.type == "pb.coverage.rates.changed.v1"
            )
            async with coverage.runtime.db.read() as session:
                return [str(t) for t in (await session.execute(statement)).scalars()]

        causes = await wait_for(announced, timeout=15)

    spans = exporter.get_finished_spans()
    names = sorted({s.name for s in spans})

    def span(name: str) -> Any:
        found = [s for s in spans if s.name == name]
        assert found, f"no span {name!r} among {names}"
        return found[0]

    request = span("POST /v1/organizations")
    # one span per request: the ASGI messages of the exchange get none of their own
    assert not [n for n in names if n.endswith((" http send", " http receive"))], names
    publish = span("pb.registry.organization.registered.v1 publish")
    process = span("pb.registry.organization.registered.v1 process")
    trace_id = request.context.trace_id
    assert publish.context.trace_id == trace_id
    assert process.context.trace_id == trace_id
    assert process.resource.attributes["service.name"] == "pb-coverage"
    # the announcement of the changed rates continues the registry write's trace
    assert {span_context_of(t).trace_id for t in causes} == {trace_id}
    sql_in_consumer = [
        s for s in spans if s.parent is not None and s.parent.span_id == process.context.span_id
    ]
    assert sql_in_consumer, "the consumer's SQL should be traced under its process span"

    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    registered = [line for line in lines if line.get("event") == "organisation registered"]
    assert registered
    assert registered[0]["trace_id"] == format(trace_id, "032x")


@SQLITE_ONLY
async def test_bad_credit_code_is_a_problem_naming_the_field(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> None:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"), nats_url=nats_server.url
    )
    async with serve(registry_definition(settings)) as registry:
        bad = organization(4)
        bad["credit_code"] = bad["credit_code"][:-1] + (
            "0" if bad["credit_code"][-1] != "0" else "1"
        )
        response = await registry.client.post(
            "/v1/organizations", json=bad, headers=registry.as_region(REGION)
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 422
        assert [e["field"] for e in problem["errors"]] == ["credit_code"]
        assert "check character" in problem["errors"][0]["reason"]


@SQLITE_ONLY
async def test_idle_services_export_no_root_spans(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    """Polling outboxes and consumers make no traces; work does, with its SQL inside it."""
    exporter = InMemorySpanExporter()
    async with both_services(private_nats, *await databases(service_databases), exporter) as (
        registry,
        _,
    ):
        exporter.clear()  # what start-up did (migrations, stream set-up)
        await asyncio.sleep(3)  # ~30 outbox polls of the registry, ~15 fetches of each consumer
        idle = [
            (s.name, s.resource.attributes["service.name"]) for s in exporter.get_finished_spans()
        ]
        assert idle == []
        created = await registry.client.post(
            "/v1/organizations", json=organization(4), headers=registry.as_region(REGION)
        )
        assert created.status_code == 201
        spans = exporter.get_finished_spans()
    sql = [s for s in spans if s.attributes and "db.system" in s.attributes]
    assert sql, "the request's SQL is traced"
    assert all(s.parent is not None for s in sql), "SQL spans are children of the work's span"

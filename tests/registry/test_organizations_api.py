"""The registry's organisation endpoints over real HTTP: auth, region scope, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from libs.common.tables import outbox
from tests.factories import organization
from tests.harness import SQLITE_ONLY, RunningService


async def outbox_rows(service: RunningService) -> int:
    async with service.runtime.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())


@SQLITE_ONLY
async def test_no_token_is_401_problem(registry: RunningService) -> None:
    response = await registry.client.post("/v1/organizations", json=organization(10))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


@SQLITE_ONLY
async def test_a_token_without_the_scope_is_403(registry: RunningService) -> None:
    headers = registry.as_region("140212", scopes=("registry:read",))
    response = await registry.client.post(
        "/v1/organizations", json=organization(11), headers=headers
    )
    assert response.status_code == 403
    assert "registry:write" in response.json()["detail"]


async def test_writing_outside_the_region_is_403_and_reading_it_is_404(
    registry: RunningService,
) -> None:
    outside = await registry.client.post(
        "/v1/organizations", json=organization(12), headers=registry.as_region("140211")
    )
    assert outside.status_code == 403
    created = await registry.client.post(
        "/v1/organizations", json=organization(13), headers=registry.as_region("14")
    )
    assert created.status_code == 201
    org_id = created.json()["id"]
    assert created.json()["version"] == 1
    assert created.headers["etag"] == '"1"'
    seen = await registry.client.get(
        f"/v1/organizations/{org_id}", headers=registry.as_region("140212")
    )
    assert seen.status_code == 200
    hidden = await registry.client.get(
        f"/v1/organizations/{org_id}", headers=registry.as_region("140211")
    )
    assert hidden.status_code == 404


async def test_a_duplicate_credit_code_is_409_and_writes_nothing(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    first = await registry.client.post("/v1/organizations", json=organization(14), headers=headers)
    assert first.status_code == 201
    before = await outbox_rows(registry)
    again = await registry.client.post(
        "/v1/organizations", json=organization(14, name="另一个名字"), headers=headers
    )
    assert again.status_code == 409
    assert again.json()["existing_id"] == first.json()["id"]
    assert again.json()["errors"] == [{"field": "credit_code", "reason": "already registered"}]
    # the duplicate is the answer before anything else wrong with the body (an unknown park)
    misplaced = await registry.client.post(
        "/v1/organizations", json=organization(14, park_id="no-such-park"), headers=headers
    )
    assert misplaced.status_code == 409
    assert misplaced.json()["existing_id"] == first.json()["id"]
    assert await outbox_rows(registry) == before


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": "1402121"}, "region_code"),
        ({"kind": "company"}, "kind"),
        ({"staff_count": -1}, "staff_count"),
        ({"name": ""}, "name"),
        ({"unexpected": 1}, "unexpected"),
        ({"industry_code": "65"}, "industry_code"),
    ],
)
async def test_invalid_fields_are_named_in_the_problem(
    registry: RunningService, change: dict[str, object], field: str
) -> None:
    response = await registry.client.post(
        "/v1/organizations", json=organization(15, **change), headers=registry.as_region("14")
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await outbox_rows(registry) == 0


@SQLITE_ONLY
async def test_health_metrics_and_openapi_are_served(registry: RunningService) -> None:
    assert (await registry.client.get("/healthz")).json()["status"] == "ok"
    assert (await registry.client.get("/openapi.json")).json()["info"]["title"] == "Registry"
    await registry.client.post(
        "/v1/organizations", json=organization(16), headers=registry.as_region("14")
    )
    metrics = (await registry.client.get("/metrics")).text
    assert 'pb_http_requests_total{method="POST",route="/v1/organizations",status="201"}' in (
        metrics
    )
    assert "pb_outbox_backlog_events" in metrics
    assert "process_resident_memory_bytes" in metrics  # the process's own series
    assert "_created" not in metrics  # no creation-time twin of every series
    # FastAPI's own routes are counted by their path, not as "unmatched".
    assert 'route="/openapi.json",status="200"' in metrics
    await registry.client.get("/no/such/path")
    metrics = (await registry.client.get("/metrics")).text
    assert 'pb_http_requests_total{method="GET",route="unmatched",status="404"}' in metrics

"""Operators learned from the registry's events on real NATS: a station run by an organisation
or its union can be entered once the registry has announced them, not before, nor after they end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.registry.app import definition as registry_definition
from services.registry.settings import RegistrySettings
from tests.factories import organization
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.stations.helpers import REGION, station_body


@pytest.fixture
async def registry(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"), nats_url=nats_server.url
    )
    async with serve(registry_definition(settings)) as service:
        yield service


async def _enter(stations: RunningService, operator: dict[str, Any]) -> Any:
    return await stations.client.post(
        "/v1/stations",
        json=station_body(operator=operator),
        headers=stations.as_region(REGION),
    )


async def test_operators_follow_the_registry(
    registry: RunningService, stations: RunningService
) -> None:
    headers = registry.as_region(REGION)
    org = await registry.client.post("/v1/organizations", json=organization(901), headers=headers)
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    union = await registry.client.post(
        f"/v1/organizations/{org_id}/mass-organizations", json={"kind": "union"}, headers=headers
    )
    union_id = union.json()["id"]

    async def learned() -> bool:
        response = await _enter(stations, {"kind": "mass_organization", "id": union_id})
        return bool(response.status_code == 201)

    await wait_for(learned, timeout=20)
    by_org = await _enter(stations, {"kind": "organization", "id": org_id})
    assert by_org.status_code == 201, by_org.text
    assert by_org.json()["operator"] == {
        "kind": "organization",
        "id": org_id,
        "name": organization(901)["name"],
    }
    wrong_kind = await _enter(stations, {"kind": "mass_organization", "id": org_id})
    assert wrong_kind.json()["errors"][0]["field"] == "operator.id"

    gone = await registry.client.delete(
        f"/v1/organizations/{org_id}",
        params={"reason": "注销"},
        headers={**headers, "If-Match": "*"},
    )
    assert gone.status_code == 200, gone.text

    async def forgotten() -> bool:
        response = await _enter(stations, {"kind": "organization", "id": org_id})
        return bool(response.status_code == 422)

    await wait_for(forgotten, timeout=20)

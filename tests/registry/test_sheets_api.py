"""Hostile spreadsheets through the registry's real HTTP API (issue 12): a staff list over a
limit is a 422 on `file`, an import of one ends rejected with the reason, nothing is written, and
the process still answers afterwards (before, these files aborted it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.registry.app import definition
from services.registry.settings import RegistrySettings
from services.registry.store.tables import organizations
from tests.harness import SQLITE_ONLY, NatsServer, RunningService, ServiceDatabases, serve, wait_for
from tests.registry.imports_data import MARKET_HEADER, csv_bytes, market_row
from tests.registry.party_helpers import new_organization

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
COUNTY = "140212"


@pytest.fixture
async def registry(
    nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    """The registry with its sheet rows lowered to 1,000 (for the small long-sheet fixtures)."""
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=nats_server.url,
        sheet_max_rows=1000,
    )
    async with serve(definition(settings)) as service:
        yield service


async def still_answers(service: RunningService) -> None:
    await wait_for(service.ready)  # its broker link may still be connecting: the service is new
    listed = await service.client.get("/v1/organizations", headers=service.as_region(COUNTY))
    assert listed.status_code == 200


async def import_file(service: RunningService, name: str, data: bytes) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/imports",
        data={"source": "market_supervision"},
        files={"file": (name, data, "application/octet-stream")},
        headers=service.as_region(COUNTY),
    )
    assert response.status_code == 202, response.text

    async def finished() -> dict[str, Any] | None:
        polled = await service.client.get(
            response.headers["location"], headers=service.as_region(COUNTY)
        )
        assert polled.status_code == 200
        body: dict[str, Any] = polled.json()
        return body if body["status"] in ("done", "rejected", "failed") else None

    result: dict[str, Any] = await wait_for(finished, timeout=30)
    return result


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("fixture", "limit", "said"),
    [
        ("far-cell.xlsx", "sheet_max_rows", "reaches row 1,048,576"),
        ("z2000000.xlsx", "sheet_max_rows", "reaches row 2,000,000"),
        ("shared-strings-count.xlsx", "sheet_max_cells", "distinct texts"),
        ("many-rows.xlsx", "sheet_max_rows", "over the limit of 1,000 rows"),
        ("compression-bomb.xlsx", "sheet_max_compression_ratio", "100 to 1"),
        ("formula-broken-comment.xlsx", None, "workbook.xml is not valid XML"),
    ],
)
async def test_a_staff_list_over_a_limit_is_a_problem_on_file(
    registry: RunningService, fixture: str, limit: str | None, said: str
) -> None:
    org = await new_organization(registry, 401)
    response = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        files={"file": ("职工名册.xlsx", (HOSTILE / fixture).read_bytes(), "application/xlsx")},
        headers=registry.as_region(COUNTY),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["file"]
    assert said in problem["detail"]
    if limit is not None:
        assert problem["limit"] == limit
        assert problem["found"] > problem["max"]
    await still_answers(registry)


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("fixture", "said"),
    [
        ("far-cell.xlsx", "reaches row 1,048,576"),
        ("shared-strings-count.xlsx", "distinct texts"),
        ("hidden-twin.xlsx", "two sheets named"),
        ("formula-doctype.xlsx", "document type or entity declaration"),
        ("lying-sizes.xlsx", "unpacks to more than the 600 bytes it declares"),
        ("date-out-of-range.xlsx", "cannot be read (PanicException)"),
    ],
)
async def test_an_import_of_a_hostile_file_is_rejected_with_the_reason(
    registry: RunningService, fixture: str, said: str
) -> None:
    job = await import_file(registry, fixture, (HOSTILE / fixture).read_bytes())
    assert job["status"] == "rejected"
    assert said in job["reason"]
    async with registry.runtime.db.read() as session:
        stored = (await session.execute(select(func.count()).select_from(organizations))).scalar()
    assert stored == 0
    await still_answers(registry)
    # and the worker goes on with the next job
    good = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(1, 4)])
    assert (await import_file(registry, "good.csv", good))["status"] == "done"


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/organizations/{org}/staff-lists", "/member-rosters"])
async def test_a_people_file_over_the_size_limit_is_413_before_it_is_read(
    nats_server: NatsServer, service_databases: ServiceDatabases, path: str
) -> None:
    """A staff list or roster upload is judged by its declared length first, as an import is:
    an oversized one is never spooled to disk."""
    settings = RegistrySettings(
        database_url=await service_databases.url("registry"),
        nats_url=nats_server.url,
        import_max_bytes=1 << 16,
    )
    async with serve(definition(settings)) as service:
        org = await new_organization(service, 402)
        data = b"\xe5\xa7\x93\xe5\x90\x8d,\xe8\xba\xab\xe4\xbb\xbd\xe8\xaf\x81\n" + b"x," * 70_000
        response = await service.client.post(
            "/v1" + path.format(org=org["id"]),
            files={"file": ("名册.csv", data, "text/csv")},
            headers=service.as_region(COUNTY),
        )
        assert response.status_code == 413, response.text
        assert response.json()["max_bytes"] == 1 << 16
        await still_answers(service)

"""The load: CSV imports (POST /v1/imports) and API writes to the registry, kept going through
every fault.

A write whose answer was lost (the registry was killed mid-request, or its store cut) is
retried until an answer comes; retries are safe because every write can tell it was already
done: a credit code already filed answers 409 with the existing file, the same file imported
again answers 200 with the first job, a branch already formed shows in the organisation's file,
an update already applied shows in the file's value.

An API "unit" is four writes: file an organisation with 3 full members, form its own branch
(standalone), correct its staff count (registry), register a courier (stations). Imported rows
are new market-supervision registrations.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.registry.imports_data import MARKET_HEADER, credit_code, csv_bytes, market_row
from tools.chaos.cluster import Cluster

COUNTY = "140212"
TOWNSHIP = "140212101"
#: API organisations take credit codes from here on, imported rows below it.
API_CODES = 500_000_000
RETRY_SECONDS = 0.2
EVENTS_PER_UNIT = 6


class GaveUp(Exception):
    """A write that got no usable answer within the load's patience."""


@dataclass
class Tally:
    """What the load did and what it was told."""

    imported_rows: int = 0
    import_jobs: list[str] = field(default_factory=list)
    organizations: set[str] = field(default_factory=set)  # ids the registry answered with
    branches: set[str] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)  # "201", "409", "ConnectError", ...
    server_errors: list[str] = field(default_factory=list)  # the first few 5xx, described


class Registry:
    """The registry's API, as the load and the checks use it: retried until it answers."""

    def __init__(self, cluster: Cluster, tally: Tally, patience: float = 300.0) -> None:
        self.cluster = cluster
        self.tally = tally
        self.patience = patience
        self.client = httpx.AsyncClient(timeout=60, trust_env=False)
        self.headers = cluster.headers(COUNTY)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self, method: str, path: str, *, service: str = "registry", **kwargs: Any
    ) -> httpx.Response:
        """The first answer of the service that is not a 5xx or a broken connection."""
        deadline = time.monotonic() + self.patience
        headers = {**self.headers, **kwargs.pop("headers", {})}
        url = self.cluster.services[service].url
        while True:
            try:
                response = await self.client.request(method, url + path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                self.tally.answers[type(exc).__name__] += 1
            else:
                self.tally.answers[str(response.status_code)] += 1
                if response.status_code < 500:
                    return response
                if len(self.tally.server_errors) < 10:
                    self.tally.server_errors.append(
                        f"{method} {path} -> {response.status_code} {response.text[:300]}"
                    )
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {path}: no answer in {self.patience:.0f} s")
            await asyncio.sleep(RETRY_SECONDS)

    async def committee(self) -> str:
        response = await self.call(
            "POST",
            "/v1/committees",
            json={"kind": "two_new", "name": "新荣区两新工委（混沌测试）", "region_code": COUNTY},
        )
        if response.status_code != 201:
            raise GaveUp(f"committee: {response.status_code} {response.text}")
        return str(response.json()["id"])

    async def organization(self, n: int) -> dict[str, Any]:
        code = credit_code(API_CODES + n)
        body = {
            "credit_code": code,
            "name": f"大同市新荣区混沌测试{n}有限公司",
            "kind": "enterprise",
            "region_code": TOWNSHIP,
            "industry_code": "I6513",
            "staff_count": 20,
            "full_members": 3,
        }
        response = await self.call("POST", "/v1/organizations", json=body)
        if response.status_code == 409:  # filed by an earlier attempt whose answer was lost
            existing = response.json().get("existing_id")
            if not existing:
                raise GaveUp(f"409 without existing_id: {response.text}")
            response = await self.call("GET", f"/v1/organizations/{existing}")
        if response.status_code not in (200, 201):
            raise GaveUp(f"organisation {code}: {response.status_code} {response.text}")
        found: dict[str, Any] = response.json()
        self.tally.organizations.add(found["id"])
        return found

    async def own_branch(self, committee: str, organization_id: str) -> str:
        body = {
            "kind": "standalone",
            "name": "混沌测试党支部",
            "parent_id": committee,
            "organization_ids": [organization_id],
        }
        response = await self.call("POST", "/v1/branches", json=body)
        if response.status_code != 201:  # formed by an earlier attempt whose answer was lost?
            file = await self.call("GET", f"/v1/organizations/{organization_id}")
            branch = file.json().get("branch_id")
            if not branch:
                raise GaveUp(
                    f"branch for {organization_id}: {response.status_code} {response.text}"
                )
            self.tally.branches.add(str(branch))
            return str(branch)
        branch_id = str(response.json()["id"])
        self.tally.branches.add(branch_id)
        return branch_id

    async def staff_count(self, organization_id: str, count: int) -> None:
        while True:
            file = await self.call("GET", f"/v1/organizations/{organization_id}")
            if file.json().get("staff_count") == count:
                return  # applied by an attempt whose answer was lost
            response = await self.call(
                "PATCH",
                f"/v1/organizations/{organization_id}",
                json={"staff_count": count},
                headers={"If-Match": file.headers["etag"]},
            )
            if response.status_code == 200:
                return
            if response.status_code != 412:
                raise GaveUp(f"staff count: {response.status_code} {response.text}")

    async def worker(self, n: int) -> None:
        """A courier registers with stations (its phone is a made-up number, unique per `n`)."""
        body = {
            "name": "张测试",
            "phone": f"139{n:08d}",
            "region_code": TOWNSHIP,
            "platform": "顺丰",
            "occupation": "courier",
        }
        response = await self.call("POST", "/v1/workers", json=body, service="stations")
        if response.status_code == 409:  # registered by an attempt whose answer was lost
            worker_id = response.json().get("worker_id")
        elif response.status_code == 201:
            worker_id = response.json()["id"]
        else:
            raise GaveUp(f"worker: {response.status_code} {response.text}")
        self.tally.workers.add(str(worker_id))

    async def unit(self, committee: str, n: int) -> None:
        organization = await self.organization(n)
        await self.own_branch(committee, organization["id"])
        await self.staff_count(organization["id"], 21 + n % 50)
        await self.worker(n)

    async def submit_import(self, first: int, rows: int) -> str:
        data = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(first, first + rows)])
        response = await self.call(
            "POST",
            "/v1/imports",
            data={"source": "market_supervision"},
            files={"file": (f"chaos-{first}.csv", data, "text/csv")},
        )
        if response.status_code not in (200, 202):
            raise GaveUp(f"import: {response.status_code} {response.text}")
        job = str(response.json()["id"])
        self.tally.import_jobs.append(job)
        self.tally.imported_rows += rows
        return job

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.call("GET", f"/v1/imports/{job_id}")
        body: dict[str, Any] = response.json()
        return body

    async def wait_job(self, job_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = await self.job(job_id)
            if body["status"] in ("done", "rejected", "failed"):
                return body
            if time.monotonic() > deadline:
                raise GaveUp(f"import {job_id} still {body['status']} after {timeout:.0f} s")
            await asyncio.sleep(0.2)


@dataclass
class Segment:
    """A slice of the load: `rows` imported in one file and `units` API units by `writers`."""

    first_row: int
    rows: int
    first_unit: int
    units: int


async def api_writes(
    registry: Registry, committee: str, segment: Segment, writers: int = 4
) -> None:
    queue = iter(range(segment.first_unit, segment.first_unit + segment.units))

    async def writer() -> None:
        for n in queue:
            await registry.unit(committee, n)

    await asyncio.gather(*(writer() for _ in range(writers)))


def plan(events: int, segments: int, import_share: float = 0.8) -> list[Segment]:
    """Split `events` into segments: imported rows (one event each) and API units (six events
    each: organisation registered, branch eligible (3 full members), branch formed, organisation
    covered, staff count updated, and a worker registered with stations)."""
    rows = int(events * import_share)
    units = max(segments, (events - rows) // EVENTS_PER_UNIT)
    planned: list[Segment] = []
    for i in range(segments):
        r0, r1 = rows * i // segments, rows * (i + 1) // segments
        u0, u1 = units * i // segments, units * (i + 1) // segments
        planned.append(Segment(r0, r1 - r0, u0, u1 - u0))
    return planned

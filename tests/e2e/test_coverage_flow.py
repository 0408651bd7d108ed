"""Coverage follows the registry over real NATS: what offices do through the registry's API shows
in the rates within a second, and the figures are the counts computed from the registry's data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.coverage.domain.rates import rate
from tests import pages
from tests.e2e.test_skeleton_flow import both_services, databases
from tests.factories import organization
from tests.harness import NatsServer, RunningService, ServiceDatabases, wait_for

COUNTY = "140212"
TOWNSHIPS = ("140212101", "140212102")  # 古店镇, 花园屯镇


@dataclass
class Figures:
    """Organisation (with_members), standalone and work (all_managed) coverage of a region."""

    covered: int
    standalone: int
    with_members: int
    work_covered: int
    managed: int

    def as_reported(self) -> dict[str, Any]:
        return {
            "organization": (self.covered, self.with_members),
            "standalone": (self.standalone, self.with_members),
            "work": (self.work_covered, self.managed),
            "rates": (
                rate(self.covered, self.with_members),
                rate(self.standalone, self.with_members),
                rate(self.work_covered, self.managed),
            ),
        }


async def registry_figures(registry: RunningService, region: str, instructed: set[str]) -> Figures:
    """The two rates counted from the registry's own data, read through its API (`instructed`:
    organisations an instructor was assigned to; the API lists assignments per instructor)."""
    headers = registry.as_region(COUNTY)
    organizations = await pages.walk(
        registry.client, "/v1/organizations", headers, region_code=region, limit=500
    )
    work = 0
    for org in organizations:
        masses = await registry.client.get(
            f"/v1/organizations/{org['id']}/mass-organizations", headers=headers
        )
        has_mass = any(m["active"] for m in masses.json()["items"])
        if org["covered"] or has_mass or org["id"] in instructed:
            work += 1
    with_members = [o for o in organizations if o["full_members"] + o["probationary_members"] > 0]
    return Figures(
        covered=sum(o["covered"] for o in with_members),
        standalone=sum(o["branch_kind"] == "standalone" for o in with_members),
        with_members=len(with_members),
        work_covered=work,
        managed=len(organizations),
    )


async def coverage_of(coverage: RunningService, region: str) -> dict[str, Any]:
    response = await coverage.client.get(
        f"/v1/coverage/{region}", headers=coverage.as_region(COUNTY)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def reported(body: dict[str, Any]) -> dict[str, Any]:
    org, alone, work = (
        body["organization_coverage"],
        body["standalone_coverage"],
        body["work_coverage"],
    )
    return {
        "organization": (org["covered"], org["in_scope"]),
        "standalone": (alone["covered"], alone["in_scope"]),
        "work": (work["covered"], work["in_scope"]),
        "rates": (org["rate"], alone["rate"], work["rate"]),
    }


#: 未建党组织原因 as an office records it.
WHY = "正式党员不足3名，拟纳入联合党支部"


async def matches(coverage: RunningService, region: str, expected: Figures) -> bool:
    return reported(await coverage_of(coverage, region)) == expected.as_reported()


async def register(registry: RunningService, n: int, township: str, **fields: Any) -> str:
    response = await registry.client.post(
        "/v1/organizations",
        json=organization(n, region_code=township, **fields),
        headers=registry.as_region(COUNTY),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post(registry: RunningService, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await registry.client.post(path, json=body, headers=registry.as_region(COUNTY))
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_coverage_follows_the_registry(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    instructed: set[str] = set()
    async with both_services(private_nats, *await databases(service_databases)) as (
        registry,
        coverage,
    ):
        a, b = TOWNSHIPS
        standalone = await register(registry, 801, a, full_members=3)
        joint = [await register(registry, 802 + i, a, full_members=1) for i in range(3)]
        few = await register(registry, 805, a, full_members=2, no_branch_reason=WHY)  # too few
        probationers = await register(registry, 806, b, probationary_members=1)  # not covered
        guided = await register(registry, 807, b)
        unionised = await register(registry, 808, b)
        await register(registry, 809, b)  # no members, no Party work

        committee = await post(
            registry,
            "/v1/committees",
            {"kind": "township", "name": "古店镇综合党委", "region_code": a},
        )
        await post(
            registry,
            "/v1/branches",
            {
                "kind": "standalone",
                "name": "甲公司党支部",
                "parent_id": committee["id"],
                "organization_ids": [standalone],
            },
        )
        joint_branch = await post(
            registry,
            "/v1/branches",
            {
                "kind": "joint",
                "name": "古店镇联合党支部",
                "parent_id": committee["id"],
                "organization_ids": joint,
            },
        )
        instructor = await post(
            registry, "/v1/instructors", {"name": "王建国", "region_code": COUNTY}
        )
        await post(
            registry,
            f"/v1/instructors/{instructor['id']}/assignments",
            {"organization_id": guided, "starts_on": "2026-11-01"},
        )
        instructed.add(guided)
        await post(registry, f"/v1/organizations/{unionised}/mass-organizations", {"kind": "union"})

        county = await registry_figures(registry, COUNTY, instructed)
        # The scenario above, as the registry itself reports it.
        assert (county.covered, county.standalone, county.with_members) == (4, 1, 6)
        assert (county.work_covered, county.managed) == (6, 9)
        await wait_for(lambda: matches(coverage, COUNTY, county), timeout=10)
        for township in TOWNSHIPS:
            expected = await registry_figures(registry, township, instructed)
            assert await matches(coverage, township, expected)
        body = await coverage_of(coverage, COUNTY)
        gaps = await coverage.client.get(
            f"/v1/coverage/{COUNTY}/gaps", headers=coverage.as_region(COUNTY)
        )
        recorded = {g["organization_id"]: g["no_branch_reason"] for g in gaps.json()["items"]}
        assert (recorded[few], recorded[probationers]) == (WHY, None)  # as the office wrote it
        assert body["organization_coverage"]["scope"] == "with_members"
        assert body["work_coverage"]["scope"] == "all_managed"

        # A new organisation shows within a second of the registry's answer.
        await register(registry, 810, a, full_members=1)
        started = time.monotonic()

        async def counted() -> bool:
            figures = (await coverage_of(coverage, COUNTY))["work_coverage"]
            return bool(figures["in_scope"] == county.managed + 1)

        await wait_for(counted, timeout=1.0)
        assert time.monotonic() - started < 1.0
        grown = await registry_figures(registry, COUNTY, instructed)
        assert await matches(coverage, COUNTY, grown)

        # Dissolving the joint branch lowers both rates, to what the registry now says.
        await post(
            registry,
            f"/v1/branches/{joint_branch['id']}/dissolve",
            {"reason": "成员单位注销"},
        )
        lowered = await registry_figures(registry, COUNTY, instructed)
        assert lowered.covered == grown.covered - 3
        await wait_for(lambda: matches(coverage, COUNTY, lowered), timeout=5)
        after = reported(await coverage_of(coverage, COUNTY))
        before = grown.as_reported()
        assert after["rates"][0] < before["rates"][0]  # organisation coverage
        assert after["rates"][2] < before["rates"][2]  # work coverage

"""Coverage as of a date, end to end: the registry and coverage served on real NATS; a county whose
branches, assignments and mass organisations start and end on given dates; the figures on three
days (before, between, after) equal what this test counts by hand from the schedule, live as the
day worker moves on, and after a rebuild from the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from libs.common.calendar import local_today
from services.coverage.app import definition as coverage_definition
from services.coverage.rebuild import rebuild
from services.coverage.settings import CoverageSettings
from services.registry.app import definition as registry_definition
from services.registry.settings import RegistrySettings
from tests.e2e.test_skeleton_flow import databases
from tests.factories import organization
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for

COUNTY = "140212"
TOWN_A, TOWN_B = "140212101", "140212102"


@dataclass(frozen=True)
class Reach:
    """Something that reaches an organisation between two days (inclusive; None: open)."""

    what: str  # standalone, joint, temporary, instructor, union
    starts_on: date
    last_day: date | None = None


@dataclass(frozen=True)
class Planned:
    township: str
    full_members: int = 0
    probationary_members: int = 0
    reaches: tuple[Reach, ...] = ()


def schedule(today: date) -> dict[str, Planned]:
    """The county: nine organisations, what reaches each and when."""
    later, end = today + timedelta(days=5), today + timedelta(days=15)
    return {
        "own": Planned(TOWN_A, 3, reaches=(Reach("standalone", later),)),
        **{f"joint{i}": Planned(TOWN_A, 1, reaches=(Reach("joint", today),)) for i in range(3)},
        "site": Planned(TOWN_B, 1, reaches=(Reach("temporary", today, end),)),
        "guided_for_a_while": Planned(TOWN_B, reaches=(Reach("instructor", later, end),)),
        "guided": Planned(TOWN_B, 0, 1, reaches=(Reach("instructor", today),)),
        "unionised_later": Planned(TOWN_B, reaches=(Reach("union", later),)),
        "alone": Planned(TOWN_B),
    }


def by_hand(planned: dict[str, Planned], day: date) -> dict[str, tuple[int, int]]:
    """DOMAIN.md's rules counted directly: organisation coverage is an own or joint branch (over
    organisations with members); a temporary one is its own figure; work coverage is any Party
    organisation, instructor or mass organisation (over all); each only between its dates."""

    def reached(p: Planned) -> set[str]:
        return {
            r.what
            for r in p.reaches
            if r.starts_on <= day and (r.last_day is None or day <= r.last_day)
        }

    members = [p for p in planned.values() if p.full_members + p.probationary_members]
    organisation = sum(bool(reached(p) & {"standalone", "joint"}) for p in members)
    temporary = sum(reached(p) == {"temporary"} for p in members)
    return {
        "organization": (organisation, len(members)),
        "standalone": (sum("standalone" in reached(p) for p in members), len(members)),
        "work": (sum(bool(reached(p)) for p in planned.values()), len(planned)),
        "temporary": (temporary, len(members)),
    }


def figures(body: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {
        name: (body[f"{name}_coverage"]["covered"], body[f"{name}_coverage"]["in_scope"])
        for name in ("organization", "standalone", "work", "temporary")
    }


async def post(registry: RunningService, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await registry.client.post(path, json=body, headers=registry.as_region(COUNTY))
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def record(registry: RunningService, planned: dict[str, Planned]) -> None:
    """The schedule entered through the registry's API, as an office would."""
    ids: dict[str, str] = {}
    for n, (name, p) in enumerate(planned.items()):
        body = organization(
            900 + n,
            region_code=p.township,
            full_members=p.full_members,
            probationary_members=p.probationary_members,
        )
        ids[name] = (await post(registry, "/v1/organizations", body))["id"]
    committee = await post(
        registry, "/v1/committees", {"kind": "township", "name": "综合党委", "region_code": COUNTY}
    )
    instructor = await post(registry, "/v1/instructors", {"name": "李指导", "region_code": COUNTY})
    joint = [
        ids[name] for name, p in planned.items() if p.reaches[:1] and p.reaches[0].what == "joint"
    ]
    await post(
        registry,
        "/v1/branches",
        {
            "kind": "joint",
            "name": "联合党支部",
            "parent_id": committee["id"],
            "organization_ids": joint,
            "formed_on": planned["joint0"].reaches[0].starts_on.isoformat(),
        },
    )
    for name, p in planned.items():
        for r in p.reaches:
            if r.what in ("standalone", "temporary"):
                await post(
                    registry,
                    "/v1/branches",
                    {
                        "kind": r.what,
                        "name": f"{name} 党支部",
                        "parent_id": committee["id"],
                        "organization_ids": [ids[name]],
                        "formed_on": r.starts_on.isoformat(),
                        "ends_on": r.last_day.isoformat() if r.last_day else None,
                    },
                )
            elif r.what == "instructor":
                await post(
                    registry,
                    f"/v1/instructors/{instructor['id']}/assignments",
                    {
                        "organization_id": ids[name],
                        "starts_on": r.starts_on.isoformat(),
                        "ends_on": r.last_day.isoformat() if r.last_day else None,
                    },
                )
            elif r.what == "union":
                await post(
                    registry,
                    f"/v1/organizations/{ids[name]}/mass-organizations",
                    {"kind": "union", "established_on": r.starts_on.isoformat()},
                )


@asynccontextmanager
async def coverage_on(nats: NatsServer, url: str, day: date) -> AsyncIterator[RunningService]:
    """The coverage service with the offices' day fixed to `day`."""
    settings = CoverageSettings(database_url=url, nats_url=nats.url, calendar_day=day)
    async with serve(coverage_definition(settings)) as coverage:
        yield coverage


async def settles_on(coverage: RunningService, expected: dict[str, tuple[int, int]]) -> None:
    last: dict[str, tuple[int, int]] = {}

    async def equal() -> bool:
        nonlocal last
        response = await coverage.client.get(
            f"/v1/coverage/{COUNTY}", headers=coverage.as_region(COUNTY)
        )
        last = figures(response.json())
        return last == expected

    try:
        await wait_for(equal, timeout=20)
    except AssertionError:
        raise AssertionError(f"{last} != {expected}") from None


async def test_figures_on_three_days_live_and_after_a_rebuild(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    registry_url, coverage_url = await databases(service_databases)
    today = local_today()
    planned = schedule(today)
    days = [today, today + timedelta(days=10), today + timedelta(days=20)]
    expected = [by_hand(planned, day) for day in days]
    # The schedule, counted by a person: before, between, after.
    assert expected[0] == {
        "organization": (3, 6),
        "standalone": (0, 6),
        "work": (5, 9),
        "temporary": (1, 6),
    }
    assert expected[1] == {
        "organization": (4, 6),
        "standalone": (1, 6),
        "work": (8, 9),
        "temporary": (1, 6),
    }
    assert expected[2] == {
        "organization": (4, 6),
        "standalone": (1, 6),
        "work": (6, 9),
        "temporary": (0, 6),
    }

    registry_settings = RegistrySettings(
        database_url=registry_url, nats_url=private_nats.url, outbox_poll_seconds=0.1
    )
    async with serve(registry_definition(registry_settings)) as registry:
        async with coverage_on(private_nats, coverage_url, days[0]) as coverage:
            await record(registry, planned)
            await settles_on(coverage, expected[0])
        # the day worker moves the projection on as each day comes
        for day, figures_then in zip(days[1:], expected[1:], strict=True):
            async with coverage_on(private_nats, coverage_url, day) as coverage:
                await settles_on(coverage, figures_then)

    # Rebuilt from the stream, the projection says the same on each day.
    settings = CoverageSettings(
        database_url=coverage_url, nats_url=private_nats.url, calendar_day=days[-1]
    )
    report = await rebuild(settings, batch_size=7, progress=lambda _: None)
    assert report.applied > len(planned)
    for day, figures_then in zip(reversed(days), reversed(expected), strict=True):
        async with coverage_on(private_nats, coverage_url, day) as coverage:
            await settles_on(coverage, figures_then)

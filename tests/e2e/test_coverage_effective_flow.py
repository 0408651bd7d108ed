"""Effective coverage end to end: the registry, the training service and coverage served on real
NATS, each with its own database. Two branches formed in the registry get their calendars in
training; one holds its third-quarter meetings, the other does not; training's daily judgement
lapses the missed periods and coverage counts only the kept branch as effective; the missed
meetings recorded late (held inside their periods) restore it."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.coverage.app import definition as coverage_definition
from services.coverage.settings import CoverageSettings
from services.registry.app import definition as registry_definition
from services.registry.settings import RegistrySettings
from services.training.app import definition as training_definition
from services.training.settings import TrainingSettings
from services.training.workers import RoutineJudge
from tests.e2e.test_coverage_dates import post
from tests.factories import TOWNSHIP, organization
from tests.harness import NatsServer, RunningService, ServiceDatabases, serve, wait_for

COUNTY = TOWNSHIP[:6]
FORMED_ON = date(2026, 4, 1)
DAY = date(2026, 11, 30)  # coverage's day: the last full quarter is July to September 2026
#: What a standalone branch owes in the third quarter (docs/training.md): a members' meeting and
#: a Party lecture in the quarter, a themed day each month.
Q3_MEETINGS = [
    ("members_meeting", "2026-09-10"),
    ("party_lecture", "2026-09-10"),
    ("theme_day", "2026-07-10"),
    ("theme_day", "2026-08-10"),
    ("theme_day", "2026-09-10"),
]


async def meeting(training: RunningService, branch_id: str, kind: str, held_on: str) -> None:
    body = {"type": kind, "held_on": held_on, "topic": "学习党章", "entitled": 5, "present": 4}
    response = await training.client.post(
        f"/v1/branches/{branch_id}/meetings", json=body, headers=training.as_region(COUNTY)
    )
    assert response.status_code == 201, response.text


async def effective(coverage: RunningService) -> tuple[int, int, int]:
    response = await coverage.client.get(
        f"/v1/coverage/{COUNTY}", headers=coverage.as_region(COUNTY)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    figure = body["effective_coverage"]
    return figure["covered"], body["organization_coverage"]["covered"], figure["in_scope"]


async def becomes(coverage: RunningService, expected: tuple[int, int, int]) -> None:
    last: tuple[int, int, int] | None = None

    async def equal() -> bool:
        nonlocal last
        last = await effective(coverage)
        return last == expected

    try:
        await wait_for(equal, timeout=30)
    except AssertionError:
        raise AssertionError(f"{last} != {expected}") from None


async def test_a_missed_quarter_lowers_effective_coverage_and_late_meetings_restore_it(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    urls = {s: await service_databases.url(s) for s in ("registry", "training", "coverage")}
    common: dict[str, Any] = {"nats_url": private_nats.url, "outbox_poll_seconds": 0.1}
    async with (
        serve(
            registry_definition(RegistrySettings(database_url=urls["registry"], **common))
        ) as registry,
        serve(
            training_definition(
                TrainingSettings(
                    database_url=urls["training"], routine_check_seconds=3600, **common
                )
            )
        ) as training,
        serve(
            coverage_definition(
                CoverageSettings(database_url=urls["coverage"], calendar_day=DAY, **common)
            )
        ) as coverage,
    ):
        committee = await post(
            registry,
            "/v1/committees",
            {"kind": "township", "name": "综合党委", "region_code": COUNTY},
        )
        branches: dict[str, str] = {}
        for n, name in enumerate(("kept", "lapsed")):
            org = await post(registry, "/v1/organizations", organization(950 + n, full_members=3))
            branch = await post(
                registry,
                "/v1/branches",
                {
                    "kind": "standalone",
                    "name": f"{name} 党支部",
                    "parent_id": committee["id"],
                    "organization_ids": [org["id"]],
                    "formed_on": FORMED_ON.isoformat(),
                },
            )
            branches[name] = branch["id"]

        async def calendars() -> bool:
            for branch_id in branches.values():
                response = await training.client.get(
                    f"/v1/branches/{branch_id}/routine", headers=training.as_region(COUNTY)
                )
                if response.status_code != 200:
                    return False
            return True

        await wait_for(calendars, timeout=20)  # the registry's branches reached training
        for kind, held_on in Q3_MEETINGS:
            await meeting(training, branches["kept"], kind, held_on)
        judge = training.runtime.workers[0]
        assert isinstance(judge, RoutineJudge)
        await judge.run_once(DAY)
        # both covered; only the branch that kept its third quarter is effective
        await becomes(coverage, (1, 2, 2))

        # the lapsed branch's meetings were held, and are recorded late: met after all
        for kind, held_on in Q3_MEETINGS:
            await meeting(training, branches["lapsed"], kind, held_on)
        await becomes(coverage, (2, 2, 2))

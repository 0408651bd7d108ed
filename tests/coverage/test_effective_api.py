"""Effective coverage (有效覆盖) through the API on real NATS and both stores: registry events on
PB_REGISTRY, training's routine judgements on PB_TRAINING, the figure out, equal to what the
test works out by hand from the rule (covered, and the branch has no unmet lapse of a period
inside the last full quarter before the day)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update

from libs.common.events import IntegrationEvent
from services.coverage.store.tables import snapshots
from tests.coverage.feed import ProducerStream, formed, registered
from tests.coverage.test_rates_api import coverage_service, rates
from tests.coverage.training_feed import lapsed, restored
from tests.factories import outbox_data
from tests.harness import NatsServer, RunningService, wait_for

D = date(2026, 11, 30)  # the last full quarter: July to September 2026
NEXT = date(2027, 1, 5)  # the last full quarter: October to December 2026


def county() -> list[IntegrationEvent]:
    """Six organisations with a full member each; five covered by four branches."""
    return [
        *(registered(n, full_members=1) for n in range(6)),
        formed("b-a", "standalone", "org-0", formed_on=date(2026, 1, 10)),
        formed("b-b", "joint", "org-1", "org-2", formed_on=date(2026, 1, 10)),
        formed("b-c", "standalone", "org-3", formed_on=date(2026, 8, 15)),  # during the quarter
        formed("b-d", "standalone", "org-4", formed_on=date(2026, 2, 1)),
    ]


B_A_AUGUST = lapsed("b-a", "2026-08", "org-0")
B_B_Q3 = lapsed("b-b", "2026-Q3", "org-1", "org-2")
B_D_SEPTEMBER = lapsed("b-d", "2026-09", "org-4")


def judgements() -> list[IntegrationEvent]:
    return [
        B_A_AUGUST,  # unmet: org-0 is not effective
        lapsed("b-a", "2026-10", "org-0"),  # the current quarter: not judged yet
        B_B_Q3,
        restored(B_B_Q3, date(2026, 9, 20), period_met=True),  # recorded late: met after all
        B_D_SEPTEMBER,
        restored(B_D_SEPTEMBER, date(2026, 10, 8), period_met=False),  # held later: still missed
    ]


async def effective_becomes(
    service: RunningService, expected: tuple[int, int, int]
) -> dict[str, Any]:
    """Wait until (effective covered, organisation covered, in scope) are `expected`."""
    last: dict[str, Any] = {}

    async def matches() -> bool:
        nonlocal last
        last = await rates(service, "140212")
        figure = last["effective_coverage"]
        found = (figure["covered"], last["organization_coverage"]["covered"], figure["in_scope"])
        return found == expected

    try:
        await wait_for(matches, timeout=20)
    except AssertionError:
        raise AssertionError(f"{last.get('effective_coverage')} != {expected}") from None
    return last


async def test_lapsed_routines_lower_effective_coverage_until_met_and_quarters_flip(
    private_nats: NatsServer, database_url: str
) -> None:
    async with (
        coverage_service(
            private_nats, database_url, calendar_day=D, rates_changed_window_seconds=0.2
        ) as (service, registry),
        ProducerStream.on(private_nats.url, "training") as training,
    ):
        # training's judgements may come before the registry's branches: order does not matter
        await training.publish(*judgements())
        await registry.publish(*county())
        # effective: org-1, org-2 (restored, met), org-3 (formed in the quarter, owed nothing
        # unmet); not org-0 (August lapsed) nor org-4 (September restored only later)
        body = await effective_becomes(service, (3, 5, 6))
        assert body["effective_coverage"]["rate"] == 0.5
        assert body["effective"] == body["effective_coverage"]
        assert body["breakdown"]["kind"]["enterprise"]["effective_coverage"]["covered"] == 3
        table = await service.client.get(
            "/v1/coverage/140212/subregions",
            params={"sort": "-effective_rate"},
            headers=service.as_region("14"),
        )
        assert table.status_code == 200, table.text
        [township] = table.json()["rows"]
        assert township["region_code"] == "140212101"
        assert township["effective_coverage"] == body["effective_coverage"]

        # the same events again change nothing (idempotent)
        await training.publish_envelopes(training.sent, msg_id_suffix="-again")
        # a lapse in the current quarter (not yet a full one) changes nothing now; then b-a's
        # August meeting recorded late: met after all (applied in stream order, so once the
        # figure moves the December lapse has been applied too, and did not count)
        await training.publish(lapsed("b-b", "2026-12", "org-1", "org-2"))
        await training.publish(restored(B_A_AUGUST, date(2026, 8, 28), period_met=True))
        await effective_becomes(service, (4, 5, 6))

        async def announced() -> bool:
            found = await outbox_data(service.runtime, "pb.coverage.rates.changed.v1")
            county = [e for e in found if e["region_code"] == "140212" and not e["area_id"]]
            return bool(county) and (
                county[-1]["effective_covered"],
                county[-1]["effective_rate"],
            ) == (4, 0.6667)

        await wait_for(announced, timeout=10)
        taken = await service.client.post("/v1/snapshots", headers=service.as_region("14"))
        assert taken.status_code in (200, 201), taken.text

    # The next quarter: October-December is the last full one. b-a lapsed in October and b-b in
    # December; b-d's September lapse is no longer in it; b-c kept it.
    async with coverage_service(private_nats, database_url, calendar_day=NEXT) as (service, _):
        body = await effective_becomes(service, (2, 5, 6))
        assert body["day"] == NEXT.isoformat()
        # D's snapshot kept D's effective coverage; a snapshot from before it was counted
        # answers null, not 0
        past = await rates(service, "140212", as_of=D.isoformat())
        assert past["source"] == "snapshot"
        assert (past["effective_coverage"]["covered"], past["effective_coverage"]["rate"]) == (
            4,
            round(4 / 6, 4),
        )
        async with service.runtime.db.unit_of_work() as uow:
            await uow.session.execute(
                update(snapshots).where(snapshots.c.taken_on == D).values(effective_measured=None)
            )
        history = await service.client.get(
            "/v1/coverage/140212/history",
            params={"from": D.isoformat(), "to": NEXT.isoformat()},
            headers=service.as_region("14"),
        )
        assert [p["effective_coverage"] for p in history.json()["snapshots"]][:1] == [None]
        assert (await rates(service, "140212", as_of=D.isoformat()))["effective"] is None

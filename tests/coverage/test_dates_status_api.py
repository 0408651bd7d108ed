"""Coverage as of a date, temporary branches, operating status and unknown 三有, through the API on
real NATS and both stores: registry events in, figures out, equal to what the test works out by
hand from DOMAIN.md's rules."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from libs.common.divisions import name_of
from libs.common.events import IntegrationEvent
from tests.coverage.feed import (
    Ledger,
    assigned,
    deregistered,
    dissolved,
    formed,
    reactivated,
    registered,
    union_dissolved,
    union_set_up,
    updated,
)
from tests.coverage.test_rates_api import coverage_service, pairs, rates, settled
from tests.factories import outbox_data
from tests.harness import NatsServer, RunningService, wait_for

D = date(2026, 12, 10)


def dated_county() -> list[IntegrationEvent]:
    """Eight organisations with one full member each, and what reaches them, with dates."""
    day = timedelta(days=1)
    future_own = formed("b-own", "standalone", "org-0", formed_on=D + day)
    joint = formed("b-joint", "joint", "org-2", "org-3", formed_on=D - 5 * day)
    return [
        *(registered(n, full_members=1) for n in range(8)),
        future_own,
        formed("b-temp", "temporary", "org-1", formed_on=D - 10 * day, ends_on=D + day),
        joint,
        dissolved(joint, dissolved_on=D + day),  # recorded now, effective tomorrow
        assigned("a-next", "org-4", starts_on=D + day),
        assigned("a-ending", "org-5", starts_on=D - 30 * day, ends_on=D),
        union_set_up("u1", "org-6", established_on=D - day),
        union_dissolved("u1", "org-6", dissolved_on=D + 2 * day),
    ]


#: (covered, in_scope) worked out by hand for each day (eight organisations in scope):
#: D: the joint branch (org-2, org-3) covers; the temporary one (org-1) is its own figure; work
#:    is org-1, org-2, org-3 (branches), org-5 (instructor until D), org-6 (union).
#: D+1: the standalone branch (org-0) is formed, the joint one dissolved; the temporary one's last
#:    day; org-4's instructor starts, org-5's ended.
#: D+2 and after: the temporary branch and the union have ended.
EXPECTED: dict[int, dict[str, tuple[int, int]]] = {
    0: {"organization": (2, 8), "standalone": (0, 8), "work": (5, 8), "temporary": (1, 8)},
    1: {"organization": (1, 8), "standalone": (1, 8), "work": (4, 8), "temporary": (1, 8)},
    2: {"organization": (1, 8), "standalone": (1, 8), "work": (2, 8), "temporary": (0, 8)},
}


async def figures_become(
    service: RunningService, expected: dict[str, tuple[int, int]], **params: str
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def matches() -> bool:
        nonlocal last
        last = await rates(service, "140212", **params)
        return pairs(last) == expected

    try:
        await wait_for(matches, timeout=20)
    except AssertionError:
        raise AssertionError(f"{pairs(last)} != {expected}") from None
    return last


async def test_facts_count_between_their_dates_and_the_day_worker_flips_them(
    private_nats: NatsServer, database_url: str
) -> None:
    settings: dict[str, Any] = {"rates_changed_window_seconds": 0.2}
    async with coverage_service(private_nats, database_url, calendar_day=D, **settings) as (
        service,
        stream,
    ):
        await stream.publish(*dated_county())
        body = await figures_become(service, EXPECTED[0])
        assert body["day"] == D.isoformat()
        assert body["source"] == "live"
        admin = service.as_region("14")
        taken = await service.client.post("/v1/snapshots", headers=admin)
        assert taken.json()["taken_on"] == D.isoformat()

    # The next day: the worker flips what starts or ends, the roll-ups and rates.changed follow.
    async with coverage_service(
        private_nats, database_url, calendar_day=D + timedelta(days=1), **settings
    ) as (service, _):
        body = await figures_become(service, EXPECTED[1])
        assert body["day"] == (D + timedelta(days=1)).isoformat()

        async def announced() -> bool:
            found = await outbox_data(service.runtime, "pb.coverage.rates.changed.v1")
            county = [e for e in found if e["region_code"] == "140212" and not e["area_id"]]
            return bool(county) and county[-1]["work_covered"] == 4

        await wait_for(announced, timeout=10)

        # A past day is its snapshot, the same however the facts moved since.
        past = await service.client.get(
            "/v1/coverage/140212", params={"as_of": D.isoformat()}, headers=admin
        )
        assert past.status_code == 200, past.text
        assert past.json()["source"] == "snapshot"
        assert pairs(past.json()) == EXPECTED[0]
        # A past day without a snapshot, or a future day, is refused with the reason.
        for day in (D - timedelta(days=3), D + timedelta(days=5)):
            refused = await service.client.get(
                "/v1/coverage/140212", params={"as_of": day.isoformat()}, headers=admin
            )
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["errors"][0]["field"] == "as_of", problem

    # Two days later in one step (the worker was down): it catches up.
    async with coverage_service(
        private_nats, database_url, calendar_day=D + timedelta(days=3), **settings
    ) as (service, _):
        await figures_become(service, EXPECTED[2])


async def test_temporary_branches_are_their_own_figure(
    private_nats: NatsServer, database_url: str
) -> None:
    ledger = Ledger()
    events: list[IntegrationEvent] = [
        *(registered(n, full_members=1, three_haves=True) for n in range(4)),
        formed("b-temp", "temporary", "org-0", "org-1"),
        formed("b-own", "standalone", "org-1"),
    ]
    ledger.apply(*events)
    async with coverage_service(private_nats, database_url, rates_changed_window_seconds=0.2) as (
        service,
        stream,
    ):
        await stream.publish(*events)
        body = await settled(service, ledger, "140212")
        # org-1 counts under its own branch; org-0 only under the temporary one
        assert pairs(body)["organization"] == (1, 4)
        assert pairs(body)["temporary"] == (1, 4)
        assert pairs(body)["work"] == (2, 4)
        gaps = await service.client.get("/v1/coverage/140212/gaps", headers=service.as_region("14"))
        listed = {g["organization_id"]: g for g in gaps.json()["items"]}
        assert set(listed) == {"org-0", "org-2", "org-3"}
        assert listed["org-0"]["temporary_branch"] is True

        async def announced() -> bool:
            found = await outbox_data(service.runtime, "pb.coverage.rates.changed.v1")
            county = [e for e in found if e["region_code"] == "140212" and not e["area_id"]]
            return bool(county) and (
                county[-1]["temporary_covered"],
                county[-1]["organization_covered"],
            ) == (1, 1)

        await wait_for(announced, timeout=10)


async def test_status_takes_organisations_out_of_the_scopes(
    private_nats: NatsServer, database_url: str
) -> None:
    ledger = Ledger()
    orgs = [registered(n, full_members=1, three_haves=True) for n in range(6)]
    events: list[IntegrationEvent] = [
        *orgs,
        updated(orgs[1], operating_status="closed"),
        updated(orgs[2], operating_status="revoked"),
        updated(orgs[3], operating_status="suspended"),
        formed("b-joint", "joint", "org-0", "org-2", "org-3"),
    ]
    ledger.apply(*events)
    async with coverage_service(private_nats, database_url) as (service, stream):
        await stream.publish(*events)
        body = await settled(service, ledger, "140212")
        # in scope: org-0, org-4, org-5 (closed, revoked and suspended are out); org-0 covered
        assert pairs(body)["organization"] == (1, 3)
        assert pairs(body)["work"] == (1, 3)
        named = await settled(
            service,
            ledger,
            "140212",
            organization_scope="all_registered",
            work_scope="all_registered",
        )
        # all_registered keeps the suspended one (covered by the joint branch)
        assert pairs(named)["organization"] == (2, 4)
        # a figure to read, not a target to set (the target events name three scopes)
        aimed = await service.client.put(
            "/v1/targets/140212",
            json={"rate": 0.9, "due_on": "2027-06-30", "scope": "all_registered"},
            headers=service.as_region("14"),
        )
        assert aimed.status_code == 422, aimed.text

        admin = service.as_region("14")
        gaps = await service.client.get("/v1/coverage/140212/gaps", headers=admin)
        assert {g["organization_id"] for g in gaps.json()["items"]} == {"org-4", "org-5"}
        proposals = await service.client.get(
            "/v1/coverage/140212/joint-branch-proposals", headers=admin
        )
        assert proposals.status_code == 200, proposals.text
        proposed = proposals.json()
        groups = proposed["proposals"] + proposed["existing_branches"]
        named_ids = {o["organization_id"] for group in groups for o in group["organizations"]}
        named_ids |= {left["organization"]["organization_id"] for left in proposed["leftovers"]}
        assert named_ids == {"org-4", "org-5"}
        # the joint branch lists 3 organisations, one of them revoked (its place is free):
        # both are proposed to join it
        (fill,) = proposed["existing_branches"]
        assert fill["branch_id"] == "b-joint"
        assert fill["existing_organizations"] == 2
        assert {o["organization_id"] for o in fill["organizations"]} == {"org-4", "org-5"}


async def test_unknown_three_haves_is_shown_unknown_and_never_counted(
    private_nats: NatsServer, database_url: str
) -> None:
    ledger = Ledger()
    events: list[IntegrationEvent] = [
        registered(0, three_haves=True, three_haves_state="true"),
        registered(1, three_haves=False, three_haves_state="false"),
        registered(2, three_haves=False, three_haves_state="unknown"),
        registered(3, three_haves=True),  # an event from before three_haves_state
    ]
    ledger.apply(*events)
    async with coverage_service(private_nats, database_url) as (service, stream):
        await stream.publish(*events)
        body = await settled(service, ledger, "140212", organization_scope="three_haves")
        assert pairs(body)["organization"] == (0, 2)  # org-0 and org-3
        gaps = await service.client.get(
            "/v1/coverage/140212/gaps",
            params={"metric": "work"},
            headers=service.as_region("14"),
        )
        shown = {g["organization_id"]: g["three_haves"] for g in gaps.json()["items"]}
        assert shown == {"org-0": True, "org-1": False, "org-2": None, "org-3": True}


async def test_a_county_table_of_townships_in_one_call(
    private_nats: NatsServer, database_url: str
) -> None:
    ledger = Ledger()
    townships = ("140212101", "140212102", "140212103")
    orgs = [registered(n, region_code=townships[n % 3] + "001", full_members=1) for n in range(9)]
    events: list[IntegrationEvent] = [
        *orgs,
        registered(50, region_code="140211001001", full_members=1),  # another county
        formed("b-0", "standalone", "org-0"),
        formed("b-1", "joint", "org-1", "org-4"),
        formed("b-7", "joint", "org-7"),
        formed("b-t", "temporary", "org-2"),
    ]
    ledger.apply(*events)
    async with coverage_service(private_nats, database_url) as (service, stream):
        await stream.publish(*events)
        await settled(service, ledger, "140212")
        admin = service.as_region("14")
        table = await service.client.get(
            "/v1/coverage/140212/subregions", params={"sort": "-organization_rate"}, headers=admin
        )
        assert table.status_code == 200, table.text
        rows = table.json()["rows"]
        for row in rows:
            assert pairs(row) == ledger.rates(row["region_code"]), row["region_code"]
        rates_by_code = {
            code: ledger.rates(code)["organization"][0] / ledger.rates(code)["organization"][1]
            for code in townships
        }
        expected = sorted(townships, key=lambda c: (-rates_by_code[c], c))
        assert [r["region_code"] for r in rows] == expected
        # Each township by the name its code is published with (古店镇, ...), as is the county.
        assert table.json()["region_name"] == "新荣区"
        assert {r["region_code"]: r["region_name"] for r in rows} == {
            code: name_of(code) for code in townships
        }
        names = {r["region_code"]: r["region_name"] for r in rows}
        assert (names["140212101"], names["140212102"]) == ("古店镇", "花园屯镇")
        refused = await service.client.get(
            "/v1/coverage/140212/subregions", params={"sort": "colour"}, headers=admin
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "sort"


async def test_industry_wide_joint_branch_across_a_county_when_the_setting_allows(
    private_nats: NatsServer, database_url: str
) -> None:
    spread = [
        registered(n, region_code=f"14021210{n}001", full_members=1, industry_code="I6513")
        for n in range(1, 4)
    ]
    for allowed in (False, True):
        async with coverage_service(
            private_nats, database_url, industry_joint_branches_across_county=allowed
        ) as (service, stream):
            if not allowed:
                await stream.publish(*spread)
            ledger = Ledger()
            ledger.apply(*spread)
            await settled(service, ledger, "140212")
            response = await service.client.get(
                "/v1/coverage/140212/joint-branch-proposals", headers=service.as_region("14")
            )
            body = response.json()
            assert body["rules"]["industry_wide"] is allowed
            if not allowed:
                assert body["proposals"] == []
                assert len(body["leftovers"]) == 3
                continue
            (proposal,) = body["proposals"]
            assert proposal["industry_section"] == "I"
            assert proposal["township_code"] == "140212"
            assert len(proposal["organizations"]) == 3
            assert body["leftovers"] == []


async def test_a_newer_file_after_deregistration_brings_the_organisation_back(
    private_nats: NatsServer, database_url: str
) -> None:
    """What a reactivation relies on: a file of a newer version than the deregistration is
    applied as a registration of the existing file (and an older one is not)."""
    org = registered(0, full_members=1)
    gone = deregistered(org)
    stale = updated(org, full_members=2)  # version 2, as old as the deregistration
    back = updated(updated(org), full_members=3)  # version 3: the file opened again
    ledger = Ledger()
    async with coverage_service(private_nats, database_url) as (service, stream):
        for events in ([org, gone, stale], [back]):
            ledger.apply(*events[:2] if len(events) == 3 else events)
            await stream.publish(*events)
            await settled(service, ledger, "140212", organization_scope="all_registered")
        body = await service.client.get(
            "/v1/projection/organizations/org-0", headers=service.as_region("14")
        )
        assert body.json()["managed"] is True
        assert body.json()["full_members"] == 3
        assert body.json()["deregistered_at"] is None


async def test_a_reactivated_file_counts_again_as_the_existing_file(
    private_nats: NatsServer, database_url: str
) -> None:
    org = registered(0, full_members=1)
    other = registered(1, full_members=1)
    gone = deregistered(org)
    ledger = Ledger()
    async with coverage_service(private_nats, database_url) as (service, stream):
        ledger.apply(org, other, gone)
        await stream.publish(org, other, gone)
        before = await settled(service, ledger, "140212")
        assert pairs(before)["organization"] == (0, 1)
        back = reactivated(org, version=gone.version + 1, full_members=2)
        ledger.apply(back)
        await stream.publish(back, gone)  # a late copy of the deregistration changes nothing
        after = await settled(service, ledger, "140212")
        assert pairs(after)["organization"] == (0, 2)
        shown = await service.client.get(
            "/v1/projection/organizations/org-0", headers=service.as_region("14")
        )
        assert shown.json()["managed"] is True
        assert shown.json()["full_members"] == 2
        assert shown.json()["registered_at"].startswith("2026-11-23")

"""Committees and branches over real HTTP on both stores: every formation rule and refusal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from services.registry.service.branches import announce_overdue_rectifications
from services.registry.store.tables import organizations
from services.registry.store.uow import RegistryUnitOfWork
from tests.harness import RunningService
from tests.registry.party_helpers import (
    data_of,
    events,
    new_organization,
    person,
    roster_person,
)


async def committee(
    service: RunningService, region: str = "140212", parent_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"kind": "two_new", "name": "新荣区两新工委", "region_code": region, **extra}
    if parent_id:
        body["parent_id"] = parent_id
    response = await service.client.post(
        "/v1/committees", json=body, headers=service.as_region("140212")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def form(service: RunningService, region: str = "140212", **body: Any) -> Any:
    return await service.client.post(
        "/v1/branches", json={"name": "测试党支部", **body}, headers=service.as_region(region)
    )


async def orgs(service: RunningService, start: int, fulls: list[int], **extra: Any) -> list[str]:
    return [
        (await new_organization(service, start + i, full_members=full, **extra))["id"]
        for i, full in enumerate(fulls)
    ]


async def covering(service: RunningService, organization_id: str) -> tuple[str | None, str | None]:
    async with service.runtime.db.read() as session:
        row = (
            await session.execute(
                select(organizations.c.branch_id, organizations.c.branch_kind).where(
                    organizations.c.id == organization_id
                )
            )
        ).one()
    return row.branch_id, row.branch_kind


async def test_committees_form_a_tree_inside_their_regions(registry: RunningService) -> None:
    county = await committee(registry)
    township = await committee(
        registry, "140212101", county["id"], kind="township", name="某镇综合党委"
    )
    assert township["parent_id"] == county["id"]
    outside = await registry.client.post(
        "/v1/committees",
        json={
            "kind": "park",
            "name": "园区党委",
            "region_code": "140211",
            "parent_id": county["id"],
        },
        headers=registry.as_region("14"),
    )
    assert outside.status_code == 422
    assert outside.json()["rule"] == "committee_within_parent"
    unknown = await registry.client.post(
        "/v1/committees",
        json={"kind": "park", "name": "园区党委", "region_code": "140212", "parent_id": "nope"},
        headers=registry.as_region("140212"),
    )
    assert unknown.json()["errors"] == [{"field": "parent_id", "reason": "no such committee"}]
    # a township's caller sees its county committee above it; another county does not
    seen = await registry.client.get(
        f"/v1/committees/{county['id']}", headers=registry.as_region("140212101")
    )
    assert seen.status_code == 200
    hidden = await registry.client.get(
        f"/v1/committees/{township['id']}", headers=registry.as_region("140211")
    )
    assert hidden.status_code == 404
    formed = await data_of(registry, "pb.registry.committee.formed.v1")
    assert [(c["committee_id"], c["parent_id"]) for c in formed] == [
        (county["id"], None),
        (township["id"], county["id"]),
    ]


async def test_standalone_needs_three_full_members_and_one_branch_per_organisation(
    registry: RunningService,
) -> None:
    parent = await committee(registry)
    small, big = await orgs(registry, 401, [2, 3])
    refused = await form(
        registry, kind="standalone", parent_id=parent["id"], organization_ids=[small]
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["rule"], refused.json()["organization_ids"]) == (
        "standalone_min_full_members",
        [small],
    )
    two = await form(
        registry, kind="standalone", parent_id=parent["id"], organization_ids=[small, big]
    )
    assert two.json()["rule"] == "standalone_single_organization"

    created = await form(
        registry,
        kind="standalone",
        parent_id=parent["id"],
        organization_ids=[big],
        formed_on="2026-11-01",
    )
    assert created.status_code == 201, created.text
    branch = created.json()
    assert (branch["kind"], branch["organization_ids"], branch["parent_id"]) == (
        "standalone",
        [big],
        parent["id"],
    )
    assert (branch["status"], branch["formed_on"], branch["can_develop_members"]) == (
        "active",
        "2026-11-01",
        True,
    )
    assert await covering(registry, big) == (branch["id"], "standalone")
    read = await registry.client.get(
        f"/v1/branches/{branch['id']}", headers=registry.as_region("140212")
    )
    assert read.json() == branch
    [event] = await data_of(registry, "pb.registry.branch.formed.v1")
    assert (event["branch_id"], event["version"], event["organization_ids"]) == (
        branch["id"],
        1,
        [big],
    )
    assert event["region_code"] == "140212101"

    again = await form(registry, kind="standalone", parent_id=parent["id"], organization_ids=[big])
    assert (again.json()["rule"], again.json()["organization_ids"]) == (
        "one_active_branch_per_organization",
        [big],
    )
    no_parent = await form(registry, kind="standalone", organization_ids=[big])
    assert no_parent.status_code == 422
    assert no_parent.json()["errors"][0]["field"] == "parent_id"
    assert len(await data_of(registry, "pb.registry.branch.formed.v1")) == 1


async def test_joint_rules_and_warnings(registry: RunningService) -> None:
    parent = await committee(registry)
    a, b = await orgs(registry, 410, [1, 1])
    c = (
        await new_organization(
            registry, 412, full_members=1, region_code="140212102", industry_code="F51"
        )
    )["id"]
    six = await orgs(registry, 413, [0, 0, 0, 0, 0, 1])
    ready = (await new_organization(registry, 419, full_members=3))["id"]

    too_few = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b])
    assert (too_few.json()["rule"], sorted(too_few.json()["organization_ids"])) == (
        "joint_min_full_members",
        sorted([a, b]),
    )
    too_many = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=six)
    assert too_many.json()["rule"] == "joint_max_organizations"
    one = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a])
    assert one.json()["rule"] == "joint_min_organizations"
    could = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, ready])
    assert (could.json()["rule"], could.json()["organization_ids"]) == (
        "joint_only_below_standalone",
        [ready],
    )
    with_reason = await form(
        registry,
        kind="joint",
        parent_id=parent["id"],
        organizations=[
            {"organization_id": a},
            {"organization_id": ready, "unable_reason": "党员流动性大，暂不具备单独组建条件"},
        ],
    )
    assert with_reason.status_code == 201, with_reason.text
    assert with_reason.json()["unable_reasons"] == {ready: "党员流动性大，暂不具备单独组建条件"}
    assert [w["rule"] for w in with_reason.json()["warnings"]] == ["could_stand_alone"]

    joint = await form(
        registry, kind="joint", parent_id=parent["id"], organization_ids=[b, c, six[5]]
    )
    assert joint.status_code == 201, joint.text
    warnings = {w["rule"]: w["organization_ids"] for w in joint.json()["warnings"]}
    assert set(warnings) == {"same_township", "same_industry"}
    assert warnings["same_township"] == sorted([b, c, six[5]])
    assert joint.json()["region_code"] == "140212"  # the common region of its organisations
    assert await covering(registry, c) == (joint.json()["id"], "joint")


async def test_temporary_needs_an_end_date_and_does_not_develop_members(
    registry: RunningService,
) -> None:
    parent = await committee(registry)
    [site, empty] = await orgs(registry, 420, [1, 0])
    missing = await form(
        registry, kind="temporary", parent_id=parent["id"], organization_ids=[site]
    )
    assert missing.json()["rule"] == "temporary_end_date"
    backwards = await form(
        registry,
        kind="temporary",
        parent_id=parent["id"],
        organization_ids=[site],
        formed_on="2026-11-01",
        ends_on="2026-10-01",
    )
    assert backwards.json()["rule"] == "temporary_end_date"
    past = await form(
        registry,
        kind="temporary",
        parent_id=parent["id"],
        organization_ids=[site],
        formed_on="2020-01-01",
        ends_on=(date.today() - timedelta(days=2)).isoformat(),
    )
    assert (past.status_code, past.json()["rule"]) == (422, "temporary_end_date")
    assert "has passed" in past.json()["detail"]
    nobody = await form(
        registry,
        kind="temporary",
        parent_id=parent["id"],
        organization_ids=[site, empty],
        formed_on="2026-11-01",
        ends_on="2099-06-30",
    )
    assert (nobody.json()["rule"], nobody.json()["organization_ids"]) == (
        "temporary_members_required",
        [empty],
    )
    ends = await form(
        registry,
        kind="standalone",
        parent_id=parent["id"],
        organization_ids=[site],
        ends_on="2027-01-01",
    )
    assert ends.status_code == 422
    created = await form(
        registry,
        kind="temporary",
        parent_id=parent["id"],
        organization_ids=[site],
        formed_on="2026-11-01",
        ends_on="2099-06-30",
    )
    assert created.status_code == 201, created.text
    assert (created.json()["can_develop_members"], created.json()["ends_on"]) == (
        False,
        "2099-06-30",
    )
    [event] = await data_of(registry, "pb.registry.branch.formed.v1")
    assert (event["kind"], event["ends_on"]) == ("temporary", "2099-06-30")


async def test_region_scope_and_the_parent_committee_region(registry: RunningService) -> None:
    parent = await committee(registry, "140212101", kind="township")
    [here] = await orgs(registry, 430, [3])
    [there] = await orgs(registry, 431, [3], region_code="140212102")
    outside_caller = await form(
        registry, "140211", kind="standalone", parent_id=parent["id"], organization_ids=[here]
    )
    assert outside_caller.status_code == 422  # the committee is not visible from 140211
    outside_org = await form(
        registry, "140212101", kind="standalone", parent_id=parent["id"], organization_ids=[there]
    )
    assert outside_org.status_code == 404
    assert outside_org.json()["organization_ids"] == [there]
    outside_committee = await form(
        registry, kind="standalone", parent_id=parent["id"], organization_ids=[there]
    )
    assert (outside_committee.json()["rule"], outside_committee.json()["organization_ids"]) == (
        "within_parent_committee",
        [there],
    )
    created = await form(
        registry, kind="standalone", parent_id=parent["id"], organization_ids=[here]
    )
    hidden = await registry.client.get(
        f"/v1/branches/{created.json()['id']}", headers=registry.as_region("140212102")
    )
    assert hidden.status_code == 404


async def test_transfer_makes_a_joint_member_eligible_and_reorganize_upgrades_it(
    registry: RunningService,
) -> None:
    parent = await committee(registry)
    a, b, c, d, e, f = await orgs(registry, 440, [2, 1, 1, 1, 1, 1])
    joint = await form(
        registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b, c, d]
    )
    assert joint.status_code == 201, joint.text
    branch_id = joint.json()["id"]
    headers = registry.as_region("140212")

    # a hidden member of a is found, declares and transfers: a reaches 3 full members
    await registry.client.post(
        "/v1/member-rosters", json={"members": [roster_person(80)]}, headers=headers
    )
    listed = await registry.client.post(
        f"/v1/organizations/{a}/staff-lists", json={"people": [person(80)]}, headers=headers
    )
    [member] = listed.json()["discovered"]
    await registry.client.post(f"/v1/members/{member['id']}/declare", headers=headers)
    moved = await registry.client.post(f"/v1/members/{member['id']}/transfer", headers=headers)
    assert moved.status_code == 200, moved.text
    [eligible] = await data_of(registry, "pb.registry.branch.eligible.v1")
    assert (eligible["organization_id"], eligible["full_members"]) == (a, 3)

    add = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"add": [{"organization_id": e}]},
        headers=headers,
    )
    assert add.status_code == 200, add.text
    assert len(add.json()["branch"]["organization_ids"]) == 5
    sixth = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"add": [{"organization_id": f}]},
        headers=headers,
    )
    assert sixth.json()["rule"] == "joint_max_organizations"
    stranger = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize", json={"remove": [f]}, headers=headers
    )
    assert (stranger.json()["rule"], stranger.json()["organization_ids"]) == (
        "covered_by_this_branch",
        [f],
    )
    nothing = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize", json={}, headers=headers
    )
    assert nothing.status_code == 422
    small = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"upgrade": [{"organization_id": b, "name": "b党支部"}]},
        headers=headers,
    )
    assert (small.json()["rule"], small.json()["organization_ids"]) == (
        "standalone_min_full_members",
        [b],
    )

    before = len(await events(registry, "pb.registry.branch."))
    upgraded = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"upgrade": [{"organization_id": a, "name": "a党支部"}], "on": "2026-11-20"},
        headers=headers,
    )
    assert upgraded.status_code == 200, upgraded.text
    body = upgraded.json()
    assert body["branch"]["organization_ids"] == sorted([b, c, d, e])
    [standalone] = body["formed"]
    assert (standalone["kind"], standalone["organization_ids"], standalone["parent_id"]) == (
        "standalone",
        [a],
        parent["id"],
    )
    assert await covering(registry, a) == (standalone["id"], "standalone")
    new_events = (await events(registry, "pb.registry.branch."))[before:]
    assert [t for t, _ in new_events] == [
        "pb.registry.branch.reorganized.v1",
        "pb.registry.branch.formed.v1",
    ]
    reorganized = new_events[0][1]
    assert reorganized["removed_organization_ids"] == [a]
    assert reorganized["version"] == body["branch"]["version"] >= 2
    assert new_events[1][1]["branch_id"] == standalone["id"]

    # a removal below three full members together is a fact: recorded, to be put right
    fewer = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize", json={"remove": [b]}, headers=headers
    )
    assert fewer.status_code == 200, fewer.text
    assert fewer.json()["branch"]["status"] == "active"
    too_few = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"remove": [c], "on": "2026-11-30"},
        headers=headers,
    )
    assert too_few.status_code == 200, too_few.text
    flagged = too_few.json()["branch"]
    assert (flagged["organization_ids"], flagged["status"], flagged["rectify_by"]) == (
        sorted([d, e]),
        "needs_rectification",
        "2027-02-28",
    )
    assert "full members" in flagged["rectification_reason"]
    assert await covering(registry, d) == (branch_id, "joint")
    [*_, last] = await data_of(registry, "pb.registry.branch.reorganized.v1")
    assert (last["status"], last["rectify_by"], last["removed_organization_ids"]) == (
        "needs_rectification",
        "2027-02-28",
        [c],
    )
    # adding an organisation that brings it back within the rules clears it
    [g] = await orgs(registry, 446, [2])
    fixed = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"add": [{"organization_id": g}]},
        headers=headers,
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["branch"]["status"], fixed.json()["branch"]["rectify_by"]) == (
        "active",
        None,
    )


async def test_reorganize_adds_and_removes_and_keeps_the_ledger_in_step(
    registry: RunningService,
) -> None:
    parent = await committee(registry)
    a, b, c, d = await orgs(registry, 450, [1, 1, 1, 1])
    headers = registry.as_region("140212")
    joint = (
        await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b, c])
    ).json()
    added = await registry.client.post(
        f"/v1/branches/{joint['id']}/reorganize",
        json={"add": [{"organization_id": d}], "remove": [a], "on": "2026-11-21"},
        headers=headers,
    )
    assert added.status_code == 200, added.text
    assert added.json()["branch"]["organization_ids"] == sorted([b, c, d])
    assert added.json()["branch"]["version"] == 2
    assert await covering(registry, a) == (None, None)
    assert await covering(registry, d) == (joint["id"], "joint")
    [event] = await data_of(registry, "pb.registry.branch.reorganized.v1")
    assert (event["added_organization_ids"], event["removed_organization_ids"]) == ([d], [a])
    assert event["organization_ids"] == sorted([b, c, d])
    # a's old branch let it go: it may be covered again
    again = await registry.client.post(
        f"/v1/branches/{joint['id']}/reorganize",
        json={"add": [{"organization_id": a}]},
        headers=headers,
    )
    assert again.status_code == 200, again.text
    assert again.json()["branch"]["organization_ids"] == sorted([a, b, c, d])
    taken = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b])
    assert (taken.json()["rule"], taken.json()["organization_ids"]) == (
        "one_active_branch_per_organization",
        sorted([a, b]),
    )


async def test_dissolve_uncovers_the_organisations(registry: RunningService) -> None:
    parent = await committee(registry)
    a, b, c = await orgs(registry, 460, [1, 1, 1])
    headers = registry.as_region("140212")
    joint = (
        await form(
            registry,
            kind="joint",
            parent_id=parent["id"],
            organization_ids=[a, b, c],
            formed_on="2026-11-01",
        )
    ).json()
    early = await registry.client.post(
        f"/v1/branches/{joint['id']}/dissolve",
        json={"reason": "x", "on": "2026-10-01"},
        headers=headers,
    )
    assert early.json()["rule"] == "dissolution_date"
    done = await registry.client.post(
        f"/v1/branches/{joint['id']}/dissolve",
        json={"reason": "企业注销", "on": "2026-11-22"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["dissolved_on"], done.json()["version"]) == (
        "dissolved",
        "2026-11-22",
        2,
    )
    assert done.json()["organization_ids"] == sorted([a, b, c])
    [event] = await data_of(registry, "pb.registry.branch.dissolved.v1")
    assert (event["organization_ids"], event["reason"], event["version"]) == (
        sorted([a, b, c]),
        "企业注销",
        2,
    )
    assert await covering(registry, a) == (None, None)
    twice = await registry.client.post(
        f"/v1/branches/{joint['id']}/dissolve", json={"reason": "x"}, headers=headers
    )
    assert twice.json()["rule"] == "branch_active"
    reorganize = await registry.client.post(
        f"/v1/branches/{joint['id']}/reorganize", json={"remove": [a]}, headers=headers
    )
    assert reorganize.json()["rule"] == "branch_active"
    reformed = await form(
        registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b, c]
    )
    assert reformed.status_code == 201
    read = await registry.client.get(f"/v1/branches/{joint['id']}", headers=headers)
    assert read.json()["organization_ids"] == sorted([a, b, c])  # what it covered until then
    audit = await registry.client.get(
        "/v1/audit", params={"entity_id": joint["id"]}, headers=registry.as_region("14")
    )
    assert [e["action"] for e in audit.json()["items"]] == ["branch.dissolved", "branch.formed"]
    assert audit.json()["items"][0]["changes"]["reason"] == "企业注销"


async def test_a_deregistered_organisation_cannot_be_covered(registry: RunningService) -> None:
    parent = await committee(registry)
    [gone] = await orgs(registry, 470, [3])
    headers = registry.as_region("140212")
    read = await registry.client.get(f"/v1/organizations/{gone}", headers=headers)
    deleted = await registry.client.delete(
        f"/v1/organizations/{gone}",
        params={"reason": "注销"},
        headers={**headers, "If-Match": read.headers["etag"]},
    )
    assert deleted.status_code in (200, 204), deleted.text
    refused = await form(
        registry, kind="standalone", parent_id=parent["id"], organization_ids=[gone]
    )
    assert (refused.json()["rule"], refused.json()["organization_ids"]) == (
        "organization_active",
        [gone],
    )


async def test_a_branch_is_advised_to_become_a_general_branch_or_a_committee_by_size(
    registry: RunningService,
) -> None:
    parent = await committee(registry)
    [big] = await orgs(registry, 480, [45])
    branch = (
        await form(registry, kind="standalone", parent_id=parent["id"], organization_ids=[big])
    ).json()
    assert branch["advice"] == []
    headers = registry.as_region("140212")
    for probationary, rule in [(5, "general_branch_size"), (55, "committee_size")]:  # 50, 100
        current = await registry.client.get(f"/v1/organizations/{big}", headers=headers)
        patched = await registry.client.patch(
            f"/v1/organizations/{big}",
            json={"probationary_members": probationary},
            headers={**headers, "If-Match": current.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
        read = (await registry.client.get(f"/v1/branches/{branch['id']}", headers=headers)).json()
        assert [a["rule"] for a in read["advice"]] == [rule]


async def test_a_passed_rectification_deadline_is_announced_once(registry: RunningService) -> None:
    parent = await committee(registry)
    a, b, c = await orgs(registry, 470, [1, 1, 1])
    joint = await form(registry, kind="joint", parent_id=parent["id"], organization_ids=[a, b, c])
    assert joint.status_code == 201, joint.text
    branch_id = joint.json()["id"]
    fewer = await registry.client.post(
        f"/v1/branches/{branch_id}/reorganize",
        json={"remove": [c], "on": "2026-11-30"},
        headers=registry.as_region("140212"),
    )
    assert fewer.json()["branch"]["rectify_by"] == "2027-02-28", fewer.text

    async def announce(today: date) -> int:
        async with RegistryUnitOfWork(registry.runtime.db) as uow:
            return await announce_overdue_rectifications(uow, today)

    assert await announce(date(2027, 2, 28)) == 0  # the deadline's own day is still in time
    assert await announce(date(2027, 3, 1)) == 1
    assert await announce(date(2027, 3, 2)) == 0  # once per deadline
    [overdue] = await data_of(registry, "pb.registry.branch.rectification_overdue.v1")
    assert (overdue["branch_id"], overdue["overdue_since"], overdue["status"]) == (
        branch_id,
        "2027-03-01",
        "needs_rectification",
    )
    assert overdue["organization_ids"] == sorted([a, b])  # it still covers them

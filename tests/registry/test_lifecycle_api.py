"""An organisation's life cycle over real HTTP on both stores, its events relayed to real NATS:
deregistration reaching its branch, assignments and members in one transaction; reactivation;
a move to another township flagging its branch for re-parenting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from libs.common.tables import outbox
from tests.factories import organization
from tests.harness import RunningService, wait_for
from tests.registry.party_helpers import data_of, events, new_organization, person, roster_person
from tests.registry.test_branches_api import committee, form
from tests.registry.test_members_api import roster, staff

ON = "2026-11-20"


async def deregister(registry: RunningService, org_id: str, reason: str = "注销") -> Any:
    headers = registry.as_region("140212")
    current = await registry.client.get(f"/v1/organizations/{org_id}", headers=headers)
    return await registry.client.delete(
        f"/v1/organizations/{org_id}",
        params={"reason": reason, "on": ON},
        headers={**headers, "If-Match": current.headers["etag"]},
    )


async def published(registry: RunningService, type_: str, *needles: str) -> bool:
    """Whether the relay has published to NATS an event of `type_` holding every needle (the
    outbox row is marked sent only once the stream acknowledged it)."""
    async with registry.runtime.db.read() as session:
        rows = (
            await session.execute(
                select(outbox.c.data, outbox.c.sent_at).where(outbox.c.type == type_)
            )
        ).all()
    return any(row.sent_at is not None and all(n in str(row.data) for n in needles) for row in rows)


async def test_deregistration_reaches_branch_assignments_and_members(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    parent = await committee(registry)
    shop = await new_organization(registry, 701, full_members=3)
    joint_ids = [
        (await new_organization(registry, 702 + i, full_members=1))["id"] for i in range(3)
    ]
    own = (
        await form(
            registry, kind="standalone", parent_id=parent["id"], organization_ids=[shop["id"]]
        )
    ).json()
    joint = (
        await form(registry, kind="joint", parent_id=parent["id"], organization_ids=joint_ids)
    ).json()
    instructor = (
        await registry.client.post(
            "/v1/instructors", json={"name": "王建国", "region_code": "140212"}, headers=headers
        )
    ).json()
    assigned = await registry.client.post(
        f"/v1/instructors/{instructor['id']}/assignments",
        json={"organization_id": shop["id"], "starts_on": "2026-01-01"},
        headers=headers,
    )
    assert assigned.status_code == 201, assigned.text
    await roster(registry, [roster_person(70)])
    [found] = (await staff(registry, shop["id"], [person(70)]))["discovered"]
    for step, on in (("declare", "2026-03-01"), ("transfer", "2026-03-02")):
        done = await registry.client.post(
            f"/v1/members/{found['id']}/{step}", json={"on": on}, headers=headers
        )
        assert done.status_code == 200, done.text
    before = len(await events(registry))

    gone = await deregister(registry, shop["id"])
    assert gone.status_code == 200, gone.text
    assert (gone.json()["status"], gone.json()["branch_id"], gone.json()["full_members"]) == (
        "deregistered",
        None,
        3,  # 3 recorded + 1 transferred, less the one moved out
    )
    after = [
        (t.split(".")[2] + "." + t.split(".")[3], d) for t, d in (await events(registry))[before:]
    ]
    assert [t for t, _ in after] == [
        "organization.deregistered",
        "branch.dissolved",
        "instructor.unassigned",
        "member.moved_out",
    ]
    dissolved, unassigned, moved = after[1][1], after[2][1], after[3][1]
    assert (dissolved["branch_id"], dissolved["status"], dissolved["dissolved_on"]) == (
        own["id"],
        "dissolved",
        ON,
    )
    assert (unassigned["organization_id"], unassigned["ended_on"]) == (shop["id"], ON)
    assert (moved["member_id"], moved["status"], moved["moved_out_on"]) == (
        found["id"],
        "moved_out",
        ON,
    )
    assert "张" not in str(moved)  # no personal data in the event
    member = await registry.client.get(f"/v1/members/{found['id']}", headers=headers)
    assert member.json()["status"] == "moved_out"
    branch = await registry.client.get(f"/v1/branches/{own['id']}", headers=headers)
    assert branch.json()["status"] == "dissolved"

    # one of a joint branch: removed, the branch needs rectification, not refused
    left = await deregister(registry, joint_ids[0], "吊销")
    assert left.status_code == 200, left.text
    [reorganized] = await data_of(registry, "pb.registry.branch.reorganized.v1")
    assert (reorganized["removed_organization_ids"], reorganized["status"]) == (
        [joint_ids[0]],
        "needs_rectification",
    )
    assert reorganized["rectify_by"] == "2027-02-20"
    read = (await registry.client.get(f"/v1/branches/{joint['id']}", headers=headers)).json()
    assert (read["organization_ids"], read["status"]) == (
        sorted(joint_ids[1:]),
        "needs_rectification",
    )
    assert "full members" in read["rectification_reason"]
    assert await wait_for(
        lambda: published(
            registry, "pb.registry.branch.reorganized.v1", "needs_rectification", joint["id"]
        ),
        timeout=10,
    )


async def test_a_deregistered_file_is_reactivated_with_if_match(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    shop = await new_organization(registry, 720, full_members=4, staff_count=12)
    url = f"/v1/organizations/{shop['id']}/reactivate"
    active = await registry.client.post(url, headers={**headers, "If-Match": '"1"'})
    assert active.status_code == 409
    assert (await deregister(registry, shop["id"])).status_code == 200
    again = await registry.client.post(
        "/v1/organizations", json=organization(720), headers=registry.as_region("14")
    )
    assert (again.status_code, again.json()["existing_id"]) == (409, shop["id"])
    assert again.json()["existing_status"] == "deregistered"
    assert "reactivate" in again.json()["detail"]
    no_match = await registry.client.post(url, headers=headers)
    assert no_match.status_code == 428
    stale = await registry.client.post(url, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    back = await registry.client.post(
        url, json={"reason": "重新登记"}, headers={**headers, "If-Match": '"2"'}
    )
    assert back.status_code == 200, back.text
    assert (back.json()["status"], back.json()["version"], back.headers["etag"]) == (
        "active",
        3,
        '"3"',
    )
    assert back.json()["deregistered_on"] is None
    [event] = await data_of(registry, "pb.registry.organization.reactivated.v1")
    assert (event["organization_id"], event["version"], event["reason"]) == (
        shop["id"],
        3,
        "重新登记",
    )
    assert (event["full_members"], event["operating_status"], event["three_haves_state"]) == (
        4,
        "operating",
        "unknown",
    )
    assert "reactivated_at" in event
    eligible = await data_of(registry, "pb.registry.branch.eligible.v1")
    assert [e["organization_id"] for e in eligible].count(shop["id"]) == 2
    changed = await registry.client.patch(
        f"/v1/organizations/{shop['id']}",
        json={"staff_count": 20},
        headers={**headers, "If-Match": '"3"', "Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200  # the file is open again


async def test_a_move_to_another_township_flags_the_branch_for_reparenting(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    county = await committee(registry)
    township = await committee(
        registry, "140212101", county["id"], kind="township", name="古店镇综合党委"
    )
    shop = await new_organization(registry, 730, full_members=3)
    own = (
        await form(
            registry, kind="standalone", parent_id=township["id"], organization_ids=[shop["id"]]
        )
    ).json()
    # covered now, its file is one version on (六清: the no-branch point is shown)
    moved = await registry.client.patch(
        f"/v1/organizations/{shop['id']}",
        json={"region_code": "140212102"},
        headers={**headers, "If-Match": '"2"', "Content-Type": "application/merge-patch+json"},
    )
    assert moved.status_code == 200, moved.text
    branch = (await registry.client.get(f"/v1/branches/{own['id']}", headers=headers)).json()
    assert (branch["region_code"], branch["needs_reparenting"]) == ("140212102", True)
    assert "outside the region 140212101" in branch["reparenting_reason"]
    [relocated] = await data_of(registry, "pb.registry.branch.relocated.v1")
    assert (relocated["moved_organization_ids"], relocated["needs_reparenting"]) == (
        [shop["id"]],
        True,
    )
    assert relocated["region_code"] == "140212102"
    refused = await registry.client.post(
        f"/v1/branches/{own['id']}/reparent", json={"parent_id": township["id"]}, headers=headers
    )
    assert (refused.status_code, refused.json()["rule"]) == (422, "within_parent_committee")
    done = await registry.client.post(
        f"/v1/branches/{own['id']}/reparent", json={"parent_id": county["id"]}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert (done.json()["parent_id"], done.json()["needs_reparenting"]) == (county["id"], False)
    relocations = await data_of(registry, "pb.registry.branch.relocated.v1")
    assert [(r["parent_id"], r["needs_reparenting"]) for r in relocations] == [
        (township["id"], True),
        (county["id"], False),
    ]

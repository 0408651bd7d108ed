"""An organisation's whole life cycle, read off JetStream by a plain nats-py client.

A county office registers four organisations; one forms its own branch, three a joint branch;
an instructor is assigned and a hidden member transfers to the own branch. The first
organisation is deregistered (注销), then one of the joint branch is revoked (吊销), then the
first comes back. Every event must reach the stream once, valid against the published schemas,
the dependants' events right after the deregistration that caused them, and the figures they
carry must be those the test computes from the story.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from libs.common.tables import outbox
from services.registry.app import definition
from services.registry.settings import RegistrySettings
from tests.e2e.test_registry_flow import cloud_events, stream_messages
from tests.harness import NatsServer, RunningService, serve, wait_for
from tests.registry.party_helpers import new_organization, person, roster_person

COUNTY = "140212"


async def the_life(registry: RunningService) -> dict[str, Any]:
    headers = registry.as_region(COUNTY)

    async def post(path: str, body: Any = None, **extra: Any) -> dict[str, Any]:
        response = await registry.client.post(path, json=body, headers={**headers, **extra})
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    own = await new_organization(registry, 951, full_members=3)
    joint_orgs = [await new_organization(registry, 952 + i, full_members=1) for i in range(3)]
    county = await post(
        "/v1/committees", {"kind": "two_new", "name": "新荣区两新工委", "region_code": COUNTY}
    )
    standalone = await post(
        "/v1/branches",
        {
            "kind": "standalone",
            "name": "某公司党支部",
            "parent_id": county["id"],
            "organization_ids": [own["id"]],
        },
    )
    joint = await post(
        "/v1/branches",
        {
            "kind": "joint",
            "name": "联合党支部",
            "parent_id": county["id"],
            "organization_ids": [o["id"] for o in joint_orgs],
        },
    )
    instructor = await post("/v1/instructors", {"name": "王建国", "region_code": COUNTY})
    assignment = await post(
        f"/v1/instructors/{instructor['id']}/assignments",
        {"organization_id": own["id"], "starts_on": "2026-01-01"},
    )
    await post("/v1/member-rosters", {"members": [roster_person(95)]})
    [member] = (await post(f"/v1/organizations/{own['id']}/staff-lists", {"people": [person(95)]}))[
        "discovered"
    ]
    await post(f"/v1/members/{member['id']}/declare")
    await post(f"/v1/members/{member['id']}/transfer")  # own: 4 full members now

    for organization_id, reason, version in (
        (own["id"], "注销", '"3"'),  # covered (v2), a member transferred (v3)
        (joint_orgs[0]["id"], "吊销", '"2"'),  # covered (v2)
    ):
        gone = await registry.client.delete(
            f"/v1/organizations/{organization_id}",
            params={"reason": reason, "on": "2026-11-20"},
            headers={**headers, "If-Match": version},
        )
        assert gone.status_code == 200, gone.text
    back = await post(
        f"/v1/organizations/{own['id']}/reactivate", {"reason": "重新登记"}, **{"If-Match": '"4"'}
    )
    assert back["full_members"] == 3  # the member moved out with the deregistration
    return {
        "own": own["id"],
        "revoked": joint_orgs[0]["id"],
        "standalone": standalone["id"],
        "joint": joint["id"],
        "assignment": assignment["id"],
        "member": member["id"],
        "kept": sorted(o["id"] for o in joint_orgs[1:]),
    }


async def test_deregistration_and_reactivation_reach_nats_with_their_dependants(
    private_nats: NatsServer, database_url: str
) -> None:
    settings = RegistrySettings(
        database_url=database_url, nats_url=private_nats.url, outbox_poll_seconds=0.1
    )
    async with serve(definition(settings)) as registry:
        ids = await the_life(registry)
        unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        written = select(func.count()).select_from(outbox)

        async def relayed() -> int | None:
            async with registry.runtime.db.read() as session:
                if (await session.execute(unsent)).scalar_one():
                    return None
                return int((await session.execute(written)).scalar_one())

        total = await wait_for(relayed, timeout=20)

    events = list(cloud_events(await stream_messages(private_nats.url, total)))
    kinds = [t.removeprefix("pb.registry.").removesuffix(".v1") for t, _, _ in events]

    def at(kind: str, subject: str) -> int:
        found = [i for i, (t, s, _) in enumerate(events) if kinds[i] == kind and s == subject]
        assert len(found) == 1, f"{kind} for {subject}: {len(found)} times"
        return found[0]

    closed = at("organization.deregistered", ids["own"])
    dissolved = [i for i, k in enumerate(kinds) if k == "branch.dissolved"]
    assert dissolved == [closed + 1]
    assert events[closed + 1][2]["branch_id"] == ids["standalone"]
    assert at("instructor.unassigned", ids["assignment"]) == closed + 2
    moved = at("member.moved_out", ids["member"])
    assert moved == closed + 3
    assert events[moved][2]["moved_out_on"] == "2026-11-20"

    revoked = at("organization.deregistered", ids["revoked"])
    reorganized = at("branch.reorganized", ids["joint"])
    assert reorganized == revoked + 1
    data = events[reorganized][2]
    assert (data["organization_ids"], data["removed_organization_ids"]) == (
        ids["kept"],
        [ids["revoked"]],
    )
    assert (data["status"], data["rectify_by"]) == ("needs_rectification", "2027-02-20")

    back = at("organization.reactivated", ids["own"])
    assert back > revoked
    state = events[back][2]
    assert (state["version"], state["full_members"], state["reason"]) == (5, 3, "重新登记")
    eligible = [i for i, (t, s, _) in enumerate(events) if kinds[i] == "branch.eligible"]
    assert eligible[-1] == back + 1  # 3 full members and no branch of its own any more

"""Instructors (党建指导员) and their assignments over real HTTP on both stores."""

from __future__ import annotations

from tests.harness import RunningService
from tests.registry.party_helpers import data_of, new_organization


async def test_register_assign_many_and_end(registry: RunningService) -> None:
    headers = registry.as_region("140212")
    created = await registry.client.post(
        "/v1/instructors", json={"name": "王建国", "region_code": "140212"}, headers=headers
    )
    assert created.status_code == 201, created.text
    instructor = created.json()
    assert (instructor["name"], instructor["region_code"]) == ("王**", "140212")
    assert "王建国" not in created.text
    [registered] = await data_of(registry, "pb.registry.instructor.registered.v1")
    assert set(registered) == {"instructor_id", "region_code", "registered_at"}

    a = (await new_organization(registry, 501))["id"]
    b = (await new_organization(registry, 502))["id"]
    path = f"/v1/instructors/{instructor['id']}/assignments"
    first = await registry.client.post(
        path, json={"organization_id": a, "starts_on": "2026-01-01"}, headers=headers
    )
    second = await registry.client.post(
        path,
        json={"organization_id": b, "starts_on": "2026-02-01", "ends_on": "2026-12-31"},
        headers=headers,
    )
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assigned = await data_of(registry, "pb.registry.instructor.assigned.v1")
    assert [(e["organization_id"], e["ends_on"]) for e in assigned] == [
        (a, None),
        (b, "2026-12-31"),
    ]
    assert assigned[0]["assignment_id"] == first.json()["id"]

    doubled = await registry.client.post(
        path, json={"organization_id": a, "starts_on": "2026-06-01"}, headers=headers
    )
    assert (doubled.status_code, doubled.json()["rule"], doubled.json()["organization_ids"]) == (
        422,
        "one_assignment_per_organization",
        [a],
    )
    backwards = await registry.client.post(
        path,
        json={"organization_id": a, "starts_on": "2026-06-01", "ends_on": "2026-05-01"},
        headers=headers,
    )
    assert backwards.json()["rule"] == "assignment_dates"

    end_path = f"{path}/{first.json()['id']}/end"
    too_early = await registry.client.post(end_path, json={"on": "2025-12-01"}, headers=headers)
    assert too_early.json()["rule"] == "assignment_dates"
    ended = await registry.client.post(end_path, json={"on": "2026-03-31"}, headers=headers)
    assert ended.status_code == 200, ended.text
    assert (ended.json()["ended_on"], ended.json()["active"]) == ("2026-03-31", False)
    [unassigned] = await data_of(registry, "pb.registry.instructor.unassigned.v1")
    assert (unassigned["assignment_id"], unassigned["ended_on"]) == (
        first.json()["id"],
        "2026-03-31",
    )
    again = await registry.client.post(end_path, headers=headers)
    assert again.json()["rule"] == "assignment_active"
    # after the end, the instructor may guide the organisation again
    renewed = await registry.client.post(
        path, json={"organization_id": a, "starts_on": "2026-04-01"}, headers=headers
    )
    assert renewed.status_code == 201, renewed.text

    read = await registry.client.get(f"/v1/instructors/{instructor['id']}", headers=headers)
    assert [x["organization_id"] for x in read.json()["assignments"]] == [a, b, a]


async def test_instructor_region_scope(registry: RunningService) -> None:
    township = await registry.client.post(
        "/v1/instructors",
        json={"name": "李四", "region_code": "140212101"},
        headers=registry.as_region("140212"),
    )
    instructor_id = township.json()["id"]
    outside = await registry.client.post(
        "/v1/instructors",
        json={"name": "李四", "region_code": "140211"},
        headers=registry.as_region("140212"),
    )
    assert outside.status_code == 403
    elsewhere = (await new_organization(registry, 510, region_code="140212102"))["id"]
    not_theirs = await registry.client.post(
        f"/v1/instructors/{instructor_id}/assignments",
        json={"organization_id": elsewhere, "starts_on": "2026-01-01"},
        headers=registry.as_region("140212"),
    )
    assert (not_theirs.json()["rule"], not_theirs.json()["organization_ids"]) == (
        "instructor_region",
        [elsewhere],
    )
    hidden = await registry.client.get(
        f"/v1/instructors/{instructor_id}", headers=registry.as_region("140212102")
    )
    assert hidden.status_code == 404
    unknown = await registry.client.post(
        f"/v1/instructors/{instructor_id}/assignments",
        json={"organization_id": "missing", "starts_on": "2026-01-01"},
        headers=registry.as_region("140212"),
    )
    assert unknown.status_code == 404
    assert await data_of(registry, "pb.registry.instructor.assigned.v1") == []

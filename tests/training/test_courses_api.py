"""Courses and study hours through HTTP on both stores: sessions with a waiting list, attendance
by roster and scanned code, external study, and a region's compliance computed by the store
equal to what the test counts from what it recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from libs.common.calendar import local_today
from libs.common.validators import id_number_check_char
from tests import pages
from tests.harness import RunningService
from tests.training.conftest import Training

HEADERS_REGION = "140212"


def id_number(n: int) -> str:
    first17 = f"140212198{n % 10}0101{n % 1000:03d}"
    return first17 + id_number_check_char(first17)


async def post(service: RunningService, path: str, body: dict[str, Any]) -> Any:
    response = await service.client.post(path, json=body, headers=service.as_region(HEADERS_REGION))
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()


async def learner(service: RunningService, n: int, role: str, region: str = "140212101") -> str:
    body = await post(
        service,
        "/v1/learners",
        {
            "name": f"党员{n}",
            "id_number": id_number(n),
            "region_code": region,
            "role": role,
            "branch_id": "b-1",
        },
    )
    assert body["name_masked"].startswith("党")
    return str(body["id"])


async def test_sessions_fill_then_queue_and_attendance_counts_the_hours(
    training: Training,
) -> None:
    service = training.service
    course = await post(
        service,
        "/v1/courses",
        {
            "title": "学习二十届四中全会精神",
            "format": "theory",
            "audience": "members",
            "class_hours": 4,
            "region_code": "140212",
        },
    )
    later = await post(
        service,
        "/v1/courses",
        {
            "title": "党章学习",
            "format": "theory",
            "audience": "members",
            "class_hours": 2,
            "region_code": "140212101",
        },
    )
    listed = await pages.walk(
        service.client, "/v1/courses", service.as_region("140212"), region_code="140212", limit=1
    )
    assert [c["id"] for c in listed] == [later["id"], course["id"]]  # newest first
    township = await pages.walk(service.client, "/v1/courses", service.as_region("140212101"))
    assert [c["id"] for c in township] == [later["id"]]
    started = datetime.now(UTC) - timedelta(hours=1)
    session = await post(
        service,
        f"/v1/courses/{course['id']}/sessions",
        {"starts_at": started.isoformat(), "place": "新荣区党群服务中心", "capacity": 2},
    )
    people = [await learner(service, n, "member") for n in range(3)]
    seats = [
        await post(service, f"/v1/sessions/{session['id']}/enrolments", {"learner_id": p})
        for p in people
    ]
    assert [s["status"] for s in seats] == ["enrolled", "enrolled", "waiting"]
    assert seats[2]["position"] == 1

    # the third cannot attend until a seat frees up
    refused = await service.client.post(
        f"/v1/sessions/{session['id']}/attendance",
        json={"method": "roster", "learner_ids": [people[2]]},
        headers=service.as_region("140212"),
    )
    assert refused.json()["rule"] == "attendance_enrolled"
    withdrawn = await service.client.delete(
        f"/v1/sessions/{session['id']}/enrolments/{people[1]}", headers=service.as_region("14")
    )
    assert withdrawn.status_code == 204
    roster = await post(
        service,
        f"/v1/sessions/{session['id']}/attendance",
        {"method": "roster", "learner_ids": [people[0], people[2]]},
    )
    assert roster["recorded"] == 2
    again = await post(
        service,
        f"/v1/sessions/{session['id']}/attendance",
        {"method": "roster", "learner_ids": [people[0]]},
    )
    assert again["recorded"] == 0
    wrong = await service.client.post(
        f"/v1/sessions/{session['id']}/attendance",
        json={"method": "scan", "learner_id": people[1], "code": "00000000"},
        headers=service.as_region("140212"),
    )
    assert wrong.status_code == 422
    assert "code" in wrong.text

    later = await post(
        service,
        f"/v1/courses/{course['id']}/sessions",
        {
            "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "station_id": "st-1",
            "capacity": 5,
        },
    )
    await post(service, f"/v1/sessions/{later['id']}/enrolments", {"learner_id": people[1]})
    early = await service.client.post(
        f"/v1/sessions/{later['id']}/attendance",
        json={"method": "scan", "learner_id": people[1], "code": later["code"]},
        headers=service.as_region("140212"),
    )
    assert early.json()["rule"] == "attendance_after_start"

    year = local_today(started).year  # the session's year in the Shanghai calendar
    hours = await service.client.get(
        "/v1/study-hours",
        params={"region_code": "140212", "year": year},
        headers=service.as_region("140212"),
    )
    body = hours.json()
    assert (body["members"], body["meeting"]) == (3, 0)
    short = {s["learner_id"]: s["short_by"] for s in body["short"]}
    assert short == {people[0]: 28.0, people[2]: 28.0, people[1]: 32.0}


async def test_a_region_compliance_equals_what_the_records_add_up_to(training: Training) -> None:
    service = training.service
    roles = ["member", "secretary", "committee_member", "member", "worker", "member"]
    recorded = [30.0, 56.0, 40.0, 32.0, 0.0, 33.5]
    ids = []
    for n, (role, hours) in enumerate(zip(roles, recorded, strict=True)):
        learner_id = await learner(service, 10 + n, role, "140212101" if n % 2 else "140212102")
        ids.append(learner_id)
        remaining = hours
        while remaining > 0:
            part = min(remaining, 12.5)
            await post(
                service,
                f"/v1/learners/{learner_id}/study",
                {"hours": part, "studied_on": "2025-06-01", "description": "网络学院"},
            )
            remaining -= part
    await post(
        service,
        f"/v1/learners/{ids[0]}/study",
        {"hours": 8, "studied_on": "2024-12-31", "description": "去年的"},
    )
    required = {"member": 32.0, "secretary": 56.0, "committee_member": 56.0}
    expected_short = {
        ids[n]: required[role] - hours
        for n, (role, hours) in enumerate(zip(roles, recorded, strict=True))
        if role in required and hours < required[role]
    }
    response = await service.client.get(
        "/v1/study-hours",
        params={"region_code": "140212", "year": 2025},
        headers=service.as_region("140212"),
    )
    body = response.json()
    assert body["members"] == sum(r in required for r in roles)
    assert body["meeting"] == body["members"] - len(expected_short)
    assert {s["learner_id"]: s["short_by"] for s in body["short"]} == expected_short
    assert body["hours_short"] == sum(expected_short.values())

    township = await service.client.get(
        "/v1/study-hours",
        params={"region_code": "140212101", "year": 2025},
        headers=service.as_region("140212"),
    )
    assert township.json()["members"] == sum(r in required for n, r in enumerate(roles) if n % 2)
    outside = await service.client.get(
        "/v1/study-hours",
        params={"region_code": "1402", "year": 2025},
        headers=service.as_region("140212"),
    )
    assert outside.status_code == 403


async def test_door_to_door_deliveries_are_counted_per_year(training: Training) -> None:
    service = training.service
    for kind, count, day in [
        ("booklets", 300, "2025-03-01"),
        ("visits", 12, "2025-04-01"),
        ("booklets", 50, "2024-12-31"),
    ]:
        await post(
            service,
            "/v1/deliveries",
            {"region_code": "140212101", "kind": kind, "count": count, "delivered_on": day},
        )
    response = await service.client.get(
        "/v1/deliveries",
        params={"region_code": "140212", "year": 2025},
        headers=service.as_region("140212"),
    )
    assert response.json() == {
        "region_code": "140212",
        "year": 2025,
        "booklets": 300,
        "visits": 12,
    }


async def test_sessions_and_learners_are_listed_page_by_page(training: Training) -> None:
    service = training.service
    headers = service.as_region("140212")
    course = await post(
        service,
        "/v1/courses",
        {
            "title": "微党课",
            "format": "theory",
            "audience": "members",
            "class_hours": 1,
            "region_code": "140212101",
        },
    )
    soon = datetime.now(UTC) + timedelta(days=1)
    made = [
        await post(
            service,
            f"/v1/courses/{course['id']}/sessions",
            {
                "starts_at": (soon + timedelta(hours=h)).isoformat(),
                "place": "党群服务中心",
                "capacity": 9,
            },
        )
        for h in (5, 1, 3)
    ]
    path = f"/v1/courses/{course['id']}/sessions"
    listed = await pages.walk(service.client, path, headers, limit=2)
    assert [s["id"] for s in listed] == [made[1]["id"], made[2]["id"], made[0]["id"]]
    assert listed[0] == made[1]
    elsewhere = await service.client.get(path, headers=service.as_region("140211"))
    assert elsewhere.status_code == 404

    members = [await learner(service, n, "member") for n in (41, 42)]
    worker = await learner(service, 43, "worker", region="140212102")
    everyone = await pages.walk(service.client, "/v1/learners", headers, limit=1)
    assert [x["id"] for x in everyone] == [*sorted(members), worker]
    assert all("*" in x["name_masked"] and "*" in x["id_masked"] for x in everyone)
    only = await pages.walk(service.client, "/v1/learners", headers, role="worker")
    assert [x["id"] for x in only] == [worker]
    township = await pages.walk(service.client, "/v1/learners", service.as_region("140212101"))
    assert sorted(x["id"] for x in township) == sorted(members)
    outside = await service.client.get(
        "/v1/learners", params={"region_code": "140211"}, headers=headers
    )
    assert outside.status_code == 403

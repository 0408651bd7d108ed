"""Hostile strings and loose numbers at the training service's boundary, on both stores: U+0000
is a 422 naming where (PostgreSQL answered 500), names are refused with the character named,
and counts are integers."""

from __future__ import annotations

from typing import Any

from tests.training.conftest import Training
from tests.training.test_courses_api import id_number

REGION = "140212"

COURSE = {
    "title": "学习二十届四中全会精神",
    "format": "theory",
    "audience": "members",
    "class_hours": 4,
    "region_code": REGION,
}
LEARNER = {
    "name": "党员甲",
    "id_number": id_number(7),
    "region_code": "140212101",
    "role": "member",
    "branch_id": "b-1",
}
MEETING = {
    "type": "party_lecture",
    "held_on": "2026-11-20",
    "topic": "党课",
    "entitled": 9,
    "present": 8,
}


async def _refused(training: Training, path: str, body: dict[str, Any]) -> list[dict[str, str]]:
    service = training.service
    response = await service.client.post(path, json=body, headers=service.as_region(REGION))
    assert response.status_code == 422, (path, response.text)
    errors: list[dict[str, str]] = response.json()["errors"]
    return errors


async def test_hostile_text_and_loose_counts_are_422(training: Training) -> None:
    service = training.service
    headers = service.as_region(REGION)
    cases: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            "/v1/courses",
            {**COURSE, "title": "学习\x00精神"},
            {"field": "title", "reason": "contains a control character (U+0000)"},
        ),
        (
            "/v1/learners",
            {**LEARNER, "name": "党员\x1b"},
            {"field": "name", "reason": "contains a control character (U+001B)"},
        ),
        (
            "/v1/learners",
            {**LEARNER, "name": "\u200b\u200d"},
            {"field": "name", "reason": "has no visible character"},
        ),
        (
            "/v1/learners",
            {**LEARNER, "branch_id": "b-\uffff"},
            {"field": "branch_id", "reason": "contains a non-character (U+FFFF)"},
        ),
        (
            "/v1/branches/b-1/meetings",
            {**MEETING, "topic": "\u202e课党"},
            {"field": "topic", "reason": "contains a bidirectional override (U+202E)"},
        ),
    ]
    for path, body, error in cases:
        assert await _refused(training, path, body) == [error]
    for field, value in (("entitled", "9"), ("present", True), ("entitled", 9.0)):
        errors = await _refused(training, "/v1/branches/b-1/meetings", {**MEETING, field: value})
        assert [e["field"] for e in errors] == [field]
    for field, value in (("class_hours", "4"), ("class_hours", False)):
        errors = await _refused(training, "/v1/courses", {**COURSE, field: value})
        assert [e["field"] for e in errors] == [field]
    for params in ({"region_code": REGION, "branch_id": "b\x00"}, {"region_code": "14\x00"}):
        response = await service.client.get("/v1/study-hours", params=params, headers=headers)
        assert response.status_code == 422, response.text
        assert "U+0000" in response.json()["errors"][0]["reason"]
    listed = await service.client.get(
        "/v1/courses", params={"region_code": REGION}, headers=headers
    )
    assert listed.status_code == 200
    assert listed.json()["items"] == []  # nothing refused was stored

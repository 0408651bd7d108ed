"""The branch routine (三会一课) through HTTP and events, on real NATS and both stores: a branch
formed in the registry gets its calendar, periods close met or missed, a meeting restores."""

from __future__ import annotations

from datetime import date
from typing import Any

import nats

from services.registry.events import BranchDissolvedV1, BranchFormedV1, BranchReorganizedV1
from services.training.app import definition
from services.training.settings import TrainingSettings
from services.training.workers import RoutineJudge
from tests import pages
from tests.factories import outbox_data
from tests.harness import RunningService, serve, wait_for
from tests.training.conftest import Training

REGION = "140212101001"
FORMED_ON = date(2026, 4, 1)


def formed(branch_id: str, kind: str = "standalone", on: date = FORMED_ON) -> BranchFormedV1:
    return BranchFormedV1(
        branch_id=branch_id,
        kind=kind,
        name=f"{branch_id} 支部",
        region_code=REGION,
        organization_ids=["org-2", "org-1"],
        formed_on=on,
    )


def judge(service: RunningService) -> RoutineJudge:
    worker = service.runtime.workers[0]
    assert isinstance(worker, RoutineJudge)
    return worker


async def known(service: RunningService, branch_id: str) -> dict[str, Any] | None:
    response = await service.client.get(
        f"/v1/branches/{branch_id}/routine",
        params={"from": "2026-04-01", "to": "2026-09-30"},
        headers=service.as_region("140212"),
    )
    return response.json() if response.status_code == 200 else None


async def meeting(
    service: RunningService, branch_id: str, kind: str, held_on: str, **more: Any
) -> Any:
    body = {"type": kind, "held_on": held_on, "topic": "学习党章", "entitled": 10, "present": 7}
    return await service.client.post(
        f"/v1/branches/{branch_id}/meetings",
        json={**body, **more},
        headers=service.as_region("140212"),
    )


async def published(url: str, subject: str, expected: int) -> list[dict[str, Any]]:
    """The data of the messages on `subject` in PB_TRAINING, read with plain nats-py."""
    import json

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        sub = await js.pull_subscribe(subject, stream="PB_TRAINING")
        found: list[dict[str, Any]] = []
        while len(found) < expected:
            for msg in await sub.fetch(expected - len(found), timeout=10):
                await msg.ack()
                found.append(json.loads(msg.data))
        return found
    finally:
        await client.close()


async def test_a_formed_branch_gets_its_calendar_a_missed_quarter_lapses_and_a_meeting_restores(
    training: Training,
) -> None:
    service = training.service
    await training.registry.publish(formed("b-1"))
    before = await wait_for(lambda: known(service, "b-1"))
    assert before["organization_ids"] == ["org-1", "org-2"]
    assert before["formed_on"] == "2026-04-01"

    response = await meeting(service, "b-1", "members_meeting", "2026-05-10")
    assert response.status_code == 201, response.text
    assert (await meeting(service, "b-1", "theme_day", "2026-09-30")).status_code == 201
    headers = service.as_region("140212")
    held = await pages.walk(service.client, "/v1/branches/b-1/meetings", headers, limit=1)
    assert [(m["type"], m["held_on"]) for m in held] == [
        ("theme_day", "2026-09-30"),
        ("members_meeting", "2026-05-10"),
    ]
    themes = await pages.walk(
        service.client, "/v1/branches/b-1/meetings", headers, type="theme_day"
    )
    assert [m["held_on"] for m in themes] == ["2026-09-30"]
    elsewhere = await service.client.get(
        "/v1/branches/b-1/meetings", headers=service.as_region("140211")
    )
    assert elsewhere.status_code == 404

    assert await judge(service).run_once(date(2026, 10, 5)) == 1
    routine = await known(service, "b-1")
    assert routine is not None
    status = {(p["obligation"], p["period"]): p["status"] for p in routine["periods"]}
    assert status[("members_meeting", "2026-Q2")] == "met"
    assert status[("members_meeting", "2026-Q3")] == "missed"
    assert status[("theme_day", "2026-09")] == "met"
    assert status[("theme_day", "2026-08")] == "missed"
    assert routine["missed"] == sum(s == "missed" for s in status.values())

    lapsed = await outbox_data(service.runtime, "pb.training.routine.lapsed.v1")
    expected = {k for k, s in status.items() if s == "missed"}
    assert {(e["obligation"], e["period"]) for e in lapsed} == expected
    q3 = next(e for e in lapsed if e["period"] == "2026-Q3")
    assert q3["organization_ids"] == ["org-1", "org-2"]
    assert q3["region_code"] == REGION
    assert (q3["period_starts_on"], q3["period_ends_on"]) == ("2026-07-01", "2026-09-30")

    # judged once: a second round the same day finds nothing, and says nothing again
    assert await judge(service).run_once(date(2026, 10, 20)) == 0
    assert len(await outbox_data(service.runtime, "pb.training.routine.lapsed.v1")) == len(lapsed)

    # a meeting of the third quarter recorded late restores it, and the period is met
    assert (await meeting(service, "b-1", "members_meeting", "2026-09-18")).status_code == 201
    restored = await outbox_data(service.runtime, "pb.training.routine.restored.v1")
    assert [(e["obligation"], e["period"], e["period_met"]) for e in restored] == [
        ("members_meeting", "2026-Q3", True)
    ]
    after = await known(service, "b-1")
    assert after is not None
    assert {(p["obligation"], p["period"]): p["status"] for p in after["periods"]}[
        ("members_meeting", "2026-Q3")
    ] == "met"

    # what the relay published, as a plain NATS client reads it
    on_stream = await published(training.nats_url, "pb.training.routine.>", len(lapsed) + 1)
    assert sum("period_met" in e for e in on_stream) == 1
    recorded = await published(training.nats_url, "pb.training.meeting.recorded.v1", 3)
    assert {e["meeting_type"] for e in recorded} == {"members_meeting", "theme_day"}
    assert all("topic" not in e for e in recorded)


async def test_a_dissolved_branch_owes_nothing_after_and_takes_no_later_meeting(
    training: Training,
) -> None:
    service = training.service
    branch = formed("b-2", kind="temporary")
    await training.registry.publish(branch)
    await wait_for(lambda: known(service, "b-2"))
    values = branch.model_dump(exclude={"formed_on", "ends_on"})
    await training.registry.publish(
        BranchDissolvedV1(
            **{**values, "version": 2}, reason="项目结束", dissolved_on=date(2026, 8, 15)
        )
    )

    async def dissolved() -> Any:
        body = await known(service, "b-2")
        return body and body["dissolved_on"]

    assert await wait_for(dissolved) == "2026-08-15"
    late = await meeting(service, "b-2", "members_meeting", "2026-08-20")
    assert late.status_code == 422
    assert late.json()["rule"] == "meeting_within_branch_life"

    await judge(service).run_once(date(2026, 12, 1))
    lapsed = await outbox_data(service.runtime, "pb.training.routine.lapsed.v1")
    # a temporary branch owes the reduced set, and only the whole periods it lived through
    assert {(e["obligation"], e["period"]) for e in lapsed} == {
        ("members_meeting", "2026-Q2"),
        ("party_lecture", "2026-Q2"),
        ("theme_day", "2026-04"),
        ("theme_day", "2026-05"),
        ("theme_day", "2026-06"),
        ("theme_day", "2026-07"),
    }


async def test_refusals_name_the_field_and_a_branch_elsewhere_does_not_exist(
    training: Training,
) -> None:
    service = training.service
    await training.registry.publish(formed("b-3"))
    await wait_for(lambda: known(service, "b-3"))
    future = await meeting(service, "b-3", "theme_day", "2999-01-01")
    assert future.status_code == 422
    assert "held_on" in future.text
    crowd = await meeting(service, "b-3", "theme_day", "2026-05-01", present=11)
    assert crowd.status_code == 422
    assert "present" in crowd.text
    unknown_type = await meeting(service, "b-3", "tea_party", "2026-05-01")
    assert unknown_type.status_code == 422
    missing = await meeting(service, "nope", "theme_day", "2026-05-01")
    assert missing.status_code == 404
    elsewhere = await service.client.get(
        "/v1/branches/b-3/routine", headers=service.as_region("140213")
    )
    assert elsewhere.status_code == 404
    backwards = await service.client.get(
        "/v1/branches/b-3/routine",
        params={"from": "2026-05-01", "to": "2026-04-01"},
        headers=service.as_region("14"),
    )
    assert backwards.status_code == 422
    assert "to" in backwards.text


async def test_a_process_started_later_judges_what_closed_meanwhile(training: Training) -> None:
    """The worker judges as it starts, with today's date: what closed while none ran is judged."""
    service = training.service
    await training.registry.publish(formed("b-4"))
    await wait_for(lambda: known(service, "b-4"))
    settings = TrainingSettings(
        database_url=training.database_url, nats_url=training.nats_url, routine_check_seconds=3600
    )
    async with serve(definition(settings)) as second:

        async def october_judged() -> bool:
            lapsed = await outbox_data(second.runtime, "pb.training.routine.lapsed.v1")
            return ("theme_day", "2026-10") in {(e["obligation"], e["period"]) for e in lapsed}

        assert await wait_for(october_judged)


async def test_a_branch_with_a_committee_and_groups_owes_their_monthly_meetings(
    training: Training,
) -> None:
    service = training.service
    await training.registry.publish(formed("b-5"))
    await wait_for(lambda: known(service, "b-5"))
    response = await service.client.put(
        "/v1/branches/b-5/structure",
        json={"has_committee": True, "has_groups": True, "since": "2026-06-10"},
        headers=service.as_region("140212"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["committee_since"] == "2026-06-10"
    routine = await known(service, "b-5")
    assert routine is not None
    committee = [p["period"] for p in routine["periods"] if p["obligation"] == "committee_meeting"]
    assert committee == ["2026-07", "2026-08", "2026-09"]  # whole months after it was set up
    before = await service.client.put(
        "/v1/branches/b-5/structure",
        json={"has_committee": True, "has_groups": False, "since": "2026-03-01"},
        headers=service.as_region("140212"),
    )
    assert before.status_code == 422
    assert before.json()["rule"] == "structure_within_branch_life"


async def test_a_reorganisation_moves_the_branch_and_an_older_version_changes_nothing(
    training: Training,
) -> None:
    service = training.service
    first = formed("b-6")
    await training.registry.publish(first)
    await wait_for(lambda: known(service, "b-6"))
    values = first.model_dump(exclude={"formed_on", "ends_on", "organization_ids", "version"})
    await training.registry.publish(
        BranchReorganizedV1(
            **values,
            version=2,
            organization_ids=["org-1", "org-3"],
            added_organization_ids=["org-3"],
            removed_organization_ids=["org-2"],
            reorganized_on=date(2026, 6, 1),
        ),
        first,  # redelivered late: version 1 must not undo version 2
    )

    async def moved() -> Any:
        body = await known(service, "b-6")
        return body and body["organization_ids"] == ["org-1", "org-3"] and body

    body = await wait_for(moved)
    assert body["formed_on"] == "2026-04-01"
    await meeting(service, "b-6", "theme_day", "2026-06-05")
    recorded = await outbox_data(service.runtime, "pb.training.meeting.recorded.v1")
    assert recorded[-1]["organization_ids"] == ["org-1", "org-3"]

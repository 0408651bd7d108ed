"""Member development through HTTP on real NATS and both stores: an applicant carried to full
membership with its events, the refusals naming their rules, the deadline timers (also in a
process started later)."""

from __future__ import annotations

from datetime import date
from typing import Any

from libs.common.validators import id_number_check_char
from services.registry.events import BranchFormedV1, CommitteeFormedV1
from services.training.app import definition
from services.training.settings import TrainingSettings
from services.training.workers import DeadlineTimer
from tests import pages
from tests.coverage.feed import ProducerStream
from tests.factories import outbox_data, outbox_records
from tests.harness import (
    SQLITE_ONLY,
    NatsServer,
    RunningService,
    ServiceDatabases,
    serve,
    wait_for,
)
from tests.training.conftest import Training

REGION = "140212101001"


def id_number(n: int, born: str = "19900101") -> str:
    first17 = f"140212{born}{n % 1000:03d}"
    return first17 + id_number_check_char(first17)


#: Committees the registry announces before any branch: the township's 综合党委 and the county's
#: 两新工委 (the approving bodies of these tests).
COMMITTEES = {"township": ("c-township", "140212101"), "two_new": ("c-county", "140212")}


async def branch(
    training: Training,
    branch_id: str,
    kind: str = "standalone",
    organization_ids: tuple[str, ...] = ("org-1",),
) -> None:
    """The registry's committees and then one of its branches, waited for (the stream is read
    in order, so the branch known means the committees are too)."""
    for committee_kind, (committee_id, region_code) in COMMITTEES.items():
        await training.registry.publish(
            CommitteeFormedV1(
                committee_id=committee_id,
                kind=committee_kind,
                name=f"{committee_id} 党委",
                region_code=region_code,
                formed_on=date(2020, 1, 1),
            )
        )
    await training.registry.publish(
        BranchFormedV1(
            branch_id=branch_id,
            kind=kind,
            name=f"{branch_id} 支部",
            region_code=REGION,
            organization_ids=list(organization_ids),
            formed_on=date(2023, 1, 1),
        )
    )
    service = training.service

    async def known() -> bool:
        response = await service.client.get(
            f"/v1/branches/{branch_id}/routine", headers=service.as_region("140212")
        )
        return response.status_code == 200

    await wait_for(known)


async def apply(
    service: RunningService, n: int, applied_on: str, branch_id: str = "b-1", **more: Any
) -> Any:
    body = {
        "name": "张小明",
        "id_number": id_number(n),
        "organization_id": "org-1",
        "branch_id": branch_id,
        "applied_on": applied_on,
        **more,
    }
    return await service.client.post(
        "/v1/candidates", json=body, headers=service.as_region("140212")
    )


async def step(service: RunningService, candidate_id: str, name: str, **body: Any) -> Any:
    return await service.client.post(
        f"/v1/candidates/{candidate_id}/{name}", json=body, headers=service.as_region("140212")
    )


VOTE = {"entitled": 9, "present": 7, "yes": 6}


async def test_an_applicant_is_carried_to_full_membership(training: Training) -> None:
    service = training.service
    await branch(training, "b-1")
    response = await apply(service, 1, "2024-01-31")
    assert response.status_code == 201, response.text
    candidate = response.json()
    assert candidate["name_masked"] == "张**"
    assert candidate["id_masked"].startswith("140212")
    assert "*" in candidate["id_masked"]
    assert candidate["talk_due_on"] == "2024-02-29"
    assert candidate["next_deadline"] == {"kind": "talk", "due_on": "2024-02-29"}
    cid = candidate["id"]
    introducers = [
        {"name": "李四", "id_number": id_number(2), "membership": "full"},
        {"name": "王五", "id_number": id_number(3), "membership": "full"},
    ]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("talk", {"on": "2024-02-20"}),
        ("activist", {"on": "2024-02-29"}),
        ("development-target", {"on": "2025-02-28"}),
        ("training", {"on": "2025-04-01", "hours": 24}),
        ("political-review", {"on": "2025-04-02"}),
        ("introducers", {"introducers": introducers}),
        ("admission", {"on": "2025-05-10", "vote": VOTE}),
        ("approval", {"on": "2025-06-01", "committee_id": "c-township"}),
    ]
    for name, body in steps:
        response = await step(service, cid, name, **body)
        assert response.status_code == 200, (name, response.text)
    probationer = response.json()
    assert probationer["stage"] == "probationary"
    assert probationer["probation_ends_on"] == "2026-05-10"
    assert probationer["introducers"] == ["李*", "王*"]

    confirmed = await step(service, cid, "confirmation", on="2026-05-10", vote=VOTE)
    assert confirmed.status_code == 200, confirmed.text
    read = await service.client.get(f"/v1/candidates/{cid}", headers=service.as_region("14"))
    assert (read.json()["stage"], read.json()["next_deadline"]) == ("full", None)

    admitted = await outbox_data(service.runtime, "pb.training.member.admitted.v1")
    full = await outbox_data(service.runtime, "pb.training.member.confirmed.v1")
    assert admitted == [
        {
            "candidate_id": cid,
            "organization_id": "org-1",
            "branch_id": "b-1",
            "region_code": REGION,
            "membership": "probationary",
            "admitted_on": "2025-05-10",
            "approved_on": "2025-06-01",
        }
    ]
    assert [(e["candidate_id"], e["membership"], e["confirmed_on"]) for e in full] == [
        (cid, "full", "2026-05-10")
    ]
    for _, data in await outbox_records(service.runtime, "pb.training."):
        text = str(data)
        assert "张" not in text
        assert id_number(1) not in text

    pipeline = await service.client.get(
        "/v1/pipeline", params={"region_code": "140212"}, headers=service.as_region("140212")
    )
    assert pipeline.status_code == 200
    assert pipeline.json()["stages"]["full"] == 1
    assert pipeline.json()["organizations"][0]["organization_id"] == "org-1"

    second = (await apply(service, 11, "2026-01-05")).json()["id"]
    walked = await pages.walk(
        service.client,
        "/v1/candidates",
        service.as_region("140212"),
        region_code="140212",
        organization_id="org-1",
        limit=1,
    )
    assert [c["id"] for c in walked] == sorted([cid, second])
    # the caller's region when none is named
    mine = await pages.walk(service.client, "/v1/candidates", service.as_region("140212"))
    assert [c["id"] for c in mine] == sorted([cid, second])
    applicants = await service.client.get(
        "/v1/candidates",
        params={"region_code": "140212", "stage": "applicant"},
        headers=service.as_region("140212"),
    )
    assert [c["id"] for c in applicants.json()["items"]] == [second]


async def test_refusals_name_the_rule_and_the_date_it_will_be_met(training: Training) -> None:
    service = training.service
    await branch(training, "b-1")
    await branch(training, "b-t", kind="temporary")

    minor = await service.client.post(
        "/v1/candidates",
        json={
            "name": "赵六",
            "id_number": id_number(9, born="20090315"),
            "organization_id": "org-1",
            "branch_id": "b-1",
            "applied_on": "2026-03-14",
        },
        headers=service.as_region("140212"),
    )
    assert minor.status_code == 422
    assert (minor.json()["rule"], minor.json()["met_on"]) == ("applicant_age", "2027-03-15")
    assert "2009" not in minor.text.replace("2027", "")

    temporary = await apply(service, 4, "2026-01-05", branch_id="b-t")
    assert temporary.json()["rule"] == "temporary_cannot_develop"
    bad_number = await apply(service, 4, "2026-01-05", id_number="140212199001011230")
    assert bad_number.status_code == 422
    assert "id_number" in bad_number.text

    cid = (await apply(service, 5, "2025-06-01")).json()["id"]
    duplicate = await apply(service, 5, "2025-07-01")
    assert duplicate.status_code == 409
    await step(service, cid, "talk", on="2025-06-10")
    await step(service, cid, "activist", on="2025-07-01")
    early = await step(service, cid, "development-target", on="2026-06-30")
    assert (early.json()["rule"], early.json()["met_on"]) == (
        "activist_education_year",
        "2026-07-01",
    )
    await step(service, cid, "development-target", on="2026-07-01")
    await step(service, cid, "training", on="2026-07-10", days=3)
    await step(service, cid, "political-review", on="2026-07-11")
    one = await step(
        service,
        cid,
        "introducers",
        introducers=[{"name": "李四", "id_number": id_number(2), "membership": "full"}],
    )
    assert one.json()["rule"] == "two_full_introducers"
    await step(
        service,
        cid,
        "introducers",
        introducers=[
            {"name": "李四", "id_number": id_number(2), "membership": "full"},
            {"name": "王五", "id_number": id_number(3), "membership": "full"},
        ],
    )
    half = await step(
        service, cid, "admission", on="2026-08-01", vote={"entitled": 10, "present": 6, "yes": 3}
    )
    assert half.status_code == 422
    assert (half.json()["rule"], half.json()["needed"]) == ("admission_majority", 4)
    no_vote = await step(service, cid, "admission", on="2026-08-01")
    assert no_vote.status_code == 422
    assert "vote" in no_vote.text
    await step(service, cid, "admission", on="2026-08-01", vote=VOTE)
    by_branch = await step(service, cid, "approval", on="2026-08-10", committee_id="b-1")
    assert by_branch.json()["rule"] == "approving_committee_level"
    unknown_body = await step(service, cid, "approval", on="2026-08-10", committee_id="c-none")
    assert unknown_body.status_code == 422
    assert unknown_body.json()["errors"][0]["field"] == "committee_id"
    approved = await step(service, cid, "approval", on="2026-08-10", committee_id="c-county")
    assert approved.json()["stage"] == "probationary", approved.text
    long = await step(service, cid, "extend-probation", months=13)
    assert long.json()["rule"] == "probation_extension_bounds"
    cancelled = await step(service, cid, "cancel", on="2026-09-01", reason="不合格")
    assert cancelled.json()["stage"] == "cancelled"
    left = await outbox_data(service.runtime, "pb.training.member.cancelled.v1")
    assert [e["candidate_id"] for e in left] == [cid]

    elsewhere = await service.client.get(
        f"/v1/candidates/{cid}", headers=service.as_region("140213")
    )
    assert elsewhere.status_code == 404
    unknown = await step(service, "nope", "talk")
    assert unknown.status_code == 404


def timer(service: RunningService) -> DeadlineTimer:
    worker = service.runtime.workers[1]
    assert isinstance(worker, DeadlineTimer)
    return worker


async def test_deadlines_are_announced_once_as_they_approach_and_pass(training: Training) -> None:
    service = training.service
    await branch(training, "b-1")
    cid = (await apply(service, 6, "2026-11-10")).json()["id"]
    assert await timer(service).run_once(date(2026, 12, 2)) == 0
    assert await timer(service).run_once(date(2026, 12, 5)) == 1
    assert await timer(service).run_once(date(2026, 12, 6)) == 0
    assert await timer(service).run_once(date(2026, 12, 11)) == 1
    assert await timer(service).run_once(date(2026, 12, 20)) == 0
    near = await outbox_data(service.runtime, "pb.training.deadline.approaching.v1")
    late = await outbox_data(service.runtime, "pb.training.deadline.breached.v1")
    assert [(e["candidate_id"], e["deadline"], e["due_on"]) for e in near + late] == [
        (cid, "talk", "2026-12-10"),
        (cid, "talk", "2026-12-10"),
    ]
    # a talk stops the timer
    other = (await apply(service, 7, "2026-11-12")).json()["id"]
    await step(service, other, "talk", on="2026-11-20")
    assert await timer(service).run_once(date(2026, 12, 25)) == 0


async def test_a_process_started_later_announces_the_deadlines_it_missed(
    training: Training,
) -> None:
    service = training.service
    await branch(training, "b-1")
    cid = (await apply(service, 8, "2026-09-01")).json()["id"]
    settings = TrainingSettings(
        database_url=training.database_url, nats_url=training.nats_url, deadline_check_seconds=3600
    )
    async with serve(definition(settings)) as second:

        async def breached() -> list[dict[str, Any]]:
            return await outbox_data(second.runtime, "pb.training.deadline.breached.v1")

        found = await wait_for(breached)
        assert [(e["candidate_id"], e["due_on"]) for e in found] == [(cid, "2026-10-01")]


async def test_a_branch_takes_applicants_of_an_organisation_without_its_own(
    training: Training,
) -> None:
    """发展党员工作细则 §5: where the workplace has no Party organisation, the person applies where
    they live or where the unit is; where it has one, they apply there."""
    service = training.service
    await branch(training, "b-1")
    await branch(training, "b-other", organization_ids=("org-3",))
    await branch(training, "b-temp", kind="temporary", organization_ids=("org-4",))
    uncovered = await apply(service, 11, "2026-01-05", organization_id="org-2")
    assert uncovered.status_code == 201, uncovered.text
    assert uncovered.json()["organization_id"] == "org-2"
    covered = await apply(service, 12, "2026-01-05", organization_id="org-3")
    assert covered.status_code == 422
    assert covered.json()["rule"] == "organization_in_branch"
    assert covered.json()["covered_by"] == ["b-other"]
    only_temporary = await apply(service, 13, "2026-01-05", organization_id="org-4")
    assert only_temporary.status_code == 201, only_temporary.text


@SQLITE_ONLY
async def test_the_offices_day_can_be_fixed(
    private_nats: NatsServer, service_databases: ServiceDatabases
) -> None:
    """PB_TRAINING_CALENDAR_DAY: a rehearsal on a fixed day judges 'in the future' by it."""
    settings = TrainingSettings(
        database_url=await service_databases.url("training"),
        nats_url=private_nats.url,
        routine_check_seconds=3600,
        calendar_day=date(2024, 2, 10),
    )
    async with ProducerStream.on(private_nats.url) as stream, serve(definition(settings)) as s:
        await branch(Training(s, stream, private_nats.url, ""), "b-1")
        future = await apply(s, 21, "2024-02-11")
        assert future.status_code == 422
        assert future.json()["errors"][0]["field"] == "applied_on"
        assert (await apply(s, 22, "2024-02-10")).status_code == 201

"""Hidden-member discovery (隐形党员) over real HTTP on both stores: matching, steps, refusals."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from tests.harness import RunningService
from tests.registry.party_helpers import (
    data_of,
    events,
    id_number,
    new_organization,
    person,
    phone,
    roster_person,
)
from tests.registry.test_branches_api import committee, form


async def staff(
    service: RunningService, org_id: str, people: list[dict[str, object]]
) -> dict[str, Any]:
    response = await service.client.post(
        f"/v1/organizations/{org_id}/staff-lists",
        json={"people": people},
        headers=service.as_region("140212"),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def roster(
    service: RunningService, people: list[dict[str, object]], region: str = "140212"
) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/member-rosters", json={"members": people}, headers=service.as_region(region)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_staff_list_then_roster_discovers_once_with_masked_data(
    registry: RunningService,
) -> None:
    org = await new_organization(registry, 301)
    first = await staff(registry, org["id"], [person(1), person(2), person(3)])
    assert (first["received"], first["new"], first["discovered"]) == (3, 3, [])
    found = await roster(registry, [roster_person(2), roster_person(9, "probationary")])
    assert found["new"] == 2
    [member] = found["discovered"]
    assert member["organization_id"] == org["id"]
    assert member["status"] == "discovered"
    assert member["membership"] == "full"
    assert member["id_number"] == id_number(2)[:6] + "********" + id_number(2)[-4:]
    assert member["phone"] == phone(2)[:3] + "****" + phone(2)[-4:]
    assert member["name"] == "张**"
    [event] = await data_of(registry, "pb.registry.member.discovered.v1")
    assert set(event) == {
        "member_id",
        "organization_id",
        "region_code",
        "membership",
        "status",
        "discovered_at",
    }
    assert (event["member_id"], event["organization_id"]) == (member["id"], org["id"])
    assert event["region_code"] == "140212101"

    # the same lists again discover nobody twice
    again = await staff(registry, org["id"], [person(1), person(2), person(3)])
    assert (again["new"], again["known"], again["discovered"]) == (0, 3, [])
    assert (await roster(registry, [roster_person(2)]))["discovered"] == []
    assert len(await data_of(registry, "pb.registry.member.discovered.v1")) == 1

    listed = await registry.client.get(
        f"/v1/organizations/{org['id']}/members", headers=registry.as_region("140212")
    )
    assert [m["id"] for m in listed.json()["items"]] == [member["id"]]
    assert id_number(2) not in listed.text
    assert phone(2) not in listed.text


async def test_roster_first_then_staff_list_discovers(registry: RunningService) -> None:
    org = await new_organization(registry, 302)
    assert (await roster(registry, [roster_person(11, "预备党员")]))["discovered"] == []
    result = await staff(registry, org["id"], [person(11), person(12)])
    [member] = result["discovered"]
    assert member["membership"] == "probationary"
    # a person listed twice in one upload counts once
    twice = await staff(registry, org["id"], [person(13), person(13)])
    assert (twice["received"], twice["repeated"], twice["new"]) == (2, 1, 1)


async def test_a_roster_discovers_only_inside_its_region(registry: RunningService) -> None:
    org = await new_organization(registry, 303)  # in 140212101
    await staff(registry, org["id"], [person(21)])
    elsewhere = await roster(registry, [roster_person(21)], region="140211")
    assert elsewhere["discovered"] == []
    province = await roster(registry, [roster_person(21)], region="14")
    assert len(province["discovered"]) == 1


async def test_invalid_rows_are_named_and_nothing_is_stored(registry: RunningService) -> None:
    org = await new_organization(registry, 304)
    bad_check = id_number(31)[:17] + ("0" if id_number(31)[17] != "0" else "1")
    before = await events(registry)
    response = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        json={
            "people": [
                person(30),
                person(31, id_number=bad_check),
                person(32, phone="12345678901"),
                person(33, name=""),
            ]
        },
        headers=registry.as_region("140212"),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "people[1].id_number", "reason": "check character does not match"},
        {"field": "people[2].phone", "reason": "must start with 13-19"},
        {"field": "people[3].name", "reason": "must not be empty"},
    ]
    assert bad_check not in response.text
    assert "12345678901" not in response.text
    await roster(registry, [roster_person(30)])
    listed = await registry.client.get(
        f"/v1/organizations/{org['id']}/members", headers=registry.as_region("14")
    )
    assert listed.json()["items"] == []  # person 30 never reached the staff list
    assert len(await events(registry)) == len(before)
    bad_roster = await registry.client.post(
        "/v1/member-rosters",
        json={"members": [roster_person(34, membership="member")]},
        headers=registry.as_region("140212"),
    )
    assert bad_roster.status_code == 422
    assert bad_roster.json()["errors"][0]["field"] == "members[0].membership"


async def test_outside_the_region_the_organisation_does_not_exist(
    registry: RunningService,
) -> None:
    org = await new_organization(registry, 305)
    for response in (
        await registry.client.post(
            f"/v1/organizations/{org['id']}/staff-lists",
            json={"people": [person(40)]},
            headers=registry.as_region("140211"),
        ),
        await registry.client.get(
            f"/v1/organizations/{org['id']}/members", headers=registry.as_region("140211")
        ),
    ):
        assert response.status_code == 404
    no_scope = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        json={"people": [person(40)]},
        headers=registry.as_region("140212", scopes=("registry:read",)),
    )
    assert no_scope.status_code == 403


async def test_declare_then_transfer_counts_the_member_and_makes_it_eligible(
    registry: RunningService,
) -> None:
    org = await new_organization(registry, 306, full_members=2)
    await roster(registry, [roster_person(50), roster_person(51, "probationary")])
    found = (await staff(registry, org["id"], [person(50), person(51)]))["discovered"]
    full = next(m for m in found if m["membership"] == "full")
    probationary = next(m for m in found if m["membership"] == "probationary")
    headers = registry.as_region("140212")

    early = await registry.client.post(f"/v1/members/{full['id']}/transfer", headers=headers)
    assert early.status_code == 422
    assert early.json()["rule"] == "member_status_order"
    assert early.json()["organization_ids"] == [org["id"]]

    declared = await registry.client.post(
        f"/v1/members/{full['id']}/declare", json={"on": "2026-11-01"}, headers=headers
    )
    assert declared.status_code == 200, declared.text
    assert (declared.json()["status"], declared.json()["declared_on"]) == ("declared", "2026-11-01")
    twice = await registry.client.post(f"/v1/members/{full['id']}/declare", headers=headers)
    assert twice.json()["rule"] == "member_status_order"
    backwards = await registry.client.post(
        f"/v1/members/{full['id']}/transfer", json={"on": "2026-10-01"}, headers=headers
    )
    assert backwards.json()["rule"] == "member_transfer_date"
    organization = await registry.client.get(f"/v1/organizations/{org['id']}", headers=headers)
    assert organization.json()["full_members"] == 2  # declaring does not count

    # a relationship goes to a Party organisation: the organisation has none yet
    nowhere = await registry.client.post(
        f"/v1/members/{full['id']}/transfer", json={"on": "2026-11-02"}, headers=headers
    )
    assert (nowhere.status_code, nowhere.json()["rule"]) == (422, "transfer_to_party_organization")
    parent = await committee(registry)
    other = await new_organization(registry, 318, full_members=1)
    joint = await form(
        registry,
        kind="joint",
        name="古店镇联合党支部",
        parent_id=parent["id"],
        organization_ids=[org["id"], other["id"]],
    )
    assert joint.status_code == 201, joint.text

    transferred = await registry.client.post(
        f"/v1/members/{full['id']}/transfer", json={"on": "2026-11-02"}, headers=headers
    )
    assert transferred.status_code == 200, transferred.text
    assert transferred.json()["status"] == "transferred"
    assert (transferred.json()["branch_id"], transferred.json()["registered_with"]) == (
        joint.json()["id"],
        "古店镇联合党支部",
    )
    organization = await registry.client.get(f"/v1/organizations/{org['id']}", headers=headers)
    assert (organization.json()["full_members"], organization.json()["probationary_members"]) == (
        3,
        0,
    )
    [eligible] = await data_of(registry, "pb.registry.branch.eligible.v1")
    assert (eligible["organization_id"], eligible["full_members"]) == (org["id"], 3)
    [moved] = await data_of(registry, "pb.registry.member.transferred.v1")
    assert (moved["member_id"], moved["status"]) == (full["id"], "transferred")
    [said] = await data_of(registry, "pb.registry.member.declared.v1")
    assert said["member_id"] == full["id"]
    updated = await data_of(registry, "pb.registry.organization.updated.v1")
    assert updated[-1]["full_members"] == 3

    await registry.client.post(f"/v1/members/{probationary['id']}/declare", headers=headers)
    await registry.client.post(f"/v1/members/{probationary['id']}/transfer", headers=headers)
    organization = await registry.client.get(f"/v1/organizations/{org['id']}", headers=headers)
    assert organization.json()["probationary_members"] == 1
    assert len(await data_of(registry, "pb.registry.branch.eligible.v1")) == 1

    audit = await registry.client.get(
        "/v1/audit", params={"entity_id": full["id"]}, headers=registry.as_region("14")
    )
    assert audit.status_code == 200, audit.text
    trail = audit.json()["items"]
    assert [e["action"] for e in trail] == [
        "member.transferred",
        "member.declared",
        "member.discovered",
    ]
    assert trail[0]["changes"]["id_number"] == full["id_number"]  # masked
    assert id_number(50) not in audit.text
    assert phone(50) not in audit.text


async def test_a_member_registered_with_the_own_branch_is_matched_not_counted_again(
    registry: RunningService,
) -> None:
    headers = registry.as_region("140212")
    parent = await committee(registry)
    org = await new_organization(registry, 319, full_members=3)
    own = await form(
        registry,
        kind="standalone",
        name="大同某某有限公司党支部",
        parent_id=parent["id"],
        organization_ids=[org["id"]],
    )
    assert own.status_code == 201, own.text
    await roster(
        registry,
        [
            roster_person(80, registered_with="大同某某有限公司 党支部"),  # spacing differs
            roster_person(81, registered_with="某村党支部"),
        ],
    )
    listed = await staff(registry, org["id"], [person(80), person(81)])
    assert len(listed["discovered"]) == 1  # only the one registered elsewhere is "found"
    discovered = await data_of(registry, "pb.registry.member.discovered.v1")
    assert len(discovered) == 1
    members = (
        await registry.client.get(f"/v1/organizations/{org['id']}/members", headers=headers)
    ).json()["items"]
    assert sorted((m["status"], m["branch_id"]) for m in members) == [
        ("discovered", None),
        ("transferred", own.json()["id"]),
    ]
    organization = await registry.client.get(f"/v1/organizations/{org['id']}", headers=headers)
    assert organization.json()["full_members"] == 3  # the matched one is not counted twice
    # the same lists again change nothing
    await roster(registry, [roster_person(80, registered_with="大同某某有限公司党支部")])
    assert len(await data_of(registry, "pb.registry.member.discovered.v1")) == 1


async def test_members_of_a_region_only_outside_is_404(registry: RunningService) -> None:
    org = await new_organization(registry, 307)
    await roster(registry, [roster_person(60)])
    [member] = (await staff(registry, org["id"], [person(60)]))["discovered"]
    hidden = await registry.client.post(
        f"/v1/members/{member['id']}/declare", headers=registry.as_region("140211")
    )
    assert hidden.status_code == 404
    seen = await registry.client.get(
        f"/v1/members/{member['id']}", headers=registry.as_region("140212101")
    )
    assert seen.status_code == 200


async def test_csv_and_xlsx_uploads_with_chinese_headers(registry: RunningService) -> None:
    org = await new_organization(registry, 308)
    headers = registry.as_region("140212")
    csv_text = "姓名,身份证号码,手机号码\n" + "\n".join(
        f"李{n}华,{id_number(n)},{phone(n)}" for n in (70, 71, 72)
    )
    uploaded = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        files={"file": ("职工名册.csv", csv_text.encode("gb18030"), "text/csv")},
        headers=headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["new"] == 3

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "公民身份号码", "党员类别", "组织关系所在党组织"])
    sheet.append(["李71华", id_number(71), "正式党员", "某街道党工委"])
    sheet.append(["李72华", id_number(72), "预备党员", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    found = await registry.client.post(
        "/v1/member-rosters",
        files={"file": ("党员名册.xlsx", buffer.getvalue(), "application/octet-stream")},
        headers=headers,
    )
    assert found.status_code == 200, found.text
    discovered = sorted((m["membership"], m["registered_with"]) for m in found.json()["discovered"])
    assert discovered == [("full", "某街道党工委"), ("probationary", None)]

    missing = await registry.client.post(
        "/v1/member-rosters",
        files={"file": ("党员名册.csv", "姓名,身份证号\n王五,1\n".encode(), "text/csv")},
        headers=headers,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"
    assert "membership" in missing.json()["detail"]
    bad_row = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        files={
            "file": ("a.csv", f"姓名,身份证号\n王五,{id_number(73)[:17]}\n".encode(), "text/csv")
        },
        headers=headers,
    )
    assert bad_row.status_code == 422
    assert bad_row.json()["errors"] == [
        {"field": "row 2.id_number", "reason": "must be 18 characters"}
    ]


async def test_a_deregistered_organisation_takes_no_staff_list(registry: RunningService) -> None:
    org = await new_organization(registry, 309)
    await staff(registry, org["id"], [person(90)])
    headers = registry.as_region("140212")
    read = await registry.client.get(f"/v1/organizations/{org['id']}", headers=headers)
    deleted = await registry.client.delete(
        f"/v1/organizations/{org['id']}",
        params={"reason": "注销"},
        headers={**headers, "If-Match": read.headers["etag"]},
    )
    assert deleted.status_code in (200, 204), deleted.text
    refused = await registry.client.post(
        f"/v1/organizations/{org['id']}/staff-lists",
        json={"people": [person(91)]},
        headers=headers,
    )
    assert (refused.status_code, refused.json()["rule"]) == (422, "organization_active")
    # a roster no longer discovers anybody at a closed organisation
    assert (await roster(registry, [roster_person(90)]))["discovered"] == []

"""Committee and branch use cases on the in-memory unit of work: writes, events, audit, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from libs.common.audit import Actor
from libs.common.refusals import RuleBroken
from services.registry.domain.branches import (
    Branch,
    Committee,
    Covered,
    ParentCommitteeNotFound,
    Upgrade,
)
from services.registry.domain.organizations import OrganizationNotFound, Rules
from services.registry.service import branches as service
from tests.registry.unit.fakes import FakeUnitOfWork, an_organization, seeded

CLERK = Actor("clerk", "140212")
RULES = Rules()
ON = date(2026, 11, 1)
COMMITTEE = Committee("c-1", "two_new", "新荣区两新工委", "140212", date(2026, 1, 1))


def branch_types(uow: FakeUnitOfWork) -> list[str]:
    return [t for t in uow.types() if t.startswith("branch.")]


async def joint(uow: FakeUnitOfWork, *ids: str) -> Branch:
    return await service.form_branch(
        uow,
        CLERK,
        RULES,
        kind="joint",
        name="联合党支部",
        parent_id=COMMITTEE.id,
        covered=[Covered(i) for i in ids],
        formed_on=ON,
    )


async def test_forming_a_committee_records_it_and_audits_the_event() -> None:
    uow = seeded(committee=COMMITTEE)
    async with uow:
        formed = await service.form_committee(
            uow,
            CLERK,
            kind="township",
            name="古店镇综合党委",
            region_code="140212101",
            parent_id=COMMITTEE.id,
            formed_on=ON,
        )
    assert uow.committed
    assert uow.fake_committees.rows[formed.id] == formed
    assert uow.types() == ["committee.formed"]
    [entry] = uow.trail.entries
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "committee.formed",
        "committee",
        formed.id,
    )
    assert entry.changes == {
        "kind": "township",
        "name": "古店镇综合党委",
        "parent_id": COMMITTEE.id,
        "formed_on": "2026-11-01",
    }


async def test_a_parent_committee_the_caller_cannot_see_is_refused() -> None:
    uow = seeded(committee=COMMITTEE)
    with pytest.raises(ParentCommitteeNotFound) as caught:
        await service.form_committee(
            uow,
            Actor("clerk", "140213"),  # 平城区 sees neither 新荣区 nor its committees
            kind="township",
            name="综合党委",
            region_code="140213",
            parent_id=COMMITTEE.id,
            formed_on=ON,
        )
    assert caught.value.fields == [("parent_id", "no such committee")]
    assert uow.events == []
    assert uow.trail.entries == []


async def test_a_joint_branch_covers_its_organisations_in_the_ledger() -> None:
    uow = seeded(*(an_organization(n, full_members=1) for n in (1, 2, 3)), committee=COMMITTEE)
    branch = await joint(uow, "org-1", "org-2", "org-3")
    assert (branch.kind, branch.organization_ids, branch.region_code) == (
        "joint",
        ["org-1", "org-2", "org-3"],
        "140212101",
    )
    assert await uow.branches.get(branch.id) == branch
    assert {o.branch_id for o in uow.fake_organizations.rows.values()} == {branch.id}
    [event, *ledgers] = uow.events
    assert event.model_dump(include={"branch_id", "version", "organization_ids"}) == {
        "branch_id": branch.id,
        "version": 1,
        "organization_ids": ["org-1", "org-2", "org-3"],
    }
    # covered now: their 六清 point "why no Party organisation" is shown by the data
    assert [(e.model_dump()["organization_id"], e.model_dump()["changed"]) for e in ledgers] == [
        (f"org-{n}", ["ledger"]) for n in (1, 2, 3)
    ]
    assert [e.action for e in uow.trail.entries] == ["branch.formed"] + [
        "organization.ledger_derived"
    ] * 3


async def test_an_organisation_outside_the_caller_region_is_not_found() -> None:
    elsewhere = an_organization(4, region_code="140213")
    uow = seeded(an_organization(1, full_members=1), elsewhere, committee=COMMITTEE)
    with pytest.raises(OrganizationNotFound) as caught:
        await joint(uow, "org-1", elsewhere.id)
    assert caught.value.context == {"organization_ids": [elsewhere.id]}
    assert uow.fake_branches.rows == {}


async def test_reorganising_adds_removes_and_upgrades_in_one_change() -> None:
    uow = seeded(
        *(an_organization(n, full_members=1) for n in (1, 2, 3)),
        an_organization(4, full_members=2),
        committee=COMMITTEE,
    )
    before = await joint(uow, "org-1", "org-2", "org-3")
    uow.fake_organizations.rows["org-1"].full_members = 3  # a member transferred in meanwhile
    after, formed = await service.reorganize_branch(
        uow,
        CLERK,
        RULES,
        before.id,
        add=[Covered("org-4")],
        remove=["org-2"],
        upgrade=[Upgrade("org-1", "一号党支部")],
        on=date(2026, 11, 20),
    )
    assert (after.organization_ids, after.version) == (["org-3", "org-4"], 2)
    [standalone] = formed
    assert (standalone.kind, standalone.organization_ids) == ("standalone", ["org-1"])
    ledger = uow.fake_organizations.rows
    assert [ledger[i].branch_id for i in ("org-1", "org-2", "org-3", "org-4")] == [
        standalone.id,
        None,
        before.id,
        before.id,
    ]
    assert branch_types(uow) == ["branch.formed", "branch.reorganized", "branch.formed"]
    reorganized = next(e for e in uow.trail.entries if e.action == "branch.reorganized")
    assert (reorganized.action, reorganized.changes["upgraded"]) == (
        "branch.reorganized",
        ["org-1"],
    )
    assert reorganized.changes["removed_organization_ids"] == ["org-1", "org-2"]


async def test_reorganising_refuses_a_stranger_before_writing_anything() -> None:
    uow = seeded(*(an_organization(n, full_members=1) for n in (1, 2, 3)), committee=COMMITTEE)
    before = await joint(uow, "org-1", "org-2", "org-3")
    with pytest.raises(RuleBroken) as caught:
        await service.reorganize_branch(uow, CLERK, RULES, before.id, remove=["org-9"], on=ON)
    assert (caught.value.rule, caught.value.organization_ids) == (
        "covered_by_this_branch",
        ["org-9"],
    )
    assert await uow.branches.get(before.id) == before
    assert branch_types(uow) == ["branch.formed"]


async def test_dissolving_uncovers_the_organisations_once() -> None:
    uow = seeded(*(an_organization(n, full_members=1) for n in (1, 2, 3)), committee=COMMITTEE)
    branch = await joint(uow, "org-1", "org-2", "org-3")
    done = await service.dissolve_branch(uow, CLERK, branch.id, reason="企业注销", on=ON)
    assert (done.status, done.version, done.organization_ids) == (
        "dissolved",
        2,
        ["org-1", "org-2", "org-3"],
    )
    assert await uow.branches.get(branch.id) == done  # it shows what it covered until then
    assert await uow.branches.covering(["org-1"]) == {"org-1": None}
    assert all(o.branch_id is None for o in uow.fake_organizations.rows.values())
    dissolution = next(e for e in uow.trail.entries if e.action == "branch.dissolved")
    assert dissolution.changes["reason"] == "企业注销"
    assert all(not o.ledger.no_branch_reason for o in uow.fake_organizations.rows.values())
    with pytest.raises(RuleBroken) as twice:
        await service.dissolve_branch(uow, CLERK, branch.id, reason="again", on=ON)
    assert twice.value.rule == "branch_active"
    assert branch_types(uow) == ["branch.formed", "branch.dissolved"]

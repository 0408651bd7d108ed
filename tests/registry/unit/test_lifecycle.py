"""An organisation's life cycle on the in-memory unit of work: deregistration reaching its
branch, assignments and members; reactivation; a move flagging its branch; temporary branches."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from libs.common.audit import Actor
from libs.common.refusals import RuleBroken
from services.registry.domain.branches import Branch, Committee, Covered
from services.registry.domain.instructors import Assignment
from services.registry.domain.lifecycle import NotDeregistered
from services.registry.domain.members import Member
from services.registry.domain.organizations import Rules
from services.registry.service import branches, lifecycle
from tests.registry.unit.fakes import FakeUnitOfWork, an_organization, seeded

CLERK = Actor("clerk", "140212")
RULES = Rules()
ON = date(2026, 11, 20)
COMMITTEE = Committee("c-1", "two_new", "新荣区两新工委", "140212", date(2026, 1, 1))
TOWNSHIP_COMMITTEE = Committee("c-2", "township", "古店镇综合党委", "140212101", date(2026, 1, 1))


async def form(uow: FakeUnitOfWork, kind: str, *ids: str, **extra: object) -> Branch:
    return await branches.form_branch(
        uow,
        CLERK,
        RULES,
        kind=kind,  # type: ignore[arg-type]
        name="党支部",
        parent_id=str(extra.pop("parent_id", COMMITTEE.id)),
        covered=[Covered(i) for i in ids],
        formed_on=date(2026, 1, 10),
        **extra,  # type: ignore[arg-type]
    )


def member(n: int, organization_id: str, status: str = "transferred") -> Member:
    return Member(
        id=f"m-{n}",
        organization_id=organization_id,
        region_code="140212101",
        id_hash=f"h{n}",
        name="张三",
        id_masked="1402**********1234",
        phone_masked=None,
        membership="full" if n % 2 else "probationary",
        registered_with=None,
        status=status,  # type: ignore[arg-type]
        discovered_at=datetime(2026, 1, 1),
    )


async def test_deregistration_dissolves_its_own_branch_ends_assignments_moves_members() -> None:
    uow = seeded(an_organization(1, full_members=3, probationary_members=1), committee=COMMITTEE)
    own = await form(uow, "standalone", "org-1")
    for a in (
        Assignment("a-1", "i-1", "org-1", "140212101", date(2026, 2, 1)),
        Assignment("a-2", "i-2", "org-1", "140212101", date(2027, 1, 1)),  # still to start
        Assignment("a-3", "i-1", "org-1", "140212101", date(2025, 1, 1), ended_on=date(2025, 6, 1)),
    ):
        uow.fake_instructors.assignment_rows[a.id] = a
    for m in (member(1, "org-1"), member(2, "org-1"), member(3, "org-1", "declared")):
        uow.fake_members.rows[m.id] = m
    uow.events.clear()

    closed = await lifecycle.deregister_organization(
        uow,
        CLERK,
        RULES,
        "org-1",
        reason="注销",
        on=ON,
        expected_version=2,  # covered: v2
    )

    assert (closed.status, closed.branch_id, closed.full_members, closed.probationary_members) == (
        "deregistered",
        None,
        2,
        0,
    )
    assert uow.types() == [
        "organization.deregistered",
        "branch.dissolved",
        "instructor.unassigned",
        "instructor.unassigned",
        "member.moved_out",
        "member.moved_out",
    ]
    dissolved = uow.fake_branches.rows[own.id]
    assert (dissolved.status, dissolved.dissolved_on) == ("dissolved", ON)
    ended = uow.fake_instructors.assignment_rows
    assert [ended[i].ended_on for i in ("a-1", "a-2", "a-3")] == [ON, ON, date(2025, 6, 1)]
    assert [uow.fake_members.rows[i].status for i in ("m-1", "m-2", "m-3")] == [
        "moved_out",
        "moved_out",
        "declared",
    ]
    for event in uow.events:
        assert "张三" not in event.model_dump_json()


async def test_deregistering_one_of_a_joint_branch_leaves_it_needing_rectification() -> None:
    uow = seeded(
        an_organization(1, full_members=2),
        an_organization(2, full_members=1),
        an_organization(3, full_members=1),
        committee=COMMITTEE,
    )
    joint = await form(uow, "joint", "org-1", "org-2", "org-3")
    uow.events.clear()
    await lifecycle.deregister_organization(uow, CLERK, RULES, "org-1", reason="吊销", on=ON)
    assert uow.types() == ["organization.deregistered", "branch.reorganized"]
    event = uow.events[1]
    assert event.model_dump()["removed_organization_ids"] == ["org-1"]
    assert event.model_dump()["status"] == "needs_rectification"
    after = await uow.branches.get(joint.id)
    assert after is not None
    assert (after.organization_ids, after.status, after.rectify_by) == (
        ["org-2", "org-3"],
        "needs_rectification",
        date(2027, 2, 20),
    )
    assert after.active  # it still covers the other two
    assert (await uow.organizations.get("org-2")).branch_id == joint.id  # type: ignore[union-attr]


async def test_reactivation_opens_the_file_again_uncovered() -> None:
    uow = seeded(an_organization(1, full_members=3), committee=COMMITTEE)
    await form(uow, "standalone", "org-1")
    await lifecycle.deregister_organization(uow, CLERK, RULES, "org-1", reason="注销", on=ON)
    uow.events.clear()
    back = await lifecycle.reactivate_organization(
        uow, CLERK, RULES, "org-1", reason="重新登记", expected_version=3
    )
    assert (back.status, back.version, back.branch_id, back.deregistered_on) == (
        "active",
        4,
        None,
        None,
    )
    assert uow.types() == ["organization.reactivated", "branch.eligible"]
    assert uow.events[0].model_dump()["full_members"] == 3
    with pytest.raises(NotDeregistered):
        await lifecycle.reactivate_organization(
            uow, CLERK, RULES, "org-1", reason=None, expected_version=None
        )


async def test_a_move_to_another_township_flags_the_branch_and_its_region_follows() -> None:
    uow = seeded(an_organization(1, full_members=3), committee=COMMITTEE)
    uow.fake_committees.rows[TOWNSHIP_COMMITTEE.id] = TOWNSHIP_COMMITTEE
    own = await form(uow, "standalone", "org-1", parent_id=TOWNSHIP_COMMITTEE.id)
    uow.events.clear()
    await lifecycle.change_organization(
        uow, CLERK, RULES, "org-1", {"region_code": "140212102"}, on=ON
    )
    assert uow.types() == ["organization.updated", "branch.relocated"]
    moved = await uow.branches.get(own.id)
    assert moved is not None
    assert (moved.region_code, moved.needs_reparenting) == ("140212102", True)
    assert "outside the region 140212101" in (moved.reparenting_reason or "")
    with pytest.raises(RuleBroken) as caught:
        await branches.reparent_branch(uow, CLERK, own.id, parent_id=TOWNSHIP_COMMITTEE.id, on=ON)
    assert caught.value.rule == "within_parent_committee"
    done = await branches.reparent_branch(uow, CLERK, own.id, parent_id=COMMITTEE.id, on=ON)
    assert (done.parent_id, done.needs_reparenting) == (COMMITTEE.id, False)


async def test_a_temporary_branch_needs_a_future_end_and_members_there() -> None:
    uow = seeded(
        an_organization(1),
        an_organization(2, probationary_members=1),
        committee=COMMITTEE,
    )
    with pytest.raises(RuleBroken) as past:
        await form(uow, "temporary", "org-2", ends_on=date(2026, 2, 1))
    assert past.value.rule == "temporary_end_date"
    with pytest.raises(RuleBroken) as empty:
        await form(uow, "temporary", "org-1", "org-2", ends_on=date(2099, 1, 1))
    assert (empty.value.rule, empty.value.organization_ids) == (
        "temporary_members_required",
        ["org-1"],
    )
    formed = await form(uow, "temporary", "org-2", ends_on=date(2099, 1, 1))
    assert formed.can_develop_members is False


def test_the_fixture_organisation_is_active() -> None:
    assert replace(an_organization(1)).active

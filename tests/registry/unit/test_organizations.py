"""Organisation use cases on the in-memory unit of work: register, change, deregister, refuse."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from libs.common.audit import Actor
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    NotActive,
    Organization,
    Rules,
    StaleVersion,
    organization_changed,
    organization_of,
)
from services.registry.domain.regions import UnknownRegion
from services.registry.service import lifecycle
from services.registry.service import organizations as service
from tests.factories import TOWNSHIP, credit_code
from tests.registry.unit.fakes import FakeUnitOfWork, an_organization, seeded

CLERK = Actor("clerk", "140212")
RULES = Rules()


def values(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "credit_code": credit_code(n),
        "name": f"大同市新荣区测试企业{n}有限公司",
        "kind": "enterprise",
        "region_code": TOWNSHIP,
        **overrides,
    }


async def test_registering_announces_audits_and_says_when_a_branch_is_due() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        organization = await service.register_organization(
            uow, CLERK, RULES, **values(1, full_members=3)
        )
    assert uow.committed
    assert await uow.organizations.get(organization.id) == organization
    assert uow.types() == ["organization.registered", "branch.eligible"]
    [entry] = uow.trail.entries
    assert (entry.action, entry.entity_id, entry.region_code) == (
        "organization.registered",
        organization.id,
        TOWNSHIP,
    )
    assert entry.changes["credit_code"] == credit_code(1)  # the whole file, as registered


async def test_a_credit_code_is_registered_once() -> None:
    first = an_organization(1)
    uow = seeded(first)
    with pytest.raises(DuplicateCreditCode) as caught:
        await service.register_organization(uow, CLERK, RULES, **values(1))
    assert (caught.value.context, caught.value.fields) == (
        {"existing_id": first.id},
        [("credit_code", "already registered")],
    )
    assert uow.events == []


async def test_a_region_the_division_codes_do_not_hold_is_refused() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(UnknownRegion) as caught:
        await service.register_organization(uow, CLERK, RULES, **values(2, region_code="140212199"))
    assert caught.value.field == "region_code"
    assert uow.fake_organizations.rows == {}


async def test_an_update_audits_each_changed_field_and_nothing_else() -> None:
    uow = seeded(an_organization(1, staff_count=12))
    after = await service.update_organization(
        uow, CLERK, RULES, "org-1", {"staff_count": 40, "kind": "enterprise"}, expected_version=1
    )
    assert after.version == 2
    [event] = uow.events
    assert event.model_dump(include={"changed", "version", "staff_count"}) == {
        "changed": ["staff_count"],
        "version": 2,
        "staff_count": 40,
    }
    assert uow.trail.entries[0].changes == {"staff_count": {"from": 12, "to": 40}}
    same = await service.update_organization(uow, CLERK, RULES, "org-1", {"staff_count": 40})
    assert same.version == 2
    assert len(uow.events) == 1


async def test_a_change_from_an_old_version_is_stale() -> None:
    uow = seeded(an_organization(1, version=3))
    with pytest.raises(StaleVersion) as caught:
        await service.update_organization(
            uow, CLERK, RULES, "org-1", {"staff_count": 1}, expected_version=2
        )
    assert (caught.value.expected, caught.value.current, caught.value.context) == (
        2,
        3,
        {"current_version": 3},
    )


async def test_a_deregistered_file_is_closed_to_changes() -> None:
    uow = seeded(an_organization(1))
    closed = await lifecycle.deregister_organization(
        uow, CLERK, RULES, "org-1", reason="迁出", on=date(2026, 11, 2), expected_version=1
    )
    assert (closed.status, closed.version, closed.deregistered_on) == (
        "deregistered",
        2,
        date(2026, 11, 2),
    )
    assert uow.trail.entries[0].changes == {"reason": "迁出", "on": "2026-11-02"}
    with pytest.raises(NotActive):
        await service.update_organization(uow, CLERK, RULES, "org-1", {"staff_count": 1})
    assert uow.types() == ["organization.deregistered"]


# -- organization_of: the bulk paths' constructor ------------------------------------------------


def required(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"org-{n}",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
        **values(n),
        **extra,
    }


NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "given",
    [
        required(1),  # the defaults for the rest, fresh lists and ledgers among them
        required(2, address="某路8号，电话13812345678", staff_count=12, investors=[{"n": 1}]),
        {
            **required(3),
            **{f.name: getattr(an_organization(3), f.name) for f in fields(Organization)},
        },
    ],
)
def test_organization_of_makes_what_the_constructor_makes(given: dict[str, Any]) -> None:
    made = organization_of(given)
    assert made == Organization(**given)
    assert made.address is None or "13812345678" not in made.address  # masked alike


def test_organization_of_gives_each_its_own_defaults() -> None:
    first, second = organization_of(required(1)), organization_of(required(2))
    assert first.investors is not second.investors
    assert first.ledger is not second.ledger


def test_organization_of_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(TypeError, match="unknown \\['colour'\\]"):
        organization_of(required(1, colour="red"))
    without_id = required(1)
    del without_id["id"]
    with pytest.raises(TypeError, match="missing \\['id'\\]"):
        organization_of(without_id)


def test_organization_changed_is_replace() -> None:
    before = an_organization(5)
    changes: dict[str, Any] = {"address": "新地址，13812345678", "version": 2, "updated_at": NOW}
    after = organization_changed(before, changes)
    assert after == replace(before, **changes)
    assert after.address is not None
    assert "13812345678" not in after.address  # what changed is masked
    assert before.version == 1
    with pytest.raises(TypeError, match="colour"):
        organization_changed(before, {"colour": "red"})

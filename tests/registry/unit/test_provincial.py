"""The provincial profile's rules: the unit situation, labels read back, the reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.registry.domain.branches import Branch
from services.registry.domain.organizations import Organization
from services.registry.domain.provincial import (
    KEYS,
    Reconciler,
    Surroundings,
    branch_in_force,
    keys_of_headings,
    labelled,
    platform_row,
    record,
)

TODAY = date(2026, 11, 30)


def _organization(**values: Any) -> Organization:
    base: dict[str, Any] = {
        "id": "o1",
        "credit_code": "91140212000000001X",
        "name": "测试企业",
        "kind": "enterprise",
        "region_code": "140212101",
        "version": 2,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 2, 1, tzinfo=UTC),
    }
    return Organization(**{**base, **values})


def _branch(kind: str = "joint", **values: Any) -> Branch:
    base: dict[str, Any] = {
        "id": "b1",
        "kind": kind,
        "name": "联合党支部",
        "parent_id": "c1",
        "region_code": "140212",
        "formed_on": date(2026, 3, 1),
        "organization_ids": [],
    }
    return Branch(**{**base, **values})


def _record(organization: Organization, branch: Branch | None = None) -> dict[str, Any]:
    return record(organization, Surroundings(branch=branch), today=TODAY, standalone_min_full=3)


def test_the_unit_situation_follows_the_rules() -> None:
    assert _record(_organization(full_members=3))["party_situation"] == "none_should_form"
    assert _record(_organization(probationary_members=1))["party_situation"] == "none_few_members"
    assert _record(_organization())["party_situation"] == "none_no_members"
    joint = _record(_organization(branch_id="b1"), _branch())
    assert (joint["party_situation"], joint["party_organization_category"]) == ("joint", "632")
    # a temporary Party organisation is not the unit's branch: reported apart
    temporary = _record(
        _organization(full_members=1, branch_id="b1"),
        _branch("temporary", ends_on=date(2027, 1, 1)),
    )
    assert (temporary["party_situation"], temporary["temporary_party_organization"]) == (
        "none_few_members",
        True,
    )


def test_a_branch_counts_only_while_in_force() -> None:
    assert branch_in_force(_branch(), TODAY)
    assert not branch_in_force(_branch(formed_on=date(2027, 1, 1)), TODAY)
    assert not branch_in_force(_branch("temporary", ends_on=date(2026, 11, 29)), TODAY)
    assert not branch_in_force(_branch(status="dissolved"), TODAY)
    # a dissolution dated later leaves it in force until that day, as coverage counts it
    later = date(2026, 12, 1)
    assert branch_in_force(_branch(status="dissolved", dissolved_on=later), TODAY)
    assert not branch_in_force(_branch(status="dissolved", dissolved_on=TODAY), TODAY)
    ended = _record(_organization(branch_id="b1"), _branch("temporary", ends_on=date(2026, 1, 1)))
    assert (ended["party_organization_category"], ended["temporary_party_organization"]) == (
        None,
        False,
    )


def test_unit_category_by_credit_code() -> None:
    assert _record(_organization(credit_code="92140212MA0000001X"))["unit_category"] == "个体工商户"
    assert (
        _record(_organization(credit_code="52140212MA0000001X"))["unit_category"]
        == "民办非企业单位"
    )
    assert _record(_organization(credit_code=""))["unit_category"] == "企业"


def test_labels_are_read_back_as_codes() -> None:
    values = _record(_organization(full_members=3, staff_count=12))
    row = labelled(values)
    assert row[KEYS.index("party_situation")] == "未建立党组织（应建尚未建立）"
    read = platform_row(3, dict(zip(KEYS, [str(v) for v in row], strict=True)))
    reconciler = Reconciler("140212", TODAY, [read], max_items=10)
    reconciler.add_ledger([values])
    report = reconciler.finish()
    assert (report.matched, report.same, report.differences_total) == (1, 1, 0)


def test_headings_or_keys_name_the_columns() -> None:
    assert keys_of_headings(["法人单位统一社会信用代码", "staff_count", "备注"]) == [
        "credit_code",
        "staff_count",
        None,
    ]


def test_reconciliation_counts_everything_and_lists_at_most_max_items() -> None:
    ledger = [
        _record(_organization(id=f"o{n}", credit_code=f"9114021200000000{n:02d}")) for n in range(5)
    ]
    platform = [
        platform_row(n + 2, {"credit_code": f"9114021200000000{n:02d}", "staff_count": "7"})
        for n in range(2, 8)
    ]
    reconciler = Reconciler("140212", TODAY, platform, max_items=2)
    reconciler.add_ledger(ledger)
    report = reconciler.finish()
    assert (report.ledger_total, report.platform_total, report.matched) == (5, 6, 3)
    assert (report.only_in_ledger_total, report.only_in_platform_total) == (2, 3)
    assert (len(report.only_in_ledger), len(report.only_in_platform)) == (2, 2)
    assert report.differences_total == 3  # staff_count: unknown in the ledger, 7 on the platform
    assert {(d.field, d.ledger, d.platform) for d in report.differences} == {
        ("staff_count", "", "7")
    }

"""The six points (六清) as plain domain rules: derived from data, manual where data is silent."""

from __future__ import annotations

import pytest

from libs.common.refusals import Invalid
from services.registry.domain.ledger import check_manual_points, with_derived_ledger
from tests.registry.unit.fakes import an_organization


def test_points_follow_the_data_and_only_two_may_be_confirmed_by_hand() -> None:
    bare = an_organization(1)  # industry only: nothing shown
    assert bare.ledger.missing == [
        "operations",
        "workforce",
        "members",
        "investors",
        "no_branch_reason",
        "mass_organizations",
    ]
    check_manual_points(bare, {"members": True, "mass_organizations": True})
    with pytest.raises(Invalid) as caught:
        check_manual_points(bare, {"members": True, "workforce": True})
    assert caught.value.field == "ledger.workforce"
    full = an_organization(
        2,
        staff_count=5,
        stable_operations=False,  # known, even if not stable: the point is about knowing
        full_members=1,
        investors=[{"kind": "person", "name": "王**", "credit_code": None, "share": None}],
        branch_id="b-1",  # covered: no reason needed
    )
    assert full.ledger.missing == ["mass_organizations"]


def test_a_confirmed_manual_point_stays_and_a_data_point_follows_the_data() -> None:
    from dataclasses import replace

    from services.registry.domain.organizations import Ledger

    confirmed = replace(an_organization(3), ledger=Ledger(mass_organizations=True, investors=True))
    derived = with_derived_ledger(confirmed)
    assert (derived.ledger.mass_organizations, derived.ledger.investors) == (True, False)

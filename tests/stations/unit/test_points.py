"""The points ledger's rules, without a store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from libs.common.refusals import Invalid, RuleBroken
from services.stations.domain.points import (
    AWARDS_POOL,
    REDEMPTIONS,
    PointTransaction,
    Reward,
    check_points,
    check_redeem,
)

AT = datetime(2026, 11, 30, tzinfo=UTC)
AWARD = PointTransaction("t1", "award", "w1", "140212", 30, "k1", AT, reason="volunteer")


def test_every_transaction_is_two_entries_summing_to_zero() -> None:
    redemption = replace(AWARD, id="t2", kind="redemption", reason=None, reward_id="r1")
    for transaction in (AWARD, redemption):
        debit, credit = transaction.entries()
        assert debit.amount + credit.amount == 0
    assert [(e.account, e.amount) for e in AWARD.entries()] == [
        (AWARDS_POOL, -30),
        ("worker:w1", 30),
    ]
    assert [(e.account, e.amount) for e in redemption.entries()] == [
        ("worker:w1", -30),
        (REDEMPTIONS, 30),
    ]


def test_a_retry_is_the_same_move_only() -> None:
    assert AWARD.same_as(replace(AWARD, id="t9", at=AT.replace(hour=5)))
    assert not AWARD.same_as(replace(AWARD, points=31))
    assert not AWARD.same_as(replace(AWARD, worker_id="w2"))


def test_refusals() -> None:
    with pytest.raises(Invalid):
        check_points(0)
    reward = Reward("r1", "理发券", "140212", 20, 5, AT)
    check_redeem("w1", 20, reward)
    with pytest.raises(RuleBroken) as refused:
        check_redeem("w1", 19, reward)
    assert refused.value.rule == "balance_insufficient"

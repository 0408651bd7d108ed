"""Points for services (积分兑服务) as a double-entry ledger.

Every award and every redemption is one transaction of two entries that sum to zero: an award
moves points from the awards pool to the worker's account, a redemption from the worker's
account to the redemptions account. A balance is the sum of an account's entries, never stored
on its own. An award names an idempotency key: the same key twice is one award.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from libs.common.refusals import Conflict, Invalid, NotFound, RuleBroken

Reason = Literal["party_life", "volunteer", "report", "governance", "request_helped"]
Kind = Literal["award", "redemption"]

AWARDS_POOL = "pool:awards"
REDEMPTIONS = "sink:redemptions"


def worker_account(worker_id: str) -> str:
    return f"worker:{worker_id}"


@dataclass(frozen=True)
class Entry:
    account: str
    amount: int  # positive: credited; negative: debited


@dataclass(frozen=True)
class PointTransaction:
    id: str
    kind: Kind
    worker_id: str
    region_code: str
    points: int
    idempotency_key: str
    at: datetime
    reason: str | None = None
    reward_id: str | None = None
    request_id: str | None = None
    volunteer_task_id: str | None = None

    def entries(self) -> tuple[Entry, Entry]:
        """The two entries; they always sum to zero."""
        worker = worker_account(self.worker_id)
        if self.kind == "award":
            return Entry(AWARDS_POOL, -self.points), Entry(worker, self.points)
        return Entry(worker, -self.points), Entry(REDEMPTIONS, self.points)

    def same_as(self, other: PointTransaction) -> bool:
        """What an idempotent retry must repeat: the same move of the same points."""
        return (self.kind, self.worker_id, self.points, self.reason, self.reward_id) == (
            other.kind,
            other.worker_id,
            other.points,
            other.reason,
            other.reward_id,
        )


@dataclass(frozen=True)
class Reward:
    """A benefit in the catalogue, bought with points, in limited stock."""

    id: str
    name: str
    region_code: str
    cost: int
    stock: int
    created_at: datetime


class RewardNotFound(NotFound):
    def __init__(self, reward_id: str) -> None:
        super().__init__("reward not found")
        self.reward_id = reward_id


class IdempotencyKeyReused(Conflict):
    def __init__(self, key: str, transaction_id: str) -> None:
        super().__init__(
            "this idempotency key was used for a different transaction",
            fields=[("idempotency_key", "already used for a different transaction")],
            context={"transaction_id": transaction_id},
        )


def check_points(points: int) -> None:
    if points < 1:
        raise Invalid("points", "must be at least 1")


def check_redeem(worker_id: str, balance: int, reward: Reward) -> None:
    """A redemption never makes a balance negative."""
    if balance < reward.cost:
        raise RuleBroken(
            "balance_insufficient",
            f"the worker has {balance} points, the reward costs {reward.cost}",
            context={"worker_id": worker_id, "balance": balance, "cost": reward.cost},
        )


def out_of_stock(reward: Reward) -> RuleBroken:
    return RuleBroken(
        "reward_in_stock", "the reward is out of stock", context={"reward_id": reward.id}
    )

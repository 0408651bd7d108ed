"""Use cases of the points ledger: award (idempotent), redeem (never negative, never oversold),
balances, the rewards catalogue."""

from __future__ import annotations

from datetime import datetime

from libs.common.audit import Actor
from libs.common.ids import new_id
from libs.common.tables import utcnow
from services.stations.domain.points import (
    IdempotencyKeyReused,
    PointTransaction,
    Reward,
    RewardNotFound,
    check_points,
    check_redeem,
    out_of_stock,
    worker_account,
)
from services.stations.domain.workers import Worker, WorkerNotFound
from services.stations.events import PointsAwardedV1, PointsRedeemedV1
from services.stations.store.uow import StationsUnitOfWork


async def _settle(
    uow: StationsUnitOfWork, transaction: PointTransaction
) -> tuple[PointTransaction, bool]:
    """Write the transaction, or find the one its idempotency key already names: (it, new?)."""
    if await uow.ledger.add_if_new(transaction):
        return transaction, True
    existing = await uow.ledger.by_key(transaction.idempotency_key)
    assert existing is not None
    if not existing.same_as(transaction):
        raise IdempotencyKeyReused(transaction.idempotency_key, existing.id)
    return existing, False


async def award_points(
    uow: StationsUnitOfWork,
    actor: Actor,
    *,
    worker: Worker,
    reason: str,
    points: int,
    idempotency_key: str,
    request_id: str | None = None,
    volunteer_task_id: str | None = None,
) -> tuple[PointTransaction, bool]:
    """Award points once per idempotency key; (the transaction, whether it is new)."""
    check_points(points)
    now = utcnow()
    transaction, new = await _settle(
        uow,
        PointTransaction(
            id=new_id(),
            kind="award",
            worker_id=worker.id,
            region_code=worker.region_code,
            points=points,
            idempotency_key=idempotency_key,
            at=now,
            reason=reason,
            request_id=request_id,
            volunteer_task_id=volunteer_task_id,
        ),
    )
    if new:
        await uow.record_and_audit(
            actor,
            PointsAwardedV1(
                transaction_id=transaction.id,
                worker_id=worker.id,
                region_code=worker.region_code,
                reason=reason,
                points=points,
                request_id=request_id,
                volunteer_task_id=volunteer_task_id,
                awarded_at=now,
            ),
            entity_type="points",
            region_code=worker.region_code,
        )
    return transaction, new


async def worker_of(uow: StationsUnitOfWork, worker_id: str, *, lock: bool = False) -> Worker:
    worker = await uow.workers.get(worker_id, for_update=lock)
    if worker is None:
        raise WorkerNotFound(worker_id)
    return worker


async def redeem(
    uow: StationsUnitOfWork,
    actor: Actor,
    *,
    worker_id: str,
    reward_id: str,
    idempotency_key: str | None,
) -> tuple[PointTransaction, bool]:
    """Redeem points for one reward. The worker's row is locked first, so concurrent redemptions
    of one worker see each other's entries (on SQLite the writer lock does the same); the stock
    is taken by one conditional UPDATE. Neither a balance nor a stock can go below zero."""
    worker = await worker_of(uow, worker_id, lock=True)
    reward = await uow.rewards.get(reward_id)
    if reward is None:
        raise RewardNotFound(reward_id)
    key = idempotency_key or f"redemption:{new_id()}"
    replayed = await uow.ledger.by_key(key)
    now = utcnow()
    transaction = PointTransaction(
        id=new_id(),
        kind="redemption",
        worker_id=worker.id,
        region_code=worker.region_code,
        points=reward.cost,
        idempotency_key=key,
        at=now,
        reward_id=reward.id,
    )
    if replayed is not None:
        if not replayed.same_as(transaction):
            raise IdempotencyKeyReused(key, replayed.id)
        return replayed, False
    check_redeem(worker.id, await uow.ledger.balance(worker_account(worker.id)), reward)
    if not await uow.rewards.take_one(reward.id):
        raise out_of_stock(reward)
    transaction, new = await _settle(uow, transaction)
    await uow.record_and_audit(
        actor,
        PointsRedeemedV1(
            transaction_id=transaction.id,
            worker_id=worker.id,
            region_code=worker.region_code,
            reward_id=reward.id,
            points=reward.cost,
            redeemed_at=now,
        ),
        entity_type="points",
        region_code=worker.region_code,
    )
    return transaction, new


async def balance_of(uow: StationsUnitOfWork, worker_id: str) -> int:
    return await uow.ledger.balance(worker_account(worker_id))


async def recent_transactions(
    uow: StationsUnitOfWork, worker_id: str, limit: int = 50
) -> list[PointTransaction]:
    return await uow.ledger.transactions_of(worker_id, limit)


async def transactions_page(
    uow: StationsUnitOfWork, worker_id: str, *, after: tuple[datetime, str] | None, limit: int
) -> list[PointTransaction]:
    """A page of a worker's transactions, newest first."""
    return await uow.ledger.page_of(worker_id, after=after, limit=limit)


async def add_reward(
    uow: StationsUnitOfWork, actor: Actor, *, name: str, region_code: str, cost: int, stock: int
) -> Reward:
    reward = Reward(new_id(), name, region_code, cost, stock, utcnow())
    await uow.rewards.add(reward)
    await uow.audit.record(
        actor,
        "reward.added",
        entity_type="reward",
        entity_id=reward.id,
        region_code=region_code,
        changes={"name": name, "cost": cost, "stock": stock},
    )
    return reward


async def list_rewards(
    uow: StationsUnitOfWork, region_code: str, *, after: tuple[str, str] | None, limit: int
) -> list[Reward]:
    return await uow.rewards.in_region(region_code, after=after, limit=limit)


async def get_reward(uow: StationsUnitOfWork, reward_id: str) -> Reward | None:
    return await uow.rewards.get(reward_id)

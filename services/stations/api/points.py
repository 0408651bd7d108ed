"""HTTP routes of points for services (积分兑服务): awards, redemptions, balances, rewards."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from libs.common.audit import Actor
from libs.common.auth import Principal
from libs.common.fields import RegionCode
from libs.common.http import RegionCodeQuery, subtree_of
from libs.common.pagination import Page, Pages
from libs.common.text import Name, Text
from services.stations.api.deps import Reader, ReadSession, Transaction, Writer
from services.stations.domain.points import PointTransaction, Reason, Reward
from services.stations.domain.workers import Worker
from services.stations.service import StationsUnitOfWork
from services.stations.service import points as service

router = APIRouter(tags=["points"])

Key = Annotated[Text, Field(min_length=1, max_length=200)]


class AwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Text = Field(max_length=36)
    reason: Reason
    points: StrictInt = Field(ge=1, le=100_000)
    idempotency_key: Key = Field(description="The same key twice is one award")


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Text = Field(max_length=36)
    reward_id: Text = Field(max_length=36)
    idempotency_key: Key | None = None


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name = Field(min_length=1, max_length=200)
    region_code: RegionCode
    cost: StrictInt = Field(ge=1, le=1_000_000, description="Points")
    stock: StrictInt = Field(ge=0, le=1_000_000)


class TransactionOut(BaseModel):
    id: str
    kind: str
    worker_id: str
    points: int
    reason: str | None
    reward_id: str | None
    request_id: str | None
    volunteer_task_id: str | None
    idempotency_key: str
    at: datetime

    @classmethod
    def of(cls, t: PointTransaction) -> TransactionOut:
        return cls(**{name: getattr(t, name) for name in cls.model_fields})


class PointsOut(BaseModel):
    worker_id: str
    balance: int = Field(description="The sum of the worker's ledger entries")
    transactions: list[TransactionOut]


class RewardOut(BaseModel):
    id: str
    name: str
    region_code: str
    cost: int
    stock: int

    @classmethod
    def of(cls, r: Reward) -> RewardOut:
        return cls(id=r.id, name=r.name, region_code=r.region_code, cost=r.cost, stock=r.stock)


class RewardList(Page[RewardOut]):
    pass


async def _worker(uow: StationsUnitOfWork, worker_id: str, principal: Principal) -> Worker:
    worker = await service.worker_of(uow, worker_id)
    principal.ensure_visible(worker.region_code, "worker")
    return worker


@router.post(
    "/v1/points/awards",
    status_code=status.HTTP_201_CREATED,
    summary="Award points (idempotent: a repeated key returns the first award, 200)",
)
async def award_points(
    body: AwardIn, uow: Transaction, principal: Writer, response: Response
) -> TransactionOut:
    worker = await _worker(uow, body.worker_id, principal)
    transaction, new = await service.award_points(
        uow,
        Actor.of(principal),
        worker=worker,
        reason=body.reason,
        points=body.points,
        idempotency_key=body.idempotency_key,
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return TransactionOut.of(transaction)


@router.post(
    "/v1/points/redemptions",
    status_code=status.HTTP_201_CREATED,
    summary="Redeem points for a reward (never below zero, never oversold)",
)
async def redeem_points(
    body: RedemptionIn, uow: Transaction, principal: Writer, response: Response
) -> TransactionOut:
    await _worker(uow, body.worker_id, principal)
    transaction, new = await service.redeem(
        uow,
        Actor.of(principal),
        worker_id=body.worker_id,
        reward_id=body.reward_id,
        idempotency_key=body.idempotency_key,
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return TransactionOut.of(transaction)


@router.get("/v1/workers/{worker_id}/points", summary="A worker's balance and transactions")
async def read_worker_points(worker_id: Text, uow: ReadSession, principal: Reader) -> PointsOut:
    await _worker(uow, worker_id, principal)
    return PointsOut(
        worker_id=worker_id,
        balance=await service.balance_of(uow, worker_id),
        transactions=[
            TransactionOut.of(t) for t in await service.recent_transactions(uow, worker_id)
        ],
    )


class TransactionPage(Page[TransactionOut]):
    pass


@router.get(
    "/v1/workers/{worker_id}/points/transactions",
    summary="A worker's point transactions, newest first",
)
async def list_worker_transactions(
    worker_id: Text, uow: ReadSession, principal: Reader, pages: Pages
) -> TransactionPage:
    await _worker(uow, worker_id, principal)
    after = pages.after(datetime, str)
    found = await service.transactions_page(
        uow,
        worker_id,
        after=None if after is None else (after[0], after[1]),
        limit=pages.fetch,
    )
    return TransactionPage.of(pages, found, key=lambda t: (t.at, t.id), item=TransactionOut.of)


@router.post("/v1/rewards", status_code=status.HTTP_201_CREATED, summary="Add a reward")
async def add_reward(body: RewardIn, uow: Transaction, principal: Writer) -> RewardOut:
    principal.ensure_covers(body.region_code)
    reward = await service.add_reward(
        uow,
        Actor.of(principal),
        name=body.name,
        region_code=body.region_code,
        cost=body.cost,
        stock=body.stock,
    )
    return RewardOut.of(reward)


@router.get("/v1/rewards", summary="The rewards of a region subtree")
async def list_rewards(
    uow: ReadSession,
    principal: Reader,
    pages: Pages,
    region_code: RegionCodeQuery = None,
) -> RewardList:
    rewards = await service.list_rewards(
        uow, subtree_of(principal, region_code), after=pages.after(str, str), limit=pages.fetch
    )
    return RewardList.of(pages, rewards, key=lambda r: (r.region_code, r.id), item=RewardOut.of)

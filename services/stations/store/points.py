"""SQL for the points ledger and the rewards catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, tuple_, update

from libs.common.db import Repository, dialect_insert
from libs.common.subtree import within_region
from services.stations.domain.points import PointTransaction, Reward
from services.stations.store.tables import point_entries, point_transactions, rewards

_TX_COLUMNS = tuple(f.name for f in fields(PointTransaction))


def _transaction(row: Mapping[Any, Any]) -> PointTransaction:
    return PointTransaction(**{name: row[name] for name in _TX_COLUMNS})


class LedgerRepository(Repository):
    async def add_if_new(self, transaction: PointTransaction) -> bool:
        """Write the transaction and its two entries unless its idempotency key is taken
        (the unique index decides, so concurrent retries write it once); False when taken."""
        statement = (
            dialect_insert(self.session, point_transactions)
            .values(asdict(transaction))
            .on_conflict_do_nothing(index_elements=[point_transactions.c.idempotency_key])
            .returning(point_transactions.c.id)
        )
        if (await self.session.execute(statement)).scalar_one_or_none() is None:
            return False
        await self.session.execute(
            insert(point_entries),
            [
                {"transaction_id": transaction.id, "account": e.account, "amount": e.amount}
                for e in transaction.entries()
            ],
        )
        return True

    async def by_key(self, idempotency_key: str) -> PointTransaction | None:
        row = (
            (
                await self.session.execute(
                    select(point_transactions).where(
                        point_transactions.c.idempotency_key == idempotency_key
                    )
                )
            )
            .mappings()
            .first()
        )
        return _transaction(row) if row else None

    async def balance(self, account: str) -> int:
        total = (
            await self.session.execute(
                select(func.coalesce(func.sum(point_entries.c.amount), 0)).where(
                    point_entries.c.account == account
                )
            )
        ).scalar_one()
        return int(total)

    async def transactions_of(self, worker_id: str, limit: int) -> list[PointTransaction]:
        t = point_transactions.c
        rows = (
            await self.session.execute(
                select(point_transactions)
                .where(t.worker_id == worker_id)
                .order_by(t.at.desc(), t.id)
                .limit(limit)
            )
        ).mappings()
        return [_transaction(row) for row in rows]

    async def page_of(
        self, worker_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[PointTransaction]:
        """A page of a worker's transactions, newest first (then by id), after a keyset cursor."""
        t = point_transactions.c
        statement = select(point_transactions).where(t.worker_id == worker_id)
        if after is not None:
            at, last_id = after
            statement = statement.where(or_(t.at < at, and_(t.at == at, t.id > last_id)))
        rows = await self.session.execute(statement.order_by(t.at.desc(), t.id).limit(limit))
        return [_transaction(row) for row in rows.mappings()]

    async def sum_of_all_entries(self) -> int:
        """Zero in a sound ledger (for the tests and the operators)."""
        total = (
            await self.session.execute(select(func.coalesce(func.sum(point_entries.c.amount), 0)))
        ).scalar_one()
        return int(total)


class RewardRepository(Repository):
    async def add(self, reward: Reward) -> None:
        await self.session.execute(insert(rewards), [asdict(reward)])

    async def get(self, reward_id: str) -> Reward | None:
        row = await self.row_by_id(rewards, reward_id)
        return Reward(**row) if row else None

    async def take_one(self, reward_id: str) -> bool:
        """Take one from the stock if any is left (one conditional UPDATE: never oversold)."""
        result = await self.session.execute(
            update(rewards)
            .where(rewards.c.id == reward_id, rewards.c.stock >= 1)
            .values(stock=rewards.c.stock - 1)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def in_region(
        self, region_code: str, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> list[Reward]:
        """A page of the rewards of a region's subtree, in (region_code, id) order after a
        keyset cursor."""
        t = rewards.c
        statement = select(rewards).where(within_region(t.region_code, region_code))
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        rows = await self.session.execute(statement.order_by(t.region_code, t.id).limit(limit))
        return [Reward(**row) for row in rows.mappings()]

"""The SQL of webhook subscriptions and their failed deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from libs.common.db import Repository
from libs.common.refusals import Stale
from libs.common.subtree import within_region
from libs.common.webhooks.subscriptions import Subscription
from libs.common.webhooks.tables import webhook_failures, webhook_subscriptions


@dataclass(frozen=True)
class Failure:
    """A delivery given up on: the event (by id, type, subject) and why."""

    id: int
    subscription_id: str
    event_id: str | None
    event_type: str | None
    subject: str | None
    stream_sequence: int | None
    attempts: int
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class Stored:
    """A subscription as stored, with its secret still sealed."""

    subscription: Subscription
    sealed_secret: str


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(
        id=row["id"],
        event_types=tuple(json.loads(row["event_types"])),
        region_code=row["region_code"],
        url=row["url"],
        active=row["active"],
        start_at=row["start_at"],
        generation=row["generation"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        payload=row["payload"],
    )


def _values(s: Subscription) -> dict[str, Any]:
    return {
        "event_types": json.dumps(list(s.event_types)),
        "region_code": s.region_code,
        "url": s.url,
        "active": s.active,
        "payload": s.payload,
        "start_at": s.start_at,
        "generation": s.generation,
        "version": s.version,
        "updated_at": s.updated_at,
    }


class WebhookRepository(Repository):
    async def add(self, subscription: Subscription, sealed_secret: str) -> None:
        await self.session.execute(
            insert(webhook_subscriptions).values(
                id=subscription.id,
                secret=sealed_secret,
                created_at=subscription.created_at,
                **_values(subscription),
            )
        )

    async def get(self, subscription_id: str, *, for_update: bool = False) -> Subscription | None:
        row = await self.row_by_id(webhook_subscriptions, subscription_id, for_update=for_update)
        return _subscription(row) if row is not None else None

    async def page(
        self, *, region_code: str, unfiltered: bool, after: str | None, limit: int
    ) -> list[Subscription]:
        """Subscriptions by id, after the id `after`: those whose region lies within
        `region_code`, and those without a region filter too when `unfiltered`."""
        column = webhook_subscriptions.c.region_code
        visible = within_region(column, region_code)
        statement = (
            select(webhook_subscriptions)
            .where(or_(visible, column.is_(None)) if unfiltered else visible)
            .order_by(webhook_subscriptions.c.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(webhook_subscriptions.c.id > after)
        rows = (await self.session.execute(statement)).mappings()
        return [_subscription(r) for r in rows]

    async def save(self, subscription: Subscription, *, expected_version: int) -> None:
        """Store the changed subscription if the stored one is still `expected_version`."""
        result = await self.session.execute(
            update(webhook_subscriptions)
            .where(
                webhook_subscriptions.c.id == subscription.id,
                webhook_subscriptions.c.version == expected_version,
            )
            .values(**_values(subscription))
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = await self.get(subscription.id)
            raise Stale(
                "the subscription changed since it was read",
                expected=expected_version,
                current=current.version if current else 0,
            )

    async def remove(self, subscription_id: str) -> None:
        await self.session.execute(
            delete(webhook_failures).where(webhook_failures.c.subscription_id == subscription_id)
        )
        await self.session.execute(
            delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        )

    async def active(self) -> list[Stored]:
        """Every active subscription, with its sealed secret: what the deliveries run."""
        statement = select(webhook_subscriptions).where(webhook_subscriptions.c.active.is_(True))
        rows = (await self.session.execute(statement)).mappings()
        return [Stored(_subscription(r), r["secret"]) for r in rows]

    async def ids(self) -> set[str]:
        """The id of every subscription, active or not."""
        return set((await self.session.execute(select(webhook_subscriptions.c.id))).scalars())

    async def add_failure(self, failure: dict[str, Any]) -> None:
        await self.session.execute(insert(webhook_failures).values(**failure))

    async def failures(
        self, subscription_id: str, *, after: int | None, limit: int
    ) -> list[Failure]:
        """A subscription's failed deliveries, oldest first, after the failure `after`."""
        statement = (
            select(webhook_failures)
            .where(webhook_failures.c.subscription_id == subscription_id)
            .order_by(webhook_failures.c.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(webhook_failures.c.id > after)
        rows = (await self.session.execute(statement)).mappings()
        return [Failure(**dict(r)) for r in rows]

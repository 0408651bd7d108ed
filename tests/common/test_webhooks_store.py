"""Webhook subscriptions and failures in the store, on SQLite and PostgreSQL: made with a sealed
secret, read back, found by region, changed only from the version read, replayed, removed with
their failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from libs.common.db import Database
from libs.common.refusals import Stale
from libs.common.settings import ServiceSettings
from libs.common.tables import utcnow
from libs.common.webhooks import manage, signing
from libs.common.webhooks.store import WebhookRepository
from libs.common.webhooks.subscriptions import SubscriptionNotFound
from libs.common.webhooks.tables import webhook_subscriptions
from services.registry import events  # noqa: F401 - the registry's event types
from tests.harness import ServiceDatabases

SETTINGS = ServiceSettings(service_name="registry", webhook_allow_local_targets=True)
URL = "https://127.0.0.1:9/hook"


async def test_subscriptions_and_failures_round_trip(
    service_databases: ServiceDatabases,
) -> None:
    db = Database(await service_databases.url("registry"), source="/pb/registry")
    try:
        async with db.unit_of_work() as uow:
            county, secret = await manage.create(
                uow,
                SETTINGS,
                event_types=["pb.registry.organization.*"],
                region_code="140212",
                url=URL,
                secret=None,
                active=True,
            )
            township, _ = await manage.create(
                uow,
                SETTINGS,
                event_types=["pb.registry.branch.formed.v1"],
                region_code="140212101",
                url=URL,
                secret=None,
                active=False,
            )
            everything, _ = await manage.create(
                uow,
                SETTINGS,
                event_types=["pb.registry.*"],
                region_code=None,
                url=URL,
                secret=None,
                active=True,
            )
        async with db.read() as session:
            raw = (await session.execute(select(webhook_subscriptions.c.secret))).scalars().all()
            repository = WebhookRepository(session)
            assert secret not in raw  # sealed at rest
            active = {s.subscription.id: s for s in await repository.active()}
            assert set(active) == {county.id, everything.id}
            key = SETTINGS.webhook_secret_key.get_secret_value().encode()
            assert signing.unseal(key, active[county.id].sealed_secret) == secret
            assert await repository.get(county.id) == county
            in_county = await repository.page(
                region_code="140212", unfiltered=False, after=None, limit=10
            )
            assert {s.id for s in in_county} == {county.id, township.id}
            in_township = await repository.page(
                region_code="140212101", unfiltered=False, after=None, limit=10
            )
            assert [s.id for s in in_township] == [township.id]
            for_admin = await repository.page(
                region_code="140212", unfiltered=True, after=None, limit=10
            )
            assert len(for_admin) == 3
            ordered = sorted(s.id for s in for_admin)
            after_first = await repository.page(
                region_code="140212", unfiltered=True, after=ordered[0], limit=1
            )
            assert [s.id for s in after_first] == [ordered[1]]

        async with db.unit_of_work() as uow:
            current = await manage.get(uow, county.id, "140212", admin=False, lock=True)
            changed = await manage.change(
                uow, SETTINGS, current, {"active": False}, expected_version=1
            )
            assert (changed.version, changed.active) == (2, False)
        with pytest.raises(Stale):
            async with db.unit_of_work() as uow:
                await manage.change(uow, SETTINGS, county, {"active": True}, expected_version=1)
        async with db.unit_of_work() as uow:
            with pytest.raises(SubscriptionNotFound):  # outside the caller's region
                await manage.get(uow, county.id, "140211", admin=False)
            with pytest.raises(SubscriptionNotFound):  # unfiltered: an admin's only
                await manage.get(uow, everything.id, "140212", admin=False)
            current = await manage.get(uow, county.id, "140212", admin=False)
            replayed = await manage.replay(uow, current, utcnow() - timedelta(days=1))
            assert (replayed.generation, replayed.version) == (2, 3)
            repository = WebhookRepository(uow.session)
            for n in range(3):
                await repository.add_failure(
                    {
                        "subscription_id": county.id,
                        "event_id": f"event-{n}",
                        "event_type": "pb.registry.organization.registered.v1",
                        "subject": f"org-{n}",
                        "stream_sequence": n + 1,
                        "attempts": 8,
                        "reason": "HTTP 503",
                        "failed_at": utcnow(),
                    }
                )
        async with db.unit_of_work() as uow:
            stored = await manage.get(uow, county.id, "140212", admin=False)
            assert stored.start_at == replayed.start_at
            page = await manage.failures(uow, stored, after=None, limit=2)
            assert [f.event_id for f in page] == ["event-0", "event-1"]
            rest = await manage.failures(uow, stored, after=page[-1].id, limit=2)
            assert [f.event_id for f in rest] == ["event-2"]
            await manage.remove(uow, stored)
        async with db.read() as session:
            repository = WebhookRepository(session)
            assert await repository.get(county.id) is None
            assert await repository.failures(county.id, after=None, limit=10) == []
            assert await repository.ids() == {township.id, everything.id}
    finally:
        await db.dispose()

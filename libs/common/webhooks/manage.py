"""The use cases of webhook subscriptions: make, read, change, replay, remove, list failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from libs.common.db import UnitOfWork
from libs.common.events import catalogue
from libs.common.ids import new_id
from libs.common.refusals import Invalid
from libs.common.settings import ServiceSettings
from libs.common.tables import utcnow
from libs.common.validators import InvalidCode, is_within
from libs.common.webhooks.signing import seal
from libs.common.webhooks.store import Failure, WebhookRepository
from libs.common.webhooks.subscriptions import (
    EVENT_PAYLOAD,
    Subscription,
    SubscriptionNotFound,
    check_addresses,
    event_types_of,
    new_secret,
    secret_bytes,
    target_of,
)


def repository(uow: UnitOfWork) -> WebhookRepository:
    return uow.repository(WebhookRepository)


def visible_to(subscription: Subscription, region_code: str, *, admin: bool) -> bool:
    """A subscription with a region filter is the business of the callers above that region;
    one without (every region) of an admin only."""
    if subscription.region_code is None:
        return admin
    try:
        return is_within(subscription.region_code, region_code)
    except InvalidCode:
        return False


def known_types(settings: ServiceSettings) -> list[str]:
    """The versioned event types of the service's catalogue."""
    space = f"pb.{settings.service_name}."
    return [e.type_name for e in catalogue if e.type_name.startswith(space)]


async def checked_url(url: str, settings: ServiceSettings) -> str:
    """The target URL if it is one deliveries may go to; a host name is resolved and each of
    its addresses checked (no private or local target in production: SSRF)."""
    target = target_of(url, allow_local=settings.webhook_allow_local_targets)
    if target.is_name and not settings.webhook_allow_local_targets:
        check_addresses(await resolve(target.host, target.port), allow_local=False)
    return target.url


async def resolve(host: str, port: int) -> list[str]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise Invalid("url", "names a host that does not resolve") from None
    return [str(info[4][0]) for info in found]


async def create(
    uow: UnitOfWork,
    settings: ServiceSettings,
    *,
    event_types: list[str],
    region_code: str | None,
    url: str,
    secret: str | None,
    active: bool,
    payload: str = EVENT_PAYLOAD,
    payloads: Collection[str] = (),
) -> tuple[Subscription, str]:
    """A new subscription, delivering what is stored from now on; returns it and its secret
    (shown this once). `payload` is `event` or one of the service's `payloads`."""
    if payload != EVENT_PAYLOAD and payload not in payloads:
        offered = ", ".join(sorted({EVENT_PAYLOAD, *payloads}))
        raise Invalid("payload", f"not a payload of this service (offered: {offered})")
    types = event_types_of(event_types, settings.service_name, known_types(settings))
    target = await checked_url(url, settings)
    secret = secret if secret is not None else new_secret()
    secret_bytes(secret)
    now = utcnow()
    subscription = Subscription(
        id=new_id(),
        event_types=types,
        region_code=region_code,
        url=target,
        active=active,
        start_at=now,
        generation=1,
        version=1,
        created_at=now,
        updated_at=now,
        payload=payload,
    )
    sealed = seal(settings.webhook_secret_key.get_secret_value().encode(), secret)
    await repository(uow).add(subscription, sealed)
    return subscription, secret


async def get(
    uow: UnitOfWork, subscription_id: str, region_code: str, *, admin: bool, lock: bool = False
) -> Subscription:
    found = await repository(uow).get(subscription_id, for_update=lock)
    if found is None or not visible_to(found, region_code, admin=admin):
        raise SubscriptionNotFound("webhook subscription not found")
    return found


async def change(
    uow: UnitOfWork,
    settings: ServiceSettings,
    current: Subscription,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
) -> Subscription:
    """Apply a merge patch (event types, region, URL, active) to `current`."""
    updated = current
    if "event_types" in changes:
        types = event_types_of(
            changes["event_types"] or [], settings.service_name, known_types(settings)
        )
        updated = replace(updated, event_types=types)
    if "url" in changes:
        if changes["url"] is None:
            raise Invalid("url", "cannot be removed")
        updated = replace(updated, url=await checked_url(changes["url"], settings))
    if "active" in changes:
        if changes["active"] is None:
            raise Invalid("active", "is true or false")
        updated = replace(updated, active=bool(changes["active"]))
    if "region_code" in changes:
        updated = replace(updated, region_code=changes["region_code"])
    updated = replace(updated, version=current.version + 1, updated_at=utcnow())
    await repository(uow).save(
        updated, expected_version=current.version if expected_version is None else expected_version
    )
    return updated


async def replay(uow: UnitOfWork, current: Subscription, start_at: datetime) -> Subscription:
    """Deliver again every wanted event stored since `start_at` (the consumer is made again)."""
    replayed = current.replayed_from(start_at, utcnow())
    await repository(uow).save(replayed, expected_version=current.version)
    return replayed


async def remove(uow: UnitOfWork, subscription: Subscription) -> None:
    """Forget the subscription and its failures (the worker deletes its consumer)."""
    await repository(uow).remove(subscription.id)


async def failures(
    uow: UnitOfWork, subscription: Subscription, *, after: int | None, limit: int
) -> list[Failure]:
    return await repository(uow).failures(subscription.id, after=after, limit=limit)

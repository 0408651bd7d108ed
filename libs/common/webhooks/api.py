"""`/v1/webhook-subscriptions`: subscribe to this service's events by webhook (Standard
Webhooks), read and change a subscription, replay it from a time, list its failed deliveries.

Managed by callers holding `webhooks:manage` or `admin`, within their region; the secret is shown
once, in the answer to the POST that made it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.auth import ADMIN_SCOPE, Principal, current_principal
from libs.common.db import UnitOfWork
from libs.common.fields import RegionCode
from libs.common.http import IfMatch, etag, expected_version, sends
from libs.common.pagination import Page, Pages
from libs.common.problems import Forbidden
from libs.common.settings import ServiceSettings
from libs.common.text import Text
from libs.common.webhooks import manage
from libs.common.webhooks.store import Failure
from libs.common.webhooks.subscriptions import Subscription

MANAGE_SCOPE = "webhooks:manage"

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"])


async def manager(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Admits callers holding `webhooks:manage` or `admin`."""
    if MANAGE_SCOPE not in principal.scopes and ADMIN_SCOPE not in principal.scopes:
        raise Forbidden(f"the token lacks the scope {MANAGE_SCOPE}")
    return principal


Manager = Annotated[Principal, Depends(manager)]


# (libs.common.service mounts this router, so its dependencies are not imported from there)
async def _transaction(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(request.app.state.runtime.db) as uow:
        yield uow


async def _read_session(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork(request.app.state.runtime.db, readonly=True) as uow:
        yield uow


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.runtime.settings
    return settings


# scope="function": committed before the response leaves (a failed commit is no 201)
Transaction = Annotated[UnitOfWork, Depends(_transaction, scope="function")]
ReadSession = Annotated[UnitOfWork, Depends(_read_session)]
Settings = Annotated[ServiceSettings, Depends(_settings)]

EXAMPLE_TYPES = ["pb.registry.organization.*", "pb.registry.branch.formed.v1"]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_types: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1,
        max_length=50,
        description="Versioned event types of this service, or wildcards by family "
        "(pb.registry.organization.*) or for all of them (pb.registry.*)",
        examples=[EXAMPLE_TYPES],
    )
    region_code: RegionCode | None = Field(
        default=None,
        description="Deliver only events whose region_code lies within this region (default: "
        "the caller's region; null, for an admin only: every event, with a region or not)",
    )
    url: str = Field(
        max_length=2000,
        description="Where deliveries are POSTed: https:// to a public address",
        examples=["https://platform.example.org/hooks/pb"],
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="The signing secret, whsec_ and the base64 of 24 to 64 bytes (default: a "
        "new one). Returned once, in this answer, never again",
    )
    active: bool = True
    payload: str = Field(
        default="event",
        max_length=50,
        description="What a delivery carries: `event` (the event's data as published) or a "
        "payload this service builds from each event: the registry offers `provincial_profile` "
        "(the provincial-profile records of the organisations the event names, as they stand "
        "when it is delivered; docs/integration.md)",
        examples=["event"],
    )


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_types: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    region_code: RegionCode | None = None
    url: str | None = Field(default=None, max_length=2000)
    active: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(
        alias="from",
        description="Deliver again every wanted event stored since this time (RFC 3339, with a "
        "zone), as far back as the stream keeps them",
        examples=["2026-11-30T08:00:00Z"],
    )


class SubscriptionOut(BaseModel):
    id: str
    event_types: list[str]
    region_code: str | None
    url: str
    active: bool
    payload: str = Field(description="`event`, or the payload the service builds from each event")
    deliver_from: datetime = Field(
        description="Events stored since this time are delivered (creation, or the last replay)"
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(
            id=s.id,
            event_types=list(s.event_types),
            region_code=s.region_code,
            url=s.url,
            active=s.active,
            payload=s.payload,
            deliver_from=s.start_at,
            version=s.version,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="The signing secret (whsec_...): keep it, it is never shown again"
    )


class SubscriptionPage(Page[SubscriptionOut]):
    pass


class FailureOut(BaseModel):
    id: int
    event_id: str | None
    event_type: str | None
    subject: str | None = Field(description="The event's subject (the aggregate's id)")
    stream_sequence: int | None
    attempts: int
    reason: str = Field(description="The last attempt's outcome, e.g. HTTP 503 or a timeout")
    failed_at: datetime

    @classmethod
    def of(cls, f: Failure) -> FailureOut:
        return cls.model_validate(f, from_attributes=True)


class FailurePage(Page[FailureOut]):
    pass


def _admin(principal: Principal) -> bool:
    return ADMIN_SCOPE in principal.scopes


def _region_filter(body: BaseModel, region_code: str | None, principal: Principal) -> str | None:
    """The region filter a request asks for: the caller's region when it names none, none at
    all only for an admin who says `null`, else one inside the caller's region."""
    if "region_code" not in body.model_fields_set:
        return principal.region_code
    if region_code is None:
        if not _admin(principal):
            raise Forbidden("only an admin may subscribe without a region filter")
        return None
    principal.ensure_covers(region_code)
    return region_code


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    summary="Subscribe to this service's events by webhook (the secret is shown once)",
    responses=sends(201, etag=True, location=True),
)
async def create_subscription(
    body: SubscriptionIn,
    request: Request,
    uow: Transaction,
    principal: Manager,
    settings: Settings,
    response: Response,
) -> SubscriptionCreated:
    subscription, secret = await manage.create(
        uow,
        settings,
        event_types=body.event_types,
        region_code=_region_filter(body, body.region_code, principal),
        url=body.url,
        secret=body.secret,
        active=body.active,
        payload=body.payload,
        payloads=request.app.state.runtime.definition.webhook_payloads,
    )
    response.headers["Location"] = f"{router.prefix}/{subscription.id}"
    response.headers["ETag"] = etag(subscription.version)
    return SubscriptionCreated(**SubscriptionOut.of(subscription).model_dump(), secret=secret)


@router.get("", response_model=SubscriptionPage, summary="The subscriptions in your region")
async def list_subscriptions(
    uow: ReadSession,
    principal: Manager,
    pages: Pages,
) -> SubscriptionPage:
    after = pages.after(str)
    found = await manage.repository(uow).page(
        region_code=principal.region_code,
        unfiltered=_admin(principal),
        after=None if after is None else after[0],
        limit=pages.fetch,
    )
    return SubscriptionPage.of(pages, found, key=lambda s: (s.id,), item=SubscriptionOut.of)


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="A subscription (without its secret)",
    responses=sends(etag=True),
)
async def read_subscription(
    subscription_id: Text, uow: ReadSession, principal: Manager, response: Response
) -> SubscriptionOut:
    found = await manage.get(uow, subscription_id, principal.region_code, admin=_admin(principal))
    response.headers["ETag"] = etag(found.version)
    return SubscriptionOut.of(found)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="Change a subscription (JSON merge patch; If-Match required)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/SubscriptionPatch"}
                }
            }
        }
    },
    responses=sends(etag=True),
)
async def change_subscription(
    subscription_id: Text,
    body: SubscriptionPatch,
    uow: Transaction,
    principal: Manager,
    settings: Settings,
    response: Response,
    if_match: IfMatch = None,
) -> SubscriptionOut:
    expected = expected_version(if_match)
    current = await manage.get(
        uow, subscription_id, principal.region_code, admin=_admin(principal), lock=True
    )
    changes = body.changes()
    if "region_code" in changes:
        changes["region_code"] = _region_filter(body, body.region_code, principal)
    changed = await manage.change(uow, settings, current, changes, expected_version=expected)
    response.headers["ETag"] = etag(changed.version)
    return SubscriptionOut.of(changed)


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe (deliveries stop; the failures are forgotten)",
)
async def delete_subscription(
    subscription_id: Text, uow: Transaction, principal: Manager
) -> Response:
    found = await manage.get(
        uow, subscription_id, principal.region_code, admin=_admin(principal), lock=True
    )
    await manage.remove(uow, found)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubscriptionOut,
    summary="Deliver again every wanted event stored since a time",
    responses=sends(202, etag=True),
)
async def replay_subscription(
    subscription_id: Text,
    body: ReplayIn,
    uow: Transaction,
    principal: Manager,
    response: Response,
) -> SubscriptionOut:
    current = await manage.get(
        uow, subscription_id, principal.region_code, admin=_admin(principal), lock=True
    )
    replayed = await manage.replay(uow, current, body.from_)
    response.headers["ETag"] = etag(replayed.version)
    return SubscriptionOut.of(replayed)


@router.get(
    "/{subscription_id}/failures",
    response_model=FailurePage,
    summary="Deliveries given up on after the last attempt, oldest first",
)
async def list_failures(
    subscription_id: Text,
    uow: ReadSession,
    principal: Manager,
    pages: Pages,
) -> FailurePage:
    found = await manage.get(uow, subscription_id, principal.region_code, admin=_admin(principal))
    after = pages.after(int)
    failures = await manage.failures(
        uow, found, after=None if after is None else after[0], limit=pages.fetch
    )
    return FailurePage.of(pages, failures, key=lambda f: (f.id,), item=FailureOut.of)

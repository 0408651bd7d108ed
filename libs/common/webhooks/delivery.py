"""Webhook deliveries, straight from the service's JetStream stream.

Each active subscription has its own durable pull consumer (`webhook-<id>`, filtered on its
event types, starting at its `start_at`) and its own task and HTTP client: a receiver that is
slow or down holds up only its own subscription. One message is in flight per subscription
(`max_ack_pending=1`), so deliveries arrive in stream order, hence in order per subject and per
organisation. A 2xx answer acknowledges the event; anything else (a status, a timeout, a refused
connection) naks it with the next backoff delay, and after `webhook_max_attempts` attempts it is
recorded as the subscription's failure and terminated, and the next event goes.

A supervisor reads the subscriptions every `webhook_refresh_seconds`: it starts what is new,
restarts what changed (a replay makes the consumer again from the new start time), stops what
was deactivated, and deletes the consumers of deleted subscriptions.

A subscription's `payload` is `event` (the event's data, as published) or the name of a payload
the service builds from each event (`ServiceDefinition.webhook_payloads`): the builder reads the
service's store when the event is delivered and returns the data to POST in its place, or None
for an event it has nothing to say about (acknowledged, not sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from libs.common.broker import BrokerLink
from libs.common.db import Database
from libs.common.events import (
    SPEC_VERSION,
    Envelope,
    IntegrationEvent,
    MalformedEnvelope,
    catalogue,
    schema_url,
)
from libs.common.logging import get_logger
from libs.common.refusals import Invalid
from libs.common.settings import DEVELOPMENT_WEBHOOK_KEY, ServiceSettings
from libs.common.tables import utcnow
from libs.common.tasks import StopSignal, stop_loop
from libs.common.tracing import span_from
from libs.common.webhooks import signing
from libs.common.webhooks.manage import resolve
from libs.common.webhooks.store import Stored, WebhookRepository
from libs.common.webhooks.subscriptions import (
    EVENT_PAYLOAD,
    Subscription,
    check_addresses,
    filter_subjects,
    secret_bytes,
    subscription_of_consumer,
)

log = get_logger(__name__)

#: The body of a delivery: a CloudEvent in the structured JSON format.
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
GENERATION_KEY = "pb-generation"

#: Builds a payload from an event: (the service's database, the event, its data, the
#: subscription's region filter) -> the data to POST instead, or None to skip the event.
PayloadBuilder = Callable[
    [Database, Envelope, dict[str, Any], str | None], Awaitable[dict[str, Any] | None]
]


class WebhookMetrics:
    """The delivery metrics, on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "pb_webhook_deliveries",
            "Webhook delivery attempts by outcome: delivered (2xx), retried (will be tried "
            "again), failed (given up), skipped (outside the subscription's region)",
            ["subscription", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "pb_webhook_delivery_duration_seconds",
            "Time of one webhook POST, answered or not",
            ["subscription"],
            registry=registry,
        )
        self.pending = Gauge(
            "pb_webhook_pending_messages",
            "Events stored but not yet delivered to a subscription",
            ["subscription"],
            registry=registry,
        )

    def forget(self, subscription_id: str) -> None:
        for metric in (self.seconds, self.pending):
            with contextlib.suppress(KeyError):
                metric.remove(subscription_id)
        for outcome in ("delivered", "retried", "failed", "skipped"):
            with contextlib.suppress(KeyError):
                self.deliveries.remove(subscription_id, outcome)


def structured(envelope: Envelope, data: Any, dataschema: str | None = None) -> bytes:
    """The event as a structured-mode CloudEvent: its attributes and its data in one JSON
    (`dataschema` where the data is the event's own, not a payload built from it)."""
    document: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if dataschema is not None:
        document["dataschema"] = dataschema
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def carried_events(
    envelope: Envelope, data: dict[str, Any], parts: Mapping[str, type[IntegrationEvent]]
) -> list[tuple[Envelope, dict[str, Any]]]:
    """The events an event carries in its `parts` (list field -> the type of each item), each
    with the carrier's source, time and trace, its own type and subject, and an id made from
    the carrier's and the item's place in it: the same on every delivery of the carrier."""
    try:
        namespace = uuid.UUID(envelope.id)
    except ValueError:
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, envelope.id)
    out = []
    for field_name, model in parts.items():
        items = data.get(field_name)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                one = replace(
                    envelope,
                    id=str(uuid.uuid5(namespace, f"{field_name}/{index}")),
                    type=model.type_name(),
                    subject=str(item.get(model.subject_field, "")),
                )
                out.append((one, item))
    return out


class WebhookDeliveries:
    """The supervisor of every subscription's delivery (a `Worker` of the service)."""

    def __init__(
        self,
        db: Database,
        link: BrokerLink,
        settings: ServiceSettings,
        registry: CollectorRegistry,
        tracer: trace.Tracer,
        payloads: Mapping[str, PayloadBuilder] | None = None,
    ) -> None:
        self.db = db
        self.payloads: Mapping[str, PayloadBuilder] = payloads or {}
        #: The event types that carry others (an import's files): type -> list field -> type.
        self.parts: dict[str, dict[str, type[IntegrationEvent]]] = catalogue.parts()
        self.link = link
        self.settings = settings
        self.tracer = tracer
        self.metrics = WebhookMetrics(registry)
        self.running: dict[str, SubscriptionDelivery] = {}
        self._known: set[str] | None = None  # the subscription ids at the last refresh
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    @property
    def key(self) -> bytes:
        return self.settings.webhook_secret_key.get_secret_value().encode()

    def start(self) -> None:
        if self.settings.webhook_secret_key.get_secret_value() == DEVELOPMENT_WEBHOOK_KEY:
            log.warning(
                "development-only secret in use: set it before production",
                setting="PB_WEBHOOK_SECRET_KEY",
            )
        self._task = asyncio.create_task(self._supervise(), name="webhook-deliveries")

    async def stop(self) -> None:
        await stop_loop(self._task, self._stopping, grace=5.0)
        self._task = None
        await asyncio.gather(*(d.stop() for d in self.running.values()))
        self.running.clear()

    async def _supervise(self) -> None:
        while not self._stopping.is_set:
            if not self.link.ready.is_set():
                await self._stopping.sleep(0.2, wake=self.link.ready)
                continue
            try:
                await self.refresh()
            except Exception:
                log.exception("webhook subscriptions not refreshed")
            await self._stopping.sleep(self.settings.webhook_refresh_seconds)

    async def refresh(self) -> None:
        """Bring the running deliveries in line with the stored subscriptions."""
        async with self.db.read() as session:
            repository = WebhookRepository(session)
            stored = {s.subscription.id: s for s in await repository.active()}
            known = await repository.ids()
        for subscription_id, running in list(self.running.items()):
            wanted = stored.get(subscription_id)
            if wanted is None or wanted.subscription.version != running.subscription.version:
                await running.stop()
                del self.running[subscription_id]
                if subscription_id not in known:
                    self.metrics.forget(subscription_id)
        for subscription_id, wanted in stored.items():
            if subscription_id not in self.running:
                self._start(wanted)
        # on start, and whenever a subscription went (here or through another replica)
        if self._known is None or self._known - known:
            await self._delete_orphans(known)
        self._known = known

    def _start(self, stored: Stored) -> None:
        try:
            key = secret_bytes(signing.unseal(self.key, stored.sealed_secret))
        except (signing.UnsealError, Invalid):
            log.error(
                "webhook secret cannot be unsealed (was PB_WEBHOOK_SECRET_KEY changed?)",
                subscription=stored.subscription.id,
            )
            return
        delivery = SubscriptionDelivery(stored.subscription, key, self)
        self.running[stored.subscription.id] = delivery
        delivery.start()

    async def _delete_orphans(self, known: set[str]) -> None:
        """Delete the consumers of subscriptions that no longer exist."""
        stream = self.settings.stream_name
        for info in await self.link.js.consumers_info(stream):
            subscription_id = subscription_of_consumer(info.name or "")
            if subscription_id is not None and subscription_id not in known:
                with contextlib.suppress(NotFoundError):
                    await self.link.js.delete_consumer(stream, info.name)
                log.info("webhook consumer deleted", subscription=subscription_id)


class SubscriptionDelivery:
    """The delivery loop of one subscription: its consumer, its task, its HTTP client."""

    def __init__(self, subscription: Subscription, key: bytes, owner: WebhookDeliveries) -> None:
        self.subscription = subscription
        self.key = key
        self.owner = owner
        self.settings = owner.settings
        self.metrics = owner.metrics
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere: it is a failed attempt
            trust_env=False,
            headers={"user-agent": "pb-webhooks/1"},
        )

    @property
    def stream(self) -> str:
        return self.settings.stream_name

    @property
    def carried(self) -> dict[str, list[str]]:
        """The types each carrying event type carries (`WebhookDeliveries.parts`)."""
        return {t: [m.type_name() for m in p.values()] for t, p in self.owner.parts.items()}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.subscription.consumer_name)

    async def stop(self) -> None:
        grace = self.settings.inbox_fetch_seconds + self.settings.webhook_timeout_seconds + 5
        await stop_loop(self._task, self._stopping, grace=grace)
        self._task = None
        await self._client.aclose()

    def consumer_config(self) -> ConsumerConfig:
        s = self.subscription
        return ConsumerConfig(
            durable_name=s.consumer_name,
            description=f"webhook subscription {s.id}",
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=s.start_at,
            ack_policy=AckPolicy.EXPLICIT,
            # a POST lasts at most the timeout: the ack wait only matters for a dead process
            ack_wait=self.settings.webhook_timeout_seconds + 10,
            max_ack_pending=1,  # one in flight: deliveries in stream order
            filter_subjects=filter_subjects(s.read_types(self.carried)),
            metadata={GENERATION_KEY: str(s.generation)},
        )

    async def _consumer(self) -> Any:
        """Make (or update) the consumer; a replay's new generation makes it again."""
        js = self.owner.link.js
        name = self.subscription.consumer_name
        try:
            info = await js.consumer_info(self.stream, name)
            generation = (info.config.metadata or {}).get(GENERATION_KEY)
            if generation != str(self.subscription.generation):
                await js.delete_consumer(self.stream, name)
                log.info("webhook consumer made again", subscription=self.subscription.id)
        except NotFoundError:
            pass
        await js.add_consumer(self.stream, self.consumer_config())
        return await js.pull_subscribe_bind(durable=name, stream=self.stream)

    async def _run(self) -> None:
        subscription: Any = None
        try:
            while not self._stopping.is_set:
                try:
                    if not self.owner.link.ready.is_set():
                        await self._stopping.sleep(0.2, wake=self.owner.link.ready)
                        continue
                    if subscription is None:
                        subscription = await self._consumer()
                    try:
                        msgs = await subscription.fetch(
                            1, timeout=self.settings.inbox_fetch_seconds
                        )
                    except (NatsTimeoutError, TimeoutError):
                        continue
                    for msg in msgs:
                        await self.deliver(msg)
                except asyncio.CancelledError:
                    raise
                except NotFoundError:  # the stream is not declared yet
                    subscription = None
                    await self._stopping.sleep(1.0)
                except Exception:
                    log.exception("webhook round failed", subscription=self.subscription.id)
                    subscription = None
                    await self._stopping.sleep(1.0)
        finally:
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def deliver(self, msg: Msg) -> None:
        """POST one event; ack it, retry it later, or give up on it."""
        sid = self.subscription.id
        self.metrics.pending.labels(sid).set(msg.metadata.num_pending + 1)
        try:
            envelope = Envelope.from_nats(msg.headers, msg.data)
            data = json.loads(envelope.data)
        except (MalformedEnvelope, ValueError) as exc:
            await self.give_up(msg, None, f"not a readable CloudEvent: {exc}")
            return
        region = data.get("region_code") if isinstance(data, dict) else None
        if not self.subscription.wants(region if isinstance(region, str) else None):
            await msg.ack()
            self.metrics.deliveries.labels(sid, "skipped").inc()
            return
        data, parts = self.asked_parts(envelope, data)
        base = self.settings.events_schema_base_url
        sends: list[tuple[Envelope, Any, str | None]]
        if self.subscription.payload != EVENT_PAYLOAD:
            built = await self.built(msg, envelope, data)
            if built is None:
                return
            sends = [(envelope, built, None)]
        elif parts:
            sends = [
                (one, item, schema_url(one.type, base))
                for one, item in carried_events(envelope, data, parts)
            ]
        else:
            sends = [(envelope, data, schema_url(envelope.type, base))]
        if not sends:  # none of the parts asked for
            await msg.ack()
            self.metrics.deliveries.labels(sid, "skipped").inc()
            return
        error: str | None = None
        for index, (one, body, dataschema) in enumerate(sends):
            if index:
                await msg.in_progress()  # many POSTs: the ack wait starts again for each
            error = await self.post_traced(msg, one, structured(one, body, dataschema))
            if error is not None:
                break  # the message comes again: receivers know what they had by its ids
        if error is None:
            await msg.ack()
            self.metrics.deliveries.labels(sid, "delivered").inc()
            self.metrics.pending.labels(sid).set(msg.metadata.num_pending)
            return
        attempt = msg.metadata.num_delivered
        if attempt >= self.settings.webhook_max_attempts:
            await self.give_up(msg, envelope, error)
            return
        delays = self.settings.webhook_backoff_seconds or [1.0]
        delay = delays[min(attempt - 1, len(delays) - 1)]
        self.metrics.deliveries.labels(sid, "retried").inc()
        log.warning(
            "webhook delivery failed, will retry",
            subscription=sid,
            event_id=envelope.id,
            attempt=attempt,
            retry_in=delay,
            error=error,
        )
        await msg.nak(delay=delay)

    def asked_parts(
        self, envelope: Envelope, data: Any
    ) -> tuple[Any, dict[str, type[IntegrationEvent]]]:
        """For an event that carries others (an import's files) which the subscription asks
        for without asking for the carrier: its data with only the parts asked for, and those
        parts (each item then goes as an event of its own unless a payload is built). Any other
        event: its data as it is, and no parts."""
        carried = self.owner.parts.get(envelope.type)
        if not carried or self.subscription.takes(envelope.type) or not isinstance(data, dict):
            return data, {}
        asked = {f: m for f, m in carried.items() if self.subscription.takes(m.type_name())}
        return {k: v for k, v in data.items() if k not in carried or k in asked}, asked

    async def post_traced(self, msg: Msg, envelope: Envelope, body: bytes) -> str | None:
        """`post` in a span of the event's trace."""
        with span_from(
            self.owner.tracer,
            f"{envelope.type} webhook",
            traceparent=envelope.traceparent,
            tracestate=envelope.tracestate,
            kind=trace.SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "server.address": urlsplit(self.subscription.url).hostname or "",
                "messaging.message.id": envelope.id,
                "pb.webhook.subscription": self.subscription.id,
                "pb.webhook.attempt": msg.metadata.num_delivered,
            },
        ) as span:
            error = await self.post(envelope.id, body)
            if error is not None:
                span.set_status(trace.Status(trace.StatusCode.ERROR, error))
        return error

    async def built(self, msg: Msg, envelope: Envelope, data: Any) -> dict[str, Any] | None:
        """The subscription's payload for the event; None when the event is settled here
        (nothing to send: acknowledged; the store unreachable: retried later)."""
        sid, name = self.subscription.id, self.subscription.payload
        builder = self.owner.payloads.get(name)
        if builder is None:
            await self.give_up(msg, envelope, f"this service builds no payload {name!r}")
            return None
        try:
            built = await builder(
                self.owner.db,
                envelope,
                data if isinstance(data, dict) else {},
                self.subscription.region_code,
            )
        except Exception:
            log.exception("webhook payload not built, will retry", subscription=sid)
            await msg.nak(delay=(self.settings.webhook_backoff_seconds or [1.0])[0])
            return None
        if built is None:
            await msg.ack()
            self.metrics.deliveries.labels(sid, "skipped").inc()
        return built

    async def post(self, message_id: str, body: bytes) -> str | None:
        """One signed attempt; None when the receiver took it (2xx), else why not."""
        url = self.subscription.url
        if not self.settings.webhook_allow_local_targets:
            # checked again at each attempt: a name may resolve elsewhere since it was checked
            parts = urlsplit(url)
            try:
                addresses = await resolve(parts.hostname or "", parts.port or 443)
                check_addresses(addresses, allow_local=False)
            except Invalid as exc:
                return f"target refused: {exc.reason}"
        headers = signing.headers(self.key, message_id, int(time.time()), body)
        headers["content-type"] = CLOUDEVENTS_JSON
        propagate.inject(headers)  # the receiver may continue the trace (traceparent)
        started = time.perf_counter()
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: no answer"
        finally:
            self.metrics.seconds.labels(self.subscription.id).observe(time.perf_counter() - started)
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def give_up(self, msg: Msg, envelope: Envelope | None, reason: str) -> None:
        """Record the failure for the subscription, then terminate the message."""
        failure = {
            "subscription_id": self.subscription.id,
            "event_id": envelope.id if envelope else None,
            "event_type": envelope.type if envelope else None,
            "subject": envelope.subject if envelope else None,
            "stream_sequence": msg.metadata.sequence.stream,
            "attempts": msg.metadata.num_delivered,
            "reason": reason[:4000],
            "failed_at": utcnow(),
        }
        try:
            async with self.owner.db.unit_of_work() as uow:
                await uow.repository(WebhookRepository).add_failure(failure)
        except Exception:
            log.exception("webhook failure not stored", subscription=self.subscription.id)
            await msg.nak(delay=5.0)
            return
        await msg.term()
        self.metrics.deliveries.labels(self.subscription.id, "failed").inc()
        log.error(
            "webhook delivery given up",
            subscription=self.subscription.id,
            event_id=failure["event_id"],
            attempts=failure["attempts"],
            reason=reason,
        )

"""Training's routine judgements for coverage tests, made with the training service's own event
classes and published to a PB_TRAINING stream as its relay publishes them (and a publisher for
any producer's stream: stations' too)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date

import nats
from nats.js import JetStreamContext

from libs.common.broker import ensure_stream, service_streams
from libs.common.events import Envelope, IntegrationEvent
from libs.common.settings import ServiceSettings
from services.training.events import RoutineLapsedV1, RoutineRestoredV1
from tests.coverage.feed import RegistryStream


def _period(period: str) -> tuple[str, date, date]:
    """(frequency, first day, last day) of `2026-08` (a month) or `2026-Q3` (a quarter)."""
    year, _, rest = period.partition("-")
    if rest.startswith("Q"):
        first_month = 3 * (int(rest[1]) - 1) + 1
        start = date(int(year), first_month, 1)
        end_month = first_month + 2
        frequency = "quarter"
    else:
        start = date(int(year), int(rest), 1)
        end_month = int(rest)
        frequency = "month"
    following = date(int(year) + end_month // 12, end_month % 12 + 1, 1)
    return frequency, start, date.fromordinal(following.toordinal() - 1)


def lapsed(branch_id: str, period: str, *org_ids: str) -> RoutineLapsedV1:
    frequency, starts_on, ends_on = _period(period)
    return RoutineLapsedV1(
        branch_id=branch_id,
        region_code="140212",
        organization_ids=list(org_ids),
        obligation="party_lecture" if frequency == "quarter" else "committee_meeting",
        frequency=frequency,
        period=period,
        period_starts_on=starts_on,
        period_ends_on=ends_on,
        judged_on=date.fromordinal(ends_on.toordinal() + 1),
    )


def restored(event: RoutineLapsedV1, held_on: date, *, period_met: bool) -> RoutineRestoredV1:
    values = event.model_dump(exclude={"judged_on"})
    return RoutineRestoredV1(
        **values,
        meeting_id=f"m-{event.branch_id}-{held_on}",
        held_on=held_on,
        period_met=period_met,
    )


@contextlib.asynccontextmanager
async def producer_stream(nats_url: str, service: str) -> AsyncIterator[RegistryStream]:
    """The stream of `service` (training, stations) on a test nats-server, with a publisher
    like that service's relay."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        for spec in service_streams(ServiceSettings(service_name=service)):
            await ensure_stream(js, spec)
        yield _Publisher(js, f"/pb/{service}")
    finally:
        await client.close()


def training_stream(nats_url: str) -> contextlib.AbstractAsyncContextManager[RegistryStream]:
    """PB_TRAINING on a test nats-server, with a publisher like training's relay."""
    return producer_stream(nats_url, "training")


class _Publisher(RegistryStream):
    def __init__(self, js: JetStreamContext, source: str) -> None:
        super().__init__(js)
        self.source = source

    async def publish(self, *events: IntegrationEvent) -> list[Envelope]:
        envelopes = [Envelope.wrap(e, source=self.source) for e in events]
        await self.publish_envelopes(envelopes)
        self.sent += envelopes
        return envelopes

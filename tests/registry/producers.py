"""Training's and stations' events as their relays publish them, built by hand: their event
classes are not importable here (services do not import each other), so the CloudEvents
envelope is `libs.common.events.Envelope` and the data a JSON body written from their schemas
(docs/events/schemas/pb.training.member.*.v1.json, pb.stations.worker.member_declared.v1.json)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import nats
from nats.js import JetStreamContext

from libs.common.broker import ensure_stream, service_streams
from libs.common.events import Envelope
from libs.common.settings import ServiceSettings

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
#: The registry's development identity key (its settings' default), which stations shares.
SHARED_KEY = b"development-only-identity-key-change-me-0123456789"


def keyed_hash(label: str, normalised: str, key: bytes = SHARED_KEY) -> str:
    """HMAC-SHA256 hex of `label NUL value`: what stations sends and the registry keeps, written
    here from the contract, not from either service's code."""
    return hmac.new(key, label.encode() + b"\x00" + normalised.encode(), hashlib.sha256).hexdigest()


def candidate(candidate_id: str, organization_id: str, step: str, **extra: Any) -> Envelope:
    """`pb.training.member.<step>.v1` for a candidate of the organisation."""
    data: dict[str, Any] = {
        "candidate_id": candidate_id,
        "organization_id": organization_id,
        "branch_id": "branch-1",
        "region_code": "140212",
        "membership": "full" if step == "confirmed" else "probationary",
        f"{step}_on": TODAY.isoformat(),
        **extra,
    }
    if step == "admitted":
        data["approved_on"] = TODAY.isoformat()
    return _envelope("training", f"pb.training.member.{step}.v1", candidate_id, data)


def declared(
    worker_id: str, phone: str, *, region_code: str = "140212", id_number: str | None = None
) -> Envelope:
    """`pb.stations.worker.member_declared.v1` of a worker with this phone (and ID number)."""
    data = {
        "worker_id": worker_id,
        "region_code": region_code,
        "community_code": None,
        "match_key": keyed_hash("phone", phone),
        "id_match_key": keyed_hash("id_number", id_number) if id_number else None,
        "declared_on": TODAY.isoformat(),
    }
    return _envelope("stations", "pb.stations.worker.member_declared.v1", worker_id, data)


def _envelope(service: str, type_: str, subject: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"/pb/{service}",
        type=type_,
        subject=subject,
        time=NOW,
        data=json.dumps(data).encode(),
    )


class ProducerStreams:
    """PB_TRAINING and PB_STATIONS on a test nats-server, and a publisher like their relays."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    @classmethod
    @contextlib.asynccontextmanager
    async def on(cls, nats_url: str) -> AsyncIterator[ProducerStreams]:
        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            for service in ("training", "stations"):
                for spec in service_streams(ServiceSettings(service_name=service)):
                    await ensure_stream(js, spec)
            yield cls(js)
        finally:
            await client.close()

    async def publish(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self.js.publish(envelope.type, envelope.data, headers=envelope.headers())

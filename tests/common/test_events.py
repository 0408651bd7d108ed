"""The catalogue and the CloudEvents envelope over NATS headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from libs.common.events import Catalogue, Envelope, IntegrationEvent, MalformedEnvelope

local = Catalogue()


@local.register("pb.demo.thing.happened", version=2, producer="demo", subject_field="thing_id")
class ThingHappenedV2(IntegrationEvent):
    """Emitted when a thing happens."""

    thing_id: str
    count: int


def test_registration_sets_the_versioned_type_and_summary() -> None:
    assert ThingHappenedV2.type_name() == "pb.demo.thing.happened.v2"
    [entry] = list(local)
    assert entry.producer == "demo"
    assert entry.summary == "Emitted when a thing happens."
    assert local.model_for("pb.demo.thing.happened.v2") is ThingHappenedV2


def test_a_type_outside_the_producers_space_or_misnamed_is_refused() -> None:
    with pytest.raises(ValueError, match="space"):
        local.register("pb.other.thing.happened", version=1, producer="demo", subject_field="x")
    with pytest.raises(ValueError, match=r"pb\.<service>"):
        local.register("Thing-Happened", version=1, producer="demo", subject_field="x")


def test_events_are_frozen_and_strict() -> None:
    event = ThingHappenedV2(thing_id="t1", count=1)
    with pytest.raises(ValidationError):
        event.count = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ThingHappenedV2(thing_id="t1", count=1, phone="13800000000")  # type: ignore[call-arg]


def test_the_envelope_travels_as_cloudevents_headers_and_back() -> None:
    envelope = Envelope.wrap(ThingHappenedV2(thing_id="t1", count=3), source="/pb/demo")
    headers = envelope.headers()
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == "pb.demo.thing.happened.v2"
    assert headers["ce-subject"] == "t1"
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == envelope.id
    assert headers["content-type"] == "application/json"
    back = Envelope.from_nats(headers, envelope.data)
    assert back.id == envelope.id
    assert back.time == envelope.time

    class Tolerant(BaseModel):
        thing_id: str

    assert back.decode(Tolerant).thing_id == "t1"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        (
            {
                "ce-specversion": "0.3",
                "ce-id": "1",
                "ce-source": "s",
                "ce-type": "t",
                "ce-time": "2026-01-01T00:00:00+00:00",
            },
            "specversion",
        ),
        (
            {
                "ce-specversion": "1.0",
                "ce-id": "1",
                "ce-source": "s",
                "ce-type": "t",
                "ce-time": "yesterday",
            },
            "RFC 3339",
        ),
    ],
)
def test_a_message_that_is_not_a_cloudevent_is_refused(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(MalformedEnvelope, match=reason):
        Envelope.from_nats(headers, b"{}")


def test_header_names_are_read_case_insensitively() -> None:
    env = Envelope("id1", "/pb/x", "pb.x.y.z.v1", "s", datetime.now(UTC), b"{}")
    upper = {k.upper(): v for k, v in env.headers().items()}
    assert Envelope.from_nats(upper, b"{}").id == "id1"

"""The catalogue and the CloudEvents envelope over NATS headers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from libs.common.events import (
    CREDIT_CODE_PATTERN,
    DEFAULT_SCHEMA_BASE_URL,
    INDUSTRY_CODE_PATTERN,
    REGION_CODE_PATTERN,
    Catalogue,
    Envelope,
    IntegrationEvent,
    MalformedEnvelope,
    example,
    schema_url,
)

local = Catalogue()


@local.register("pb.demo.thing.happened", version=2, producer="demo", subject_field="thing_id")
class ThingHappenedV2(IntegrationEvent):
    """Emitted when a thing happens."""

    thing_id: str
    count: int


@local.register("pb.demo.thing.kind_changed", version=1, producer="demo", subject_field="thing_id")
class ThingKindChangedV1(IntegrationEvent):
    """Emitted when a thing's kind changes, written over two lines
    of its docstring.

    The rest of the docstring is not the summary."""

    model_config = example({"thing_id": "x"})

    thing_id: str
    kind: Literal["a", "b"] = "a"
    status: Literal["done"] | None = None
    organization_ids: list[str] = Field(default_factory=list)
    target_id: str = ""
    region_code: str = "14"
    credit_code: str | None = None


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_registration_sets_the_versioned_type_and_summary() -> None:
    assert ThingHappenedV2.type_name() == "pb.demo.thing.happened.v2"
    [entry] = [e for e in local if e.model is ThingHappenedV2]
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


def test_binary_mode_sends_datacontenttype_and_dataschema_as_ce_headers() -> None:
    envelope = Envelope.wrap(ThingHappenedV2(thing_id="t 1%", count=3), source="/pb/demo")
    headers = envelope.headers("https://schemas.example.org/pb/")
    assert headers["ce-datacontenttype"] == "application/json"
    assert headers["ce-dataschema"] == (
        "https://schemas.example.org/pb/pb.demo.thing.happened.v2.json"
    )
    assert Envelope.wrap(ThingHappenedV2(thing_id="t", count=1), source="/s").headers()[
        "ce-dataschema"
    ] == schema_url("pb.demo.thing.happened.v2", DEFAULT_SCHEMA_BASE_URL)
    # Header values are percent-encoded (space, '"' and '%'), and decoded on reading.
    assert headers["ce-subject"] == "t%201%25"
    assert Envelope.from_nats(headers, envelope.data).subject == "t 1%"


def _structured(**attributes: object) -> bytes:
    event: dict[str, object] = {
        "specversion": "1.0",
        "id": "e1",
        "source": "/pb/demo",
        "type": "pb.demo.thing.happened.v2",
        "subject": "t1",
        "time": "2026-11-30T02:00:00Z",
        "data": {"thing_id": "t1", "count": 3},
    }
    event.update(attributes)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


STRUCTURED = {"Content-Type": "application/cloudevents+json; charset=utf-8"}


def test_structured_mode_is_read_from_the_body() -> None:
    envelope = Envelope.from_nats(STRUCTURED, _structured(traceparent=TRACEPARENT))
    assert (envelope.id, envelope.type, envelope.subject) == (
        "e1",
        "pb.demo.thing.happened.v2",
        "t1",
    )
    assert envelope.time == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert envelope.traceparent == TRACEPARENT
    assert envelope.decode(ThingHappenedV2) == ThingHappenedV2(thing_id="t1", count=3)


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (STRUCTURED, b"not json", "structured-mode body is not JSON"),
        (STRUCTURED, b"[1]", "not a JSON object"),
        (STRUCTURED, _structured(id=None), "missing CloudEvents attributes: id"),
        (STRUCTURED, _structured(data=None, data_base64="AAE="), "data_base64 is not JSON"),
        (STRUCTURED, _structured(datacontenttype="text/xml"), "'text/xml' is not JSON"),
        (
            {
                "ce-specversion": "1.0",
                "ce-id": "1",
                "ce-source": "s",
                "ce-type": "t",
                "ce-time": "2026-01-01T00:00:00+00:00",
                "ce-datacontenttype": "application/xml",
            },
            b"<a/>",
            "is not JSON",
        ),
        (
            {
                "ce-specversion": "1.0",
                "ce-id": "%C0%A0",
                "ce-source": "s",
                "ce-type": "t",
                "ce-time": "2026-01-01T00:00:00+00:00",
            },
            b"{}",
            "percent-encoded UTF-8",
        ),
    ],
)
def test_what_is_not_a_readable_cloudevent_says_why(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(MalformedEnvelope, match=re.escape(reason)):
        Envelope.from_nats(headers, body)


def test_the_published_schema_titles_each_enumeration_for_its_event() -> None:
    schema = ThingKindChangedV1.model_json_schema(mode="serialization")
    assert schema["title"] == "ThingKindChangedV1"
    kind = schema["properties"]["kind"]
    assert (kind["title"], kind["enum"]) == ("ThingKindChangedKind", ["a", "b"])
    [status, _null] = schema["properties"]["status"]["anyOf"]
    assert (status["title"], status["enum"]) == ("ThingKindChangedStatus", ["done"])
    assert "title" not in schema["properties"]["thing_id"]  # pydantic's "Thing Id": noise


def test_the_published_schema_promises_uuids_and_code_patterns() -> None:
    properties = ThingKindChangedV1.model_json_schema(mode="serialization")["properties"]
    assert properties["thing_id"]["format"] == "uuid"
    assert properties["organization_ids"]["items"]["format"] == "uuid"
    assert "format" not in properties["target_id"]  # a composite key, listed in NOT_UUIDS
    assert properties["region_code"]["pattern"] == REGION_CODE_PATTERN
    [credit, _null] = properties["credit_code"]["anyOf"]
    assert credit["pattern"] == CREDIT_CODE_PATTERN


@pytest.mark.parametrize(
    ("pattern", "value", "valid"),
    [
        (REGION_CODE_PATTERN, "140212101", True),
        (REGION_CODE_PATTERN, "14", True),
        (REGION_CODE_PATTERN, "14021", False),
        (REGION_CODE_PATTERN, "x", False),
        (CREDIT_CODE_PATTERN, "91140212MA0L1B2C3G", True),
        (CREDIT_CODE_PATTERN, "", True),  # a provisional file
        (CREDIT_CODE_PATTERN, "91140212MA0L1B2C3I", False),  # I is not in GB 32100
        (INDUSTRY_CODE_PATTERN, "I6513", True),
        (INDUSTRY_CODE_PATTERN, "G", True),
        (INDUSTRY_CODE_PATTERN, "Z1", False),
    ],
)
def test_the_code_patterns_take_the_forms_the_api_lets_in(
    pattern: str, value: str, valid: bool
) -> None:
    assert (re.search(pattern, value) is not None) is valid


def test_the_summary_is_the_whole_first_paragraph() -> None:
    [entry] = [e for e in local if e.model is ThingKindChangedV1]
    assert (
        entry.summary
        == "Emitted when a thing's kind changes, written over two lines of its docstring."
    )
    assert ThingKindChangedV1.example() == {"thing_id": "x"}

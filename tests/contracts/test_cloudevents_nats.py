"""Every event type read off a real nats-server by outside tools: a plain nats-py client and
the `cloudevents` SDK, in the binary mode the services send and the structured mode they read.

The messages carry exactly the headers the outbox relay sends (`message_headers`); the data is
checked against the schema `ce-dataschema` names, from docs/events/schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import nats
from cloudevents.core.bindings.http import HTTPMessage, from_http, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from libs.common.events import MSG_ID_HEADER, Envelope, schema_url
from libs.common.outbox import message_headers
from tests.harness import NatsServer
from tools import docs

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"
BASE_URL = "https://events.example.org/pb/schemas/"
ENTRIES = [event.entry for event in docs.discover().events]
MODELS = {entry.type_name: entry.model for entry in ENTRIES}


def _schema_for(dataschema: str) -> dict[str, Any]:
    assert dataschema.startswith(BASE_URL), dataschema
    path = SCHEMAS / dataschema.removeprefix(BASE_URL)
    assert path.is_file(), f"ce-dataschema {dataschema} names no published schema"
    schema: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return schema


def _relayed(envelope: Envelope) -> dict[str, str]:
    """The headers the outbox relay sends for this envelope (from its stored row)."""
    row = SimpleNamespace(
        event_id=envelope.id,
        source=envelope.source,
        type=envelope.type,
        subject=envelope.subject,
        occurred_at=envelope.time,
        data=envelope.data,
        traceparent=envelope.traceparent,
        tracestate=envelope.tracestate,
    )
    return message_headers(row, BASE_URL)


async def test_every_event_type_reads_with_nats_py_and_the_cloudevents_sdk(
    private_nats: NatsServer,
) -> None:
    nc = await nats.connect(private_nats.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="PB_CONTRACT", subjects=["pb.>"])
        sent: dict[str, Envelope] = {}
        for entry in ENTRIES:
            data = entry.model.model_validate(entry.model.example())
            envelope = Envelope.wrap(data, source=f"/pb/{entry.producer}")
            await js.publish(envelope.type, envelope.data, headers=_relayed(envelope))
            sent[envelope.id] = envelope

        # A consumer with nothing of ours: an ephemeral pull consumer, headers and body.
        sub = await js.pull_subscribe("pb.>", durable=None, stream="PB_CONTRACT")
        msgs = await sub.fetch(len(sent), timeout=5)
        assert len(msgs) == len(sent)
        format_checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        for msg in msgs:
            headers = msg.headers or {}
            event = from_http(HTTPMessage(headers=dict(headers), body=msg.data), JSONFormat())
            original = sent[event.get_id()]
            assert headers[MSG_ID_HEADER] == event.get_id()
            assert event.get_type() == msg.subject == original.type
            assert event.get_source() == original.source
            assert event.get_subject() == original.subject
            assert event.get_time() == original.time
            assert (
                headers["ce-datacontenttype"] == event.get_datacontenttype() == "application/json"
            )
            assert event.get_dataschema() == schema_url(original.type, BASE_URL)
            body = event.get_data()
            assert body == json.loads(original.data)
            jsonschema.Draft202012Validator(
                _schema_for(event.get_dataschema() or ""), format_checker=format_checker
            ).validate(body)
            await msg.ack()
    finally:
        await nc.close()


async def test_an_event_in_structured_mode_reads_as_the_same_event(
    private_nats: NatsServer,
) -> None:
    nc = await nats.connect(private_nats.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="PB_STRUCTURED", subjects=["pb.>"])
        sent: dict[str, Envelope] = {}
        for entry in ENTRIES:
            data = entry.model.model_validate(entry.model.example())
            envelope = Envelope.wrap(data, source=f"/pb/{entry.producer}")
            # Made by the SDK, as another platform would: the whole event in the body.
            cloud_event = CloudEvent(
                attributes={
                    "id": envelope.id,
                    "source": envelope.source,
                    "type": envelope.type,
                    "subject": envelope.subject,
                    "time": envelope.time,
                    "datacontenttype": "application/json",
                    "dataschema": schema_url(envelope.type, BASE_URL),
                },
                data=json.loads(envelope.data),
            )
            message = to_structured(cloud_event, JSONFormat())
            assert message.headers["content-type"].startswith("application/cloudevents+json")
            await js.publish(envelope.type, message.body, headers=message.headers)
            sent[envelope.id] = envelope

        sub = await js.pull_subscribe("pb.>", durable=None, stream="PB_STRUCTURED")
        msgs = await sub.fetch(len(sent), timeout=5)
        assert len(msgs) == len(sent)
        for msg in msgs:
            read = Envelope.from_nats(msg.headers, msg.data)  # what the inbox reads
            original = sent[read.id]
            assert (read.type, read.source, read.subject, read.time) == (
                original.type,
                original.source,
                original.subject,
                original.time,
            )
            model = MODELS[read.type]
            assert read.decode(model) == model.model_validate_json(original.data)
            await msg.ack()
    finally:
        await nc.close()

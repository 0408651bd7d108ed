"""The AsyncAPI 3.0 document: a channel per event type, `send` and `receive` operations."""

from __future__ import annotations

from libs.common.events import (
    CE_PREFIX,
    CONTENT_TYPE,
    MSG_ID_HEADER,
    SPEC_VERSION,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
)
from tools.docs.model import EventDoc, EventMap, docstring
from tools.docs.schemas import JSON, event_schema, inline_refs, schema_path

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "0.1.0"
LOCAL_NATS_HOST = "127.0.0.1:4222"
#: W3C trace context `traceparent`: version-trace_id-parent_id-flags.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def headers_schema(event: EventDoc) -> JSON:
    """The NATS headers of a message: CloudEvents attributes in binary content mode."""
    ce = CE_PREFIX
    subject_field = event.entry.model.subject_field
    properties: JSON = {
        f"{ce}specversion": {
            "type": "string",
            "const": SPEC_VERSION,
            "description": "CloudEvents specification version.",
        },
        f"{ce}id": {
            "type": "string",
            "format": "uuid",
            "description": f"The event id, unique per event; the same value as `{MSG_ID_HEADER}`.",
        },
        f"{ce}source": {
            "type": "string",
            "format": "uri-reference",
            "examples": [f"/pb/{event.producer}"],
            "description": "The producing service.",
        },
        f"{ce}type": {
            "type": "string",
            "const": event.type_name,
            "description": "The versioned event type, which is also the NATS subject.",
        },
        f"{ce}subject": {
            "type": "string",
            "description": f"The aggregate the event is about: the data's `{subject_field}`.",
        },
        f"{ce}time": {
            "type": "string",
            "format": "date-time",
            "description": "When the event was recorded (RFC 3339).",
        },
        "content-type": {
            "type": "string",
            "const": CONTENT_TYPE,
            "description": "Media type of the data (the message body).",
        },
        MSG_ID_HEADER: {
            "type": "string",
            "description": (
                "JetStream de-duplication id, the same value as `ce-id`: a second publish of "
                "the event inside the stream's duplicate window is dropped."
            ),
        },
        TRACEPARENT_HEADER: {
            "type": "string",
            "pattern": TRACEPARENT_PATTERN,
            "description": "W3C trace context of the work that caused the event, when traced.",
        },
        TRACESTATE_HEADER: {
            "type": "string",
            "description": "W3C trace state accompanying `traceparent`, when there is one.",
        },
    }
    required = [
        f"{ce}specversion",
        f"{ce}id",
        f"{ce}source",
        f"{ce}type",
        f"{ce}subject",
        f"{ce}time",
        "content-type",
        MSG_ID_HEADER,
    ]
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 attributes as NATS headers (NATS protocol binding, binary content "
            "mode); the message body is the event data."
        ),
        "properties": properties,
        "required": required,
    }


def _ref(*parts: str) -> JSON:
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": f"#/{pointer}"}


def _consumer_list(event: EventDoc) -> str:
    if not event.consumers:
        return "no consumer yet"
    return ", ".join(f"{c.service} (durable `{c.durable}`)" for c in event.consumers)


def asyncapi_document(events: EventMap) -> JSON:
    """The AsyncAPI 3.0.0 document: a channel per event type, `send` and `receive` operations."""
    channels: JSON = {}
    operations: JSON = {}
    messages: JSON = {}
    schemas: JSON = {}
    for event in events.events:
        name = event.type_name
        message = event.message_name
        channels[name] = {
            "address": name,
            "title": name,
            "summary": event.entry.summary,
            "description": (
                f"Published by the {event.producer} service into the JetStream stream "
                f"`{event.stream}` (subjects `pb.{event.producer}.>`). "
                f"Consumed by: {_consumer_list(event)}."
            ),
            "messages": {message: _ref("components", "messages", name)},
            "x-jetstream": {"stream": event.stream},
        }
        messages[name] = {
            "name": message,
            "title": name,
            "summary": event.entry.summary,
            "description": docstring(event.entry.model),
            "contentType": CONTENT_TYPE,
            "headers": headers_schema(event),
            "payload": _ref("components", "schemas", name),
            "x-schema-file": schema_path(name),
        }
        payload = inline_refs(event_schema(event.entry))
        for key in ("$schema", "$id"):
            payload.pop(key, None)
        schemas[name] = payload
        message_ref = [_ref("channels", name, "messages", message)]
        operations[f"{event.producer}.send.{name}"] = {
            "action": "send",
            "channel": _ref("channels", name),
            "messages": message_ref,
            "title": f"{event.producer} publishes {message}",
            "summary": event.entry.summary,
            "description": (
                f"Written to the {event.producer} service's outbox in the transaction of the "
                f"change, then relayed to the stream `{event.stream}` with `{MSG_ID_HEADER}` = "
                "`ce-id`."
            ),
            "tags": [{"name": event.producer}],
            "x-jetstream": {"stream": event.stream},
        }
        for consumer in event.consumers:
            operations[f"{consumer.service}.receive.{name}"] = {
                "action": "receive",
                "channel": _ref("channels", name),
                "messages": message_ref,
                "title": f"{consumer.service} applies {message}",
                "description": (
                    f"Durable JetStream pull consumer `{consumer.durable}` on the stream "
                    f"`{consumer.stream}`, filtered to `{name}`; explicit acks, each event "
                    "applied once through the consumer's inbox, unreadable or failing events "
                    f"dead-lettered to `pb.dlq.{consumer.service}.{consumer.durable}`."
                ),
                "tags": [{"name": consumer.service}],
                "x-jetstream": {
                    "stream": consumer.stream,
                    "durable": consumer.durable,
                    "filterSubject": name,
                },
            }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Party-building backend integration events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Integration events between the services, generated from the event catalogue "
                "by `make docs`. Every event is a CloudEvent in binary mode over NATS "
                "JetStream: attributes as `ce-` headers, data as the JSON body. Events carry "
                "ids and facts, never a person's name, ID number or phone."
            ),
            "tags": [{"name": service} for service in events.services],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": LOCAL_NATS_HOST,
                "protocol": "nats",
                "title": "Local NATS",
                "description": (
                    f"nats://{LOCAL_NATS_HOST}, the nats-server `make run` starts; deployments "
                    "set `NATS_URL`."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }

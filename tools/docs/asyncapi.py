"""The AsyncAPI 3.0 document: a channel per event type, `send` and `receive` operations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.common.events import (
    CE_PREFIX,
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    MSG_ID_HEADER,
    SPEC_VERSION,
    STRUCTURED_CONTENT_TYPE,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    Envelope,
    schema_url,
)
from tools.docs.model import DocsError, EventDoc, EventMap, docstring
from tools.docs.schemas import JSON, SCHEMA_BASE_URI, event_schema, inline_refs, schema_path

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "0.2.0"
LOCAL_NATS_HOST = "127.0.0.1:4222"
#: The NATS client service of the Kubernetes install (deploy/kubernetes/nats/service.yaml).
PRODUCTION_NATS_HOST = "nats.partybuilding.svc.cluster.local:4222"
#: The NATS service of the single-host install (deploy/compose/compose.yaml).
COMPOSE_NATS_HOST = "nats:4222"
SECURITY_SCHEME = "natsUserPassword"
#: When the examples' headers say the events were recorded (fixed: the documents are stable).
EXAMPLE_TIME = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
EXAMPLE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
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
        f"{ce}datacontenttype": {
            "type": "string",
            "const": CONTENT_TYPE,
            "description": (
                "CloudEvents `datacontenttype`: the media type of the data (the message body). "
                "Absent only on events published before it was added; read them as JSON."
            ),
        },
        f"{ce}dataschema": {
            "type": "string",
            "format": "uri",
            "examples": [schema_url(event.type_name, SCHEMA_BASE_URI)],
            "description": (
                "CloudEvents `dataschema`: the published JSON Schema of the data, "
                "`<base>/<ce-type>.json` (the base is `PB_EVENTS_SCHEMA_BASE_URL`; by default "
                f"{SCHEMA_BASE_URI}, the schemas' `$id`). Absent only on events published "
                "before it was added."
            ),
        },
        CONTENT_TYPE_HEADER: {
            "type": "string",
            "const": CONTENT_TYPE,
            "description": (
                "The same media type as `ce-datacontenttype`, for NATS tools that show it. A "
                f"message whose `content-type` is `{STRUCTURED_CONTENT_TYPE}` is in the "
                "structured mode instead (the whole event as JSON in the body): the services "
                "read it too, but never send it."
            ),
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
        "title": f"{event.message_name}Headers",
        "description": (
            "CloudEvents 1.0 attributes as NATS headers (NATS protocol binding, binary content "
            "mode); the message body is the event data."
        ),
        "properties": properties,
        "required": required,
    }


def example_headers(event: EventDoc) -> dict[str, str]:
    """The headers the example event travels with (a fixed id and time: stable documents)."""
    model = event.entry.model
    values = model.example()
    if values is None:
        raise DocsError(f"{model.__name__} has no example: add `model_config = example({{...}})`")
    envelope = Envelope(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, schema_url(event.type_name, SCHEMA_BASE_URI))),
        source=f"/pb/{event.producer}",
        type=event.type_name,
        subject=model.model_validate(values).aggregate_id(),
        time=EXAMPLE_TIME,
        data=b"",
        traceparent=EXAMPLE_TRACEPARENT,
    )
    return envelope.headers(SCHEMA_BASE_URI)


def _ref(*parts: str) -> JSON:
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": f"#/{pointer}"}


def _consumer_list(event: EventDoc) -> str:
    if not event.consumers:
        return "no consumer yet"
    return ", ".join(f"{c.service} (durable `{c.durable}`)" for c in event.consumers)


def _servers() -> JSON:
    security = [_ref("components", "securitySchemes", SECURITY_SCHEME)]
    return {
        "production": {
            "host": PRODUCTION_NATS_HOST,
            "protocol": "nats",
            "title": "Production NATS (Kubernetes, TLS)",
            "description": (
                f"The 3-node JetStream cluster of the Kubernetes install, `tls://"
                f"{PRODUCTION_NATS_HOST}` inside the cluster (deploy/kubernetes/nats): TLS is "
                "required (the `nats-tls` certificate), and every client is a NATS user with a "
                "password and subject permissions (deploy/compose/nats/accounts.conf). The "
                "services take it from `NATS_URL`."
            ),
            "security": security,
            "tags": [{"name": "env:production"}],
            "x-tls": "required",
        },
        "compose": {
            "host": COMPOSE_NATS_HOST,
            "protocol": "nats",
            "title": "Single-host NATS (Compose)",
            "description": (
                f"`nats://{COMPOSE_NATS_HOST}` on the Compose network (deploy/compose): one "
                "node, the same users and permissions, no TLS (it is not published outside "
                "the host)."
            ),
            "security": security,
            "tags": [{"name": "env:single-host"}],
        },
        "local": {
            "host": LOCAL_NATS_HOST,
            "protocol": "nats",
            "title": "Local NATS (make run)",
            "description": (
                f"`nats://{LOCAL_NATS_HOST}`, the nats-server `make run` starts for "
                "development: no TLS, no users."
            ),
            "tags": [{"name": "env:development"}],
        },
    }


def _security_scheme() -> JSON:
    return {
        "type": "userPassword",
        "description": (
            "A NATS user and password (`nats://<user>:<password>@host:4222`, `tls://` in "
            "production). Each service connects as its own user, allowed to publish only its "
            "own events and read only the streams it consumes; the users, their permissions "
            "and how passwords are made and rotated are in deploy/compose/nats/accounts.conf "
            "and deploy/README.md."
        ),
    }


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
            "examples": [
                {
                    "name": f"{message}Example",
                    "summary": f"A {name} event as it travels: headers and JSON body.",
                    "headers": example_headers(event),
                    "payload": event.entry.model.example(),
                }
            ],
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
                "JetStream (the CloudEvents NATS binding): attributes as `ce-` headers, data "
                "as the JSON body, `ce-dataschema` naming its published JSON Schema. Events in "
                f"structured mode (`content-type: {STRUCTURED_CONTENT_TYPE}`) are read too. "
                "Events carry ids and facts, never a person's name, ID number or phone. "
                "Within `v1` a type only gains optional fields and enum values."
            ),
            "tags": [{"name": service} for service in events.services],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {SECURITY_SCHEME: _security_scheme()},
        },
    }

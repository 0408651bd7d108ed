"""The event documentation: JSON Schemas, an AsyncAPI 3.0 document and a README, from the catalogue.

`python -m libs.common.docs docs/events` (`make docs`) writes the folder;
`python -m libs.common.docs docs/events --check` (`make docs-check`) exits 1 when the folder is
not what would be written, naming the stale, missing and extra files.

Services are found at run time (`services.<name>.events` and `services.<name>.app`, imported by
name), since libs/common must not import the services. Producers come from the catalogue,
consumers from the `ConsumerSpec`s of each service's `definition()`. The output is deterministic:
keys are sorted and there are no timestamps, so only a change in the code changes it.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import inspect
import json
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from libs.common.events import (
    CE_PREFIX,
    CONTENT_TYPE,
    MSG_ID_HEADER,
    SPEC_VERSION,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    CatalogueEntry,
    catalogue,
)
from libs.common.service import ServiceDefinition

__all__ = [
    "ASYNCAPI_VERSION",
    "JSON_SCHEMA_DIALECT",
    "SCHEMA_BASE_URI",
    "ConsumerRef",
    "DocsDiff",
    "DocsError",
    "EventDoc",
    "EventMap",
    "Written",
    "asyncapi_document",
    "check",
    "discover",
    "event_schema",
    "generate",
    "headers_schema",
    "main",
    "schema_path",
    "write",
]

JSON = dict[str, Any]

SERVICES_PACKAGE = "services"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URI = "https://pb.example.org/events/schemas/"
ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "0.1.0"
LOCAL_NATS_HOST = "127.0.0.1:4222"
SCHEMAS_DIR = "schemas"
ASYNCAPI_YAML = "asyncapi.yaml"
ASYNCAPI_JSON = "asyncapi.json"
README = "README.md"
#: W3C trace context `traceparent`: version-trace_id-parent_id-flags.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


class DocsError(Exception):
    """The services cannot be documented as they are (unknown event type, missing docstring)."""


@dataclass(frozen=True)
class ConsumerRef:
    """One durable consumer that applies an event type."""

    service: str
    durable: str
    stream: str
    model: type[BaseModel]


@dataclass(frozen=True)
class EventDoc:
    """One catalogue entry with the stream it lands in and the consumers that read it."""

    entry: CatalogueEntry
    stream: str
    consumers: tuple[ConsumerRef, ...]

    @property
    def type_name(self) -> str:
        return self.entry.type_name

    @property
    def producer(self) -> str:
        return self.entry.producer

    @property
    def message_name(self) -> str:
        return self.entry.model.__name__


@dataclass(frozen=True)
class EventMap:
    """Every service, what each publishes and who consumes it; the input of every document."""

    services: tuple[str, ...]
    events: tuple[EventDoc, ...]
    streams: Mapping[str, str] = field(default_factory=dict)  # service -> its event stream

    def event(self, type_name: str) -> EventDoc:
        for event in self.events:
            if event.type_name == type_name:
                return event
        raise KeyError(type_name)


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def _service_packages() -> list[str]:
    package = importlib.import_module(SERVICES_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _definition(package: str) -> ServiceDefinition | None:
    app_module = f"{SERVICES_PACKAGE}.{package}.app"
    if not _module_exists(app_module):
        return None
    factory = getattr(importlib.import_module(app_module), "definition", None)
    if factory is None:
        raise DocsError(f"{app_module} has no definition()")
    definition = factory()
    if not isinstance(definition, ServiceDefinition):
        raise DocsError(f"{app_module}.definition() did not return a ServiceDefinition")
    return definition


def _docstring(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def discover() -> EventMap:
    """Import every service's events and app modules and map producers to consumers."""
    services: list[str] = []
    streams: dict[str, str] = {}
    consumers: dict[str, list[ConsumerRef]] = {}
    for package in _service_packages():
        events_module = f"{SERVICES_PACKAGE}.{package}.events"
        if _module_exists(events_module):
            importlib.import_module(events_module)
        definition = _definition(package)
        if definition is None:
            continue
        name = definition.settings.service_name
        services.append(name)
        streams[name] = definition.settings.stream_name
        for spec in definition.consumers:
            for subscription in spec.subscriptions:
                consumers.setdefault(subscription.event_type, []).append(
                    ConsumerRef(name, spec.name, spec.stream, subscription.model)
                )

    # Only what the services register: a test may have put its own events in the catalogue.
    prefix = f"{SERVICES_PACKAGE}."
    entries = [e for e in catalogue if e.model.__module__.startswith(prefix)]
    known = {e.type_name for e in entries}
    unknown = sorted(
        f"{c.service}/{c.durable} subscribes to {t}"
        for t, refs in consumers.items()
        if t not in known
        for c in refs
    )
    if unknown:
        raise DocsError("no event in the catalogue for: " + "; ".join(unknown))
    undocumented = sorted(e.model.__name__ for e in entries if not _docstring(e.model))
    if undocumented:
        raise DocsError(
            "events need a docstring (its first line is the summary): " + ", ".join(undocumented)
        )
    events = tuple(
        EventDoc(
            entry=entry,
            stream=streams.get(entry.producer, f"PB_{entry.producer.upper()}"),
            consumers=tuple(
                sorted(consumers.get(entry.type_name, []), key=lambda c: (c.service, c.durable))
            ),
        )
        for entry in entries
    )
    return EventMap(services=tuple(sorted(services)), events=events, streams=streams)


# --------------------------------------------------------------------------------------------
# JSON Schema of each event's data
# --------------------------------------------------------------------------------------------


def schema_path(type_name: str) -> str:
    """Where the schema of a versioned type lives, relative to the docs folder."""
    return f"{SCHEMAS_DIR}/{type_name}.json"


def _open_content(node: Any) -> Any:
    """Drop `additionalProperties: false`: within a version, events may gain optional fields."""
    if isinstance(node, dict):
        return {
            k: _open_content(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_open_content(v) for v in node]
    return node


def event_schema(entry: CatalogueEntry) -> JSON:
    """The JSON Schema (draft 2020-12) of an event's data, as its producer serialises it."""
    model = entry.model
    generated = _open_content(model.model_json_schema(mode="serialization"))
    generated.pop("title", None)
    generated.pop("description", None)
    schema: JSON = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{SCHEMA_BASE_URI}{entry.type_name}.json",
        "title": entry.type_name,
        "description": _docstring(model),
        "x-event-type": model.event_type,
        "x-event-version": model.event_version,
        "x-producer": entry.producer,
        "x-subject-field": model.subject_field,
    }
    schema.update(generated)
    return schema


def _inline_refs(schema: JSON) -> JSON:
    """The schema without `$defs`: every local `#/$defs/X` reference replaced by X itself."""
    defs: JSON = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    raise DocsError(f"recursive schema {name!r} cannot be inlined")
                target = {k: v for k, v in node.items() if k != "$ref"}
                target.update(resolve(defs[name], (*seen, name)))
                return target
            return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        return node

    inlined: JSON = resolve(copy.deepcopy(schema), ())
    return inlined


# --------------------------------------------------------------------------------------------
# AsyncAPI 3.0
# --------------------------------------------------------------------------------------------


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
            "description": _docstring(event.entry.model),
            "contentType": CONTENT_TYPE,
            "headers": headers_schema(event),
            "payload": _ref("components", "schemas", name),
            "x-schema-file": schema_path(name),
        }
        payload = _inline_refs(event_schema(event.entry))
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


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_README_INTRO = """\
# Integration events

Generated by `make docs` (`python -m libs.common.docs docs/events`) from the event catalogue
(`libs/common/events.py`) and the services' consumers; `make docs-check` (part of `make test`)
fails when this folder is out of date. Do not edit these files by hand.

* [`asyncapi.yaml`](asyncapi.yaml) (and [`asyncapi.json`](asyncapi.json)): AsyncAPI 3.0.0, one
  channel per event type, `send` by the producer and `receive` by each consumer.
* [`schemas/`](schemas/): the JSON Schema (draft 2020-12) of each event's data.

## Catalogue
"""

_README_ENVELOPE = """\
## The envelope

Every event is a [CloudEvent 1.0](https://github.com/cloudevents/spec) in **binary content
mode** over NATS (the CloudEvents NATS protocol binding): the attributes travel as NATS headers
prefixed `ce-`, and the message body is the event data as JSON (`content-type: application/json`).

| Header | Meaning |
|---|---|
| `ce-specversion` | `1.0` |
| `ce-id` | the event id (a UUID), unique per event |
| `ce-source` | the producing service, e.g. `/pb/registry` |
| `ce-type` | the versioned type, which is also the NATS subject |
| `ce-subject` | the id of the aggregate the event is about |
| `ce-time` | when the event was recorded (RFC 3339) |
| `content-type` | `application/json` |
| `Nats-Msg-Id` | = `ce-id`; JetStream drops a copy inside the stream's duplicate window |
| `traceparent`, `tracestate` | W3C trace context of the work that caused the event, when traced |

**The event id is `Nats-Msg-Id` (= `ce-id`).** Delivery is at least once, so a reader keeps the
ids it has applied and skips repeats, as the services' inboxes do.

Each service publishes only under `pb.<service>.>` into its own stream `PB_<SERVICE>` (through
its transactional outbox); a consumer is a durable pull consumer on that stream whose
dead letters go to `pb.dlq.<service>.<consumer>`.

**No event carries a person's name, ID number or phone**: events hold ids and facts; personal
data stays in the service that owns it.

## Versioning

The version is part of the type and the subject (`….v1`). Within a version, changes are
additive only: a new optional field, a new value where readers were told to expect more. Readers
ignore fields they do not know (the schemas leave `additionalProperties` open).

A **breaking change** (removing or renaming a field, changing its type or meaning, making an
optional field required) is a **new version `vN+1` beside the old one**: the producer publishes
both until every consumer has moved, then `vN` is retired. A `vN` schema never changes
incompatibly.

## Reading events with a plain nats-py client

No platform code is needed: connect, read the headers, parse the body.

```python
import asyncio
import json

import nats


async def main() -> None:
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    # An ephemeral pull consumer: replays the stream from its start, gone when idle.
    # Do not reuse a service's durable name; that would steal its messages.
    sub = await js.pull_subscribe(
        "pb.registry.organization.registered.v1", durable=None, stream="PB_REGISTRY"
    )
    for msg in await sub.fetch(10, timeout=5):
        headers = msg.headers or {}
        event_id = headers["Nats-Msg-Id"]  # = ce-id; skip ids already seen
        print(headers["ce-type"], event_id, headers.get("ce-subject"), json.loads(msg.data))
        await msg.ack()
    await nc.close()


asyncio.run(main())
```

To watch live traffic without JetStream, a core subscription sees every event as it is
published: `await nc.subscribe("pb.>", cb=handler)` (this includes the `pb.dlq.>` dead letters).
Validate `json.loads(msg.data)` against the type's schema in [`schemas/`](schemas/) if you want
the contract checked, and read only the fields you need.
"""


def readme(events: EventMap) -> str:
    """The catalogue as a Markdown page, with the envelope and the versioning rule."""
    lines = [_README_INTRO]
    lines.append(
        "| Event type | Producer | Stream | Consumers (service/durable) | Summary | Schema |"
    )
    lines.append("|---|---|---|---|---|---|")
    for event in events.events:
        consumers = "<br>".join(f"{c.service}/`{c.durable}`" for c in event.consumers) or "none yet"
        path = schema_path(event.type_name)
        lines.append(
            f"| `{event.type_name}` | {event.producer} | `{event.stream}` | {consumers} "
            f"| {_cell(event.entry.summary)} | [`{Path(path).name}`]({path}) |"
        )
    if not events.events:
        lines.append("| *(no events yet)* | | | | | |")
    lines.append("")
    lines.append("### By service")
    lines.append("")
    lines.append("| Service | Stream | Publishes | Consumes |")
    lines.append("|---|---|---|---|")
    for service in events.services:
        publishes = [f"`{e.type_name}`" for e in events.events if e.producer == service]
        consumes = [
            f"`{e.type_name}` (`{c.durable}`)"
            for e in events.events
            for c in e.consumers
            if c.service == service
        ]
        stream = events.streams.get(service, f"PB_{service.upper()}")
        lines.append(
            f"| {service} | `{stream}` | {'<br>'.join(publishes) or '-'} "
            f"| {'<br>'.join(consumes) or '-'} |"
        )
    lines.append("")
    lines.append(_README_ENVELOPE)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Files: generate, write, check
# --------------------------------------------------------------------------------------------


def _json_text(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):
    """Safe YAML without anchors: a shared list is written out again, not as `*id001`."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml_text(document: Any) -> str:
    header = "# Generated by `make docs` from the event catalogue; do not edit by hand.\n"
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return header + body


def generate(events: EventMap | None = None) -> dict[str, str]:
    """Every file of the docs folder: path relative to it -> text."""
    events = events if events is not None else discover()
    files: dict[str, str] = {}
    for event in events.events:
        files[schema_path(event.type_name)] = _json_text(event_schema(event.entry))
    document = asyncapi_document(events)
    files[ASYNCAPI_YAML] = _yaml_text(document)
    files[ASYNCAPI_JSON] = _json_text(document)
    files[README] = readme(events)
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class DocsDiff:
    """How a docs folder differs from what would be generated."""

    stale: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.stale or self.missing or self.extra)

    def describe(self, folder: Path | str) -> str:
        if self.ok:
            return f"{folder} is up to date with the event catalogue"
        lines = [f"{folder} is out of date with the event catalogue; run `make docs`:"]
        for label, paths in (
            ("stale (differs)", self.stale),
            ("missing", self.missing),
            ("extra (not generated)", self.extra),
        ):
            lines.extend(f"  {label}: {p}" for p in paths)
        return "\n".join(lines)


def _existing(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _diff(folder: Path, files: Mapping[str, str]) -> DocsDiff:
    existing = _existing(folder)
    stale = [
        rel
        for rel, text in files.items()
        if rel in existing and existing[rel].read_bytes() != text.encode()
    ]
    return DocsDiff(
        stale=tuple(stale),
        missing=tuple(rel for rel in files if rel not in existing),
        extra=tuple(rel for rel in existing if rel not in files),
    )


def check(folder: Path | str, events: EventMap | None = None) -> DocsDiff:
    """Compare `folder` with what `write` would put there; nothing is written."""
    return _diff(Path(folder), generate(events))


@dataclass(frozen=True)
class Written:
    """What `write` did: files written, schema files removed, extra files left alone."""

    written: tuple[str, ...]
    removed: tuple[str, ...]
    left: tuple[str, ...]


def write(folder: Path | str, events: EventMap | None = None) -> Written:
    """Write the files that differ or are missing, and report what was done.

    Extra schema files (of an event no longer in the catalogue) are removed; any other extra
    file is left for a person to remove, and `check` keeps reporting it.
    """
    root = Path(folder)
    files = generate(events)
    diff = _diff(root, files)
    for rel in (*diff.stale, *diff.missing):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel].encode())
    removed = tuple(
        rel for rel in diff.extra if rel.startswith(f"{SCHEMAS_DIR}/") and rel.endswith(".json")
    )
    for rel in removed:
        (root / rel).unlink()
    return Written(
        written=tuple(sorted((*diff.stale, *diff.missing))),
        removed=removed,
        left=tuple(rel for rel in diff.extra if rel not in removed),
    )


def _names(paths: Iterable[str]) -> str:
    return ", ".join(paths) or "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m libs.common.docs",
        description="Write (or check) the AsyncAPI document and JSON Schemas of every event.",
    )
    parser.add_argument("folder", type=Path, help="the docs folder, e.g. docs/events")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the folder differs from what would be written",
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    try:
        if args.check:
            diff = check(folder)
            if not diff.ok:
                print(diff.describe(folder), file=sys.stderr)
                return 1
            print(diff.describe(folder))
            return 0
        done = write(folder)
    except DocsError as exc:
        print(f"cannot document the events: {exc}", file=sys.stderr)
        return 2
    print(f"{folder}: {len(done.written)} file(s) written: {_names(done.written)}")
    if done.removed:
        print(f"{folder}: removed schemas of events no longer catalogued: {_names(done.removed)}")
    if done.left:
        print(f"{folder}: not generated, remove by hand: {_names(done.left)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

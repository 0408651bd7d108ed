"""Integration events: the versioned catalogue and the CloudEvents envelope carried over NATS."""

from __future__ import annotations

import builtins
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from libs.common.ids import new_id
from libs.common.validators import CREDIT_CODE_CHARSET

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
#: CloudEvents NATS binding, binary mode: every attribute but data is a `ce-` header.
CE_PREFIX = "ce-"
#: The NATS `Content-Type` of a message in the binding's structured mode: the whole event,
#: attributes and data, as one JSON document in the body (any `application/cloudevents...`).
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
CONTENT_TYPE_HEADER = "content-type"
#: Where the JSON Schemas of the event types are published by default (`ce-dataschema` is this
#: plus `<type>.json`; a deployment sets `PB_EVENTS_SCHEMA_BASE_URL`). Also the schemas' `$id`.
DEFAULT_SCHEMA_BASE_URL = "https://pb.example.org/events/schemas/"
#: JetStream drops a second message with the same id inside the stream's duplicate window.
MSG_ID_HEADER = "Nats-Msg-Id"
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"

_TYPE_PATTERN = re.compile(r"^pb\.[a-z]+\.[a-z_]+\.[a-z_]+$")

# What the published schemas promise about a field beyond its JSON type, by the field's name:
# every `*_id` (and each item of `*_ids`) is a UUID unless listed as not one, and the codes are
# in the forms the API's validators (libs/common/validators.py) let in.
_CREDIT_CHAR = f"[{CREDIT_CODE_CHARSET}]"
#: A statistical division code: 2, 4, 6, 9 or 12 digits (the services send its canonical form).
REGION_CODE_PATTERN = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$"
#: A unified social credit code (GB 32100-2015), or empty for a provisional file.
CREDIT_CODE_PATTERN = f"^({_CREDIT_CHAR}{{2}}[0-9]{{6}}{_CREDIT_CHAR}{{10}})?$"
#: A GB/T 4754 industry code: a section letter, optionally with 2 to 4 digits (I, I65, I6513).
INDUSTRY_CODE_PATTERN = r"^[A-T]([0-9]{2,4})?$"
CODE_PATTERNS: dict[str, str] = {
    "region_code": REGION_CODE_PATTERN,
    "community_code": REGION_CODE_PATTERN,
    "to_region_code": REGION_CODE_PATTERN,
    "credit_code": CREDIT_CODE_PATTERN,
    "industry_code": INDUSTRY_CODE_PATTERN,
}
#: Fields named `*_id` that are not UUIDs: a composite key, and "" or a park's id.
NOT_UUIDS = frozenset({"target_id", "area_id"})


class IntegrationEvent(BaseModel):
    """Base of every published event: frozen, strict about its fields, versioned by class.

    A subclass is registered once with `@catalogue.register(...)`, which sets the class
    attributes below. The event carries ids and facts, never a person's name, ID number or phone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = ""  # "pb.registry.organization.registered"
    event_version: ClassVar[int] = 0
    subject_field: ClassVar[str] = ""  # the field naming the aggregate (CloudEvents `subject`)
    #: For an event that carries many others (an import's files): each list field of its data
    #: whose items are each the data of an event of the given type, `{"registered":
    #: OrganizationRegisteredV1}`. A webhook subscription to such a type, and not to this one,
    #: gets each item as an event of that type (libs/common/webhooks/delivery.py).
    parts: ClassVar[Mapping[str, type[IntegrationEvent]]] = {}

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents type and NATS subject: `<event_type>.v<version>`."""
        return f"{cls.event_type}.v{cls.event_version}"

    def aggregate_id(self) -> str:
        return str(getattr(self, self.subject_field))

    @classmethod
    def example(cls) -> dict[str, Any] | None:
        """The event's realistic example (`json_schema_extra={"examples": [...]}`), if any."""
        extra = cls.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        first = examples[0] if isinstance(examples, list) and examples else None
        return dict(first) if isinstance(first, dict) else None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema as published: formats and patterns by field name, and a title on each
        enumeration unique to this event (`OrganizationRegisteredKind`), so a code generator
        makes one type per event rather than one `Kind` for every event."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        stem = re.sub(r"V[0-9]+$", "", cls.__name__)
        for name, prop in target.get("properties", {}).items():
            _describe_field(name, prop, f"{stem}{''.join(p.title() for p in name.split('_'))}")
        return schema


def example(values: Mapping[str, Any]) -> ConfigDict:
    """An event model's config with its one realistic example, as the data would be sent:
    `model_config = example({...})`. The documents show it and the tests hold it to the model."""
    return ConfigDict(json_schema_extra={"examples": [dict(values)]})


def _summary(doc: str | None) -> str:
    """The docstring's first paragraph on one line: a summary never cut mid-sentence."""
    first = inspect.cleandoc(doc or "").split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first.splitlines())


def _alternatives(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a property may take: its `anyOf` branches, or the property itself."""
    branches = prop.get("anyOf")
    return [b for b in branches if isinstance(b, dict)] if isinstance(branches, list) else [prop]


def _describe_field(name: str, prop: dict[str, Any], title: str) -> None:
    prop.pop("title", None)  # pydantic's "Organization Id": noise, and repeated in every event
    for branch in _alternatives(prop):
        if "const" in branch:
            # The same constraint as a one-value enumeration: code generators make it a type
            # (the AsyncAPI Python generator writes invalid code for a `const`).
            branch["enum"] = [branch.pop("const")]
        if "enum" in branch:
            branch["title"] = title
        if branch.get("type") == "string":
            if name in CODE_PATTERNS:
                branch["pattern"] = CODE_PATTERNS[name]
            elif name.endswith("_id") and name not in NOT_UUIDS:
                branch["format"] = "uuid"
        items = branch.get("items")
        if name.endswith("_ids") and isinstance(items, dict) and items.get("type") == "string":
            items["format"] = "uuid"


E = TypeVar("E", bound=type[IntegrationEvent])


@dataclass(frozen=True)
class CatalogueEntry:
    """One registered event type and who produces it."""

    model: type[IntegrationEvent]
    producer: str
    summary: str

    @property
    def type_name(self) -> str:
        return self.model.type_name()


@dataclass
class Catalogue:
    """The single registry of event types; schemas and the AsyncAPI document come from it."""

    entries: dict[str, CatalogueEntry] = field(default_factory=dict)

    def register(
        self, event_type: str, *, version: int, producer: str, subject_field: str
    ) -> Callable[[E], E]:
        if not _TYPE_PATTERN.match(event_type):
            raise ValueError(f"event type {event_type!r} is not pb.<service>.<aggregate>.<event>")
        if event_type.split(".")[1] != producer:
            raise ValueError(f"event type {event_type!r} is not in producer {producer!r}'s space")

        def decorate(model: E) -> E:
            model_cls: type[IntegrationEvent] = model
            if subject_field not in model_cls.model_fields:
                raise ValueError(f"{model.__name__} has no field {subject_field!r}")
            model.event_type = event_type
            model.event_version = version
            model.subject_field = subject_field
            name = model.type_name()
            existing = self.entries.get(name)
            if existing is not None and existing.model is not model:
                raise ValueError(f"{name} is already registered by {existing.model.__name__}")
            summary = _summary(model.__dict__.get("__doc__"))
            self.entries[name] = CatalogueEntry(model=model, producer=producer, summary=summary)
            return model

        return decorate

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.type_name))

    def model_for(self, type_name: str) -> type[IntegrationEvent] | None:
        entry = self.entries.get(type_name)
        return entry.model if entry else None

    def parts(self) -> dict[str, dict[str, type[IntegrationEvent]]]:
        """The event types that carry others (`IntegrationEvent.parts`), by type name."""
        return {e.type_name: dict(e.model.parts) for e in self if e.model.parts}


#: The process-wide catalogue every service's `events.py` registers into.
catalogue = Catalogue()


@dataclass(frozen=True)
class Envelope:
    """A CloudEvents 1.0 event as it travels: attributes plus the JSON data bytes."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: bytes
    traceparent: str | None = None
    tracestate: str | None = None

    @classmethod
    def wrap(
        cls,
        event: IntegrationEvent,
        *,
        source: str,
        traceparent: str | None = None,
        tracestate: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """The event in its envelope, with a new id; `time` (aware, UTC) defaults to now."""
        return cls(
            id=new_id(),
            source=source,
            type=event.type_name(),
            subject=event.aggregate_id(),
            time=time or datetime.now(UTC),
            data=event.model_dump_json().encode(),
            traceparent=traceparent,
            tracestate=tracestate,
        )

    @property
    def nats_subject(self) -> str:
        return self.type

    def headers(self, schema_base_url: str = DEFAULT_SCHEMA_BASE_URL) -> dict[str, str]:
        """NATS headers per the CloudEvents NATS binding (binary content mode).

        Values are percent-encoded as the binding asks (ours are printable ASCII already);
        `content-type` repeats `ce-datacontenttype` for readers that look there.
        """
        attributes = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": CONTENT_TYPE,
            "dataschema": schema_url(self.type, schema_base_url),
        }
        headers = {f"{CE_PREFIX}{name}": header_value(value) for name, value in attributes.items()}
        headers[CONTENT_TYPE_HEADER] = CONTENT_TYPE
        headers[MSG_ID_HEADER] = self.id
        if self.traceparent:
            headers[TRACEPARENT_HEADER] = self.traceparent
        if self.tracestate:
            headers[TRACESTATE_HEADER] = self.tracestate
        return headers

    @classmethod
    def from_nats(cls, headers: Mapping[str, str] | None, data: bytes) -> Envelope:
        """Read an envelope from a NATS message in either content mode of the CloudEvents NATS
        binding; raises `MalformedEnvelope` when it is not a CloudEvent this platform reads.

        Binary mode: the attributes are `ce-` headers (percent-decoded), the body is the data.
        Structured mode (`content-type: application/cloudevents...`): the body is the whole
        event in the JSON event format, its data under `data` (or `data_base64`).
        """
        h = {k.lower(): v for k, v in (headers or {}).items()}
        if h.get(CONTENT_TYPE_HEADER, "").lower().startswith("application/cloudevents"):
            attributes, data = _structured(data)
            traceparent = attributes.get(TRACEPARENT_HEADER) or h.get(TRACEPARENT_HEADER)
            tracestate = attributes.get(TRACESTATE_HEADER) or h.get(TRACESTATE_HEADER)
        else:
            try:
                attributes = {
                    k.removeprefix(CE_PREFIX): unquote(v, errors="strict") if "%" in v else v
                    for k, v in h.items()
                    if k.startswith(CE_PREFIX)
                }
            except UnicodeDecodeError:
                raise MalformedEnvelope("a ce- header is not percent-encoded UTF-8") from None
            if CONTENT_TYPE_HEADER in h:
                attributes.setdefault("datacontenttype", h[CONTENT_TYPE_HEADER])
            traceparent, tracestate = h.get(TRACEPARENT_HEADER), h.get(TRACESTATE_HEADER)
        required = ("specversion", "id", "source", "type", "time")
        missing = [a for a in required if a not in attributes]
        if missing:
            raise MalformedEnvelope(f"missing CloudEvents attributes: {', '.join(missing)}")
        if attributes["specversion"] != SPEC_VERSION:
            raise MalformedEnvelope(f"unsupported specversion {attributes['specversion']!r}")
        content_type = attributes.get("datacontenttype", CONTENT_TYPE)
        if not _is_json(content_type):
            raise MalformedEnvelope(f"datacontenttype {content_type!r} is not JSON")
        try:
            time = datetime.fromisoformat(attributes["time"])
        except ValueError as exc:
            raise MalformedEnvelope("time is not an RFC 3339 timestamp") from exc
        return cls(
            id=attributes["id"],
            source=attributes["source"],
            type=attributes["type"],
            subject=attributes.get("subject", ""),
            time=time,
            data=data,
            traceparent=traceparent,
            tracestate=tracestate,
        )

    def decode(self, model: builtins.type[BaseModel]) -> Any:
        """The data validated by the consumer's own (tolerant) model."""
        return model.model_validate_json(self.data)


class MalformedEnvelope(ValueError):
    """A message that is not a CloudEvent this platform can read."""


def schema_url(type_name: str, base_url: str = DEFAULT_SCHEMA_BASE_URL) -> str:
    """The published JSON Schema of a versioned event type (the `dataschema` attribute)."""
    return f"{base_url.rstrip('/')}/{type_name}.json"


# Printable ASCII but space, double quote and percent: what the binding leaves unencoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ' "%')


_NEEDS_ENCODING = re.compile(r'[^\x21-\x7e]|["%]')


def header_value(value: str) -> str:
    """A CloudEvents attribute as a NATS header value (percent-encoded where the binding asks)."""
    return quote(value, safe=_HEADER_SAFE) if _NEEDS_ENCODING.search(value) else value


def _is_json(media_type: str) -> bool:
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == CONTENT_TYPE or essence.endswith("+json")


def _structured(body: bytes) -> tuple[dict[str, str], bytes]:
    """The attributes and the data bytes of an event in the JSON event format."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEnvelope(f"structured-mode body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedEnvelope("structured-mode body is not a JSON object")
    if "data_base64" in document:
        raise MalformedEnvelope("data_base64 is not JSON data; send the data under `data`")
    attributes = {k: v for k, v in document.items() if k != "data" and isinstance(v, str)}
    data = json.dumps(document.get("data"), ensure_ascii=False).encode()
    return attributes, data

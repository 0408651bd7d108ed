"""Integration events: the versioned catalogue and the CloudEvents envelope carried over NATS."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
#: CloudEvents NATS binding, binary mode: every attribute but data is a `ce-` header.
CE_PREFIX = "ce-"
#: JetStream drops a second message with the same id inside the stream's duplicate window.
MSG_ID_HEADER = "Nats-Msg-Id"
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"

_TYPE_PATTERN = re.compile(r"^pb\.[a-z]+\.[a-z_]+\.[a-z_]+$")


class IntegrationEvent(BaseModel):
    """Base of every published event: frozen, strict about its fields, versioned by class.

    A subclass is registered once with `@catalogue.register(...)`, which sets the class
    attributes below. The event carries ids and facts, never a person's name, ID number or phone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = ""  # "pb.registry.organization.registered"
    event_version: ClassVar[int] = 0
    subject_field: ClassVar[str] = ""  # the field naming the aggregate (CloudEvents `subject`)

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents type and NATS subject: `<event_type>.v<version>`."""
        return f"{cls.event_type}.v{cls.event_version}"

    def aggregate_id(self) -> str:
        return str(getattr(self, self.subject_field))


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
            summary = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
            self.entries[name] = CatalogueEntry(model=model, producer=producer, summary=summary)
            return model

        return decorate

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.type_name))

    def model_for(self, type_name: str) -> type[IntegrationEvent] | None:
        entry = self.entries.get(type_name)
        return entry.model if entry else None


#: The process-wide catalogue every service's `events.py` registers into.
catalogue = Catalogue()


def new_event_id() -> str:
    return str(uuid.uuid4())


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
            id=new_event_id(),
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

    def headers(self) -> dict[str, str]:
        """NATS headers per the CloudEvents NATS binding (binary content mode)."""
        headers = {
            f"{CE_PREFIX}specversion": SPEC_VERSION,
            f"{CE_PREFIX}id": self.id,
            f"{CE_PREFIX}source": self.source,
            f"{CE_PREFIX}type": self.type,
            f"{CE_PREFIX}subject": self.subject,
            f"{CE_PREFIX}time": self.time.isoformat(),
            "content-type": CONTENT_TYPE,
            MSG_ID_HEADER: self.id,
        }
        if self.traceparent:
            headers[TRACEPARENT_HEADER] = self.traceparent
        if self.tracestate:
            headers[TRACESTATE_HEADER] = self.tracestate
        return headers

    @classmethod
    def from_nats(cls, headers: Mapping[str, str] | None, data: bytes) -> Envelope:
        """Read an envelope from a NATS message; raises `MalformedEnvelope` when it is not one."""
        h = {k.lower(): v for k, v in (headers or {}).items()}
        missing = [
            a for a in ("specversion", "id", "source", "type", "time") if f"{CE_PREFIX}{a}" not in h
        ]
        if missing:
            raise MalformedEnvelope(f"missing CloudEvents attributes: {', '.join(missing)}")
        if h[f"{CE_PREFIX}specversion"] != SPEC_VERSION:
            raise MalformedEnvelope(f"unsupported specversion {h[f'{CE_PREFIX}specversion']!r}")
        try:
            time = datetime.fromisoformat(h[f"{CE_PREFIX}time"])
        except ValueError as exc:
            raise MalformedEnvelope("ce-time is not an RFC 3339 timestamp") from exc
        return cls(
            id=h[f"{CE_PREFIX}id"],
            source=h[f"{CE_PREFIX}source"],
            type=h[f"{CE_PREFIX}type"],
            subject=h.get(f"{CE_PREFIX}subject", ""),
            time=time,
            data=data,
            traceparent=h.get(TRACEPARENT_HEADER),
            tracestate=h.get(TRACESTATE_HEADER),
        )

    def decode(self, model: builtins.type[BaseModel]) -> Any:
        """The data validated by the consumer's own (tolerant) model."""
        return model.model_validate_json(self.data)


class MalformedEnvelope(ValueError):
    """A message that is not a CloudEvent this platform can read."""

"""What the documents describe: every service, the events it publishes and who consumes them.

Services are found at run time (`services.<name>.events` and `services.<name>.app`, imported by
name). Producers come from the event catalogue, consumers from the `ConsumerSpec`s of each
service's `definition()`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from libs.common.events import CatalogueEntry, catalogue
from libs.common.service import ServiceDefinition

SERVICES_PACKAGE = "services"


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


def docstring(model: type[BaseModel]) -> str:
    """The model's own docstring, dedented ("" when it has none of its own)."""
    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


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
    undocumented = sorted(e.model.__name__ for e in entries if not docstring(e.model))
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

"""OpenTelemetry tracing: one provider per service, exporter chosen by settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import FastAPI
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation import fastapi as fastapi_instrumentation
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from libs.common.settings import ServiceSettings

#: Probes and scrapes would drown the useful traces.
UNTRACED_URLS = "healthz,readyz,metrics"


class NoClientRoots(Sampler):
    """Never starts a trace at a client call: SQL that a background loop runs outside any
    operation (an idle relay's or consumer's poll, ~5 `BEGIN`/`SELECT` root traces a second per
    service) is noise, not a trace. Work that does something starts its own span (a request, a
    consumed batch, a relay's publish) and its SQL is traced as that span's children."""

    def __init__(self, root: Sampler) -> None:
        self.root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self.root.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoClientRoots{{{self.root.get_description()}}}"


def create_tracer_provider(
    settings: ServiceSettings, *, exporter: SpanExporter | None = None
) -> TracerProvider:
    """A provider for one service. `exporter` (tests) wins over the configured one."""
    # With nowhere to export, new traces are not sampled: trace ids are still made and
    # propagated (logs carry them, events carry them), but no span is recorded for nothing.
    exporting = exporter is not None or settings.tracing_exporter != "none"
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"pb-{settings.service_name}"}),
        sampler=ParentBased(
            NoClientRoots(TraceIdRatioBased(settings.tracing_sample_ratio))
            if exporting
            else ALWAYS_OFF
        ),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.tracing_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        bound = settings.tracing_export_timeout_seconds
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(timeout=bound), export_timeout_millis=int(bound * 1000)
            )
        )
    elif settings.tracing_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


SpanDetails = tuple[str, dict[str, str]]

#: The instrumentation's own span name and attributes of a request (`GET /v1/x/{id}`, its
#: `http.route`): it finds the route by trying every route of the app in turn.
_route_span_details = fastapi_instrumentation._get_default_span_details
#: Per app, the span details of the requests to its parameterless routes, by type, method and path.
_remembered: WeakKeyDictionary[Any, dict[tuple[str, str, str, str], SpanDetails]] = (
    WeakKeyDictionary()
)


def remembered_span_details(scope: MutableMapping[str, Any]) -> SpanDetails:
    """`_route_span_details`, remembered for a route without parameters (its template is the
    path itself: a bounded set, the same answer every time). The instrumentation's scan of every
    route cost a write ~0.1 ms of CPU a request on the registry's ~60 routes."""
    app = scope["app"]
    key = (scope["type"], scope.get("method", ""), scope.get("root_path", ""), scope["path"])
    known = _remembered.setdefault(app, {})
    found = known.get(key)
    if found is None:
        found = _route_span_details(scope)
        if found[1].get(HTTP_ROUTE) != scope["path"]:
            return found  # a template with parameters (one entry per id), or no route at all
        known[key] = found
    return found[0], dict(found[1])


def instrument_fastapi(app: FastAPI, provider: TracerProvider) -> None:
    """A server span per request; without the ASGI `http send`/`http receive` child spans of
    every message of the exchange, which say nothing the request's span does not (and cost a
    third of the instrumentation's time). The span's name and route are found once per
    parameterless route (`remembered_span_details`): the instrumentation reads its module's
    `_get_default_span_details` when it builds the middleware stack (a private name, guarded by
    `tests/common/test_tracing_routes.py`)."""
    fastapi_instrumentation._get_default_span_details = remembered_span_details
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    """Trace SQL on this engine only.

    The engine tracer is attached directly: `SQLAlchemyInstrumentor().instrument()` refuses
    SQLAlchemy 2.1 without `skip_dep_check=True` (silently) and patches process-wide.
    """
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = metrics.get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
    _sql_tracers[engine.sync_engine.pool] = tracer


#: The tracer of each instrumented engine, by its pool (which the engines it makes with other
#: execution options share), for SQL run beside SQLAlchemy on its connections.
_sql_tracers: WeakKeyDictionary[Pool, trace.Tracer] = WeakKeyDictionary()


@contextmanager
def sql_span(engine: Engine, sql: str) -> Iterator[None]:
    """A span for one statement run on a connection of `engine`'s outside SQLAlchemy (which
    the engine's instrumentation cannot see), named and described as that instrumentation
    names its own; nothing when the engine is not traced."""
    tracer = _sql_tracers.get(engine.pool)
    if tracer is None:
        yield
        return
    database = engine.url.database or ""
    attributes = {"db.system": engine.dialect.name, "db.name": database, "db.statement": sql}
    name = f"{sql.split(None, 1)[0]} {database}".strip()
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def context_from_headers(headers: Mapping[str, str]) -> Context:
    """The trace context a message carries (W3C traceparent), or an empty one."""
    return propagate.extract(dict(headers))


@contextmanager
def span_from(
    tracer: trace.Tracer,
    name: str,
    *,
    traceparent: str | None,
    tracestate: str | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: Mapping[str, str | int] | None = None,
    links: Sequence[trace.Link] = (),
) -> Iterator[trace.Span]:
    """A span continuing the trace of a stored or received `traceparent`."""
    carrier = {"traceparent": traceparent} if traceparent else {}
    if traceparent and tracestate:
        carrier["tracestate"] = tracestate
    parent = propagate.extract(carrier)
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {}), links=list(links)
    ) as span:
        yield span


def span_context_of(traceparent: str) -> trace.SpanContext:
    """The remote span context a traceparent names (invalid when it names none)."""
    return trace.get_current_span(
        propagate.extract({"traceparent": traceparent})
    ).get_span_context()


def is_sampled(traceparent: str) -> bool:
    """Whether a W3C traceparent has its sampled flag set (other flag bits may be set too)."""
    try:
        return bool(int(traceparent.rsplit("-", 1)[1], 16) & 0x01)
    except (IndexError, ValueError):
        return False


@contextmanager
def continuing(traceparent: str | None) -> Iterator[None]:
    """Inside the block, the current trace context is the one `traceparent` names (nothing
    changes when it is None): an event recorded there continues that trace, though no span of
    this process is open (a worker announcing what an earlier consumed event caused)."""
    if not traceparent:
        yield
        return
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


def current_traceparent() -> tuple[str | None, str | None]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")

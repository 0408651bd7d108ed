"""A request's server span is named by its route template, found once per parameterless route
(`libs.common.tracing.remembered_span_details`). It replaces the FastAPI instrumentation's
private `_get_default_span_details`: these tests fail if the library stops reading it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.common import tracing
from libs.common.settings import ServiceSettings
from libs.common.tracing import create_tracer_provider, instrument_fastapi


def _app(spans: InMemorySpanExporter) -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def one(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.post("/things")
    async def add() -> dict[str, str]:
        return {}

    @app.get("/things")
    async def all_things() -> list[str]:
        return []

    settings = ServiceSettings(service_name="tracetest")
    instrument_fastapi(app, create_tracer_provider(settings, exporter=spans))
    return app


def _server_spans(spans: InMemorySpanExporter) -> list[tuple[str, object]]:
    return [
        (s.name, (s.attributes or {}).get("http.route"))
        for s in spans.get_finished_spans()
        if s.kind.name == "SERVER"
    ]


async def test_spans_are_named_by_the_route_template() -> None:
    spans = InMemorySpanExporter()
    app = _app(spans)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for _ in range(2):  # the second time from what was remembered
            assert (await client.post("/things")).status_code == 200
            assert (await client.get("/things")).status_code == 200
            assert (await client.get("/things/a1")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    assert _server_spans(spans) == [
        ("POST /things", "/things"),
        ("GET /things", "/things"),
        ("GET /things/{thing_id}", "/things/{thing_id}"),
    ] * 2 + [("GET", None)]


async def test_the_instrumentation_asks_the_remembering_function() -> None:
    """The guard of the private name: the middleware the instrumentation builds calls ours, and
    it remembers the parameterless routes only (no entry per id, none for a missing path)."""
    spans = InMemorySpanExporter()
    app = _app(spans)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.post("/things")
        await client.get("/things/a1")
        await client.get("/nowhere")
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, OpenTelemetryMiddleware):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, OpenTelemetryMiddleware)
    assert layer.default_span_details is tracing.remembered_span_details
    assert list(tracing._remembered[app]) == [("http", "POST", "", "/things")]

"""Builds one service process: FastAPI for HTTP, the broker, outbox relay and inbox consumers in
the same event loop, with tracing, logging, metrics, health and problem+json wired in.

A process plays a role (`ServiceSettings.role`): `all` of it (the default), the `api` alone
(HTTP, nothing consumed or relayed), the `worker` (outbox relay, consumers and background
workers, with only health, readiness and metrics over HTTP), so a service's consumers can run in
a process of their own beside its API (`python -m services.<name> worker`), and a projection's
CPU work never queues the API's requests on one event loop; or the `relay` alone (`python -m
services.<name> relay`, with `relay_process` set for the others, which then relay nothing), so
that relaying a bulk import's events takes none of the importing process's interpreter."""

from __future__ import annotations

import argparse
import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import MetaData, text

from libs.common.auth import TokenService
from libs.common.broker import BrokerLink
from libs.common.db import Database, UnitOfWork
from libs.common.dead_letters_api import router as dead_letters_router
from libs.common.http import NotModified, refuse_unexpected_media_type, require_if_match
from libs.common.inbox import ConsumerSpec, InboxConsumer
from libs.common.logging import configure_logging, get_logger
from libs.common.metrics import ServiceMetrics
from libs.common.migrations import schema_status, upgrade_to_head
from libs.common.openapi import ServiceApp, operation_ids, servers
from libs.common.outbox import OutboxRelay
from libs.common.problems import (
    PROBLEM_JSON,
    FieldError,
    InvalidInput,
    ProblemMap,
    install_problem_handlers,
)
from libs.common.settings import ServiceSettings
from libs.common.text import refused_character
from libs.common.tracing import create_tracer_provider, instrument_engine, instrument_fastapi
from libs.common.webhooks import api as webhooks_api
from libs.common.webhooks.delivery import PayloadBuilder, WebhookDeliveries

log = get_logger(__name__)


@dataclass
class ServiceDefinition:
    """What makes one service what it is; `build_app` turns it into a running process."""

    settings: ServiceSettings
    title: str
    description: str
    metadata: MetaData
    migrations: Path
    routers: list[APIRouter] = field(default_factory=list)
    consumers: list[ConsumerSpec] = field(default_factory=list)
    #: Long-running loops of the service (import jobs, snapshots): each is started with the
    #: runtime after the consumers and stopped before them.
    workers: list[WorkerFactory] = field(default_factory=list)
    #: The service's unit of work (carrying its repositories): what requests, consumers and
    #: workers get from `runtime.unit_of_work()`.
    unit_of_work: type[UnitOfWork] = UnitOfWork
    #: Problem shapes for the service's refusals that differ from `problem_of`'s defaults.
    problems: ProblemMap = field(default_factory=dict)
    #: The service's own operator commands, beside the platform's (serve, migrate, outbox, ...).
    commands: list[Command] = field(default_factory=list)
    #: Webhook payloads the service builds from its events, by name, beside `event` (the
    #: registry's `provincial_profile`): a subscription chooses one.
    webhook_payloads: dict[str, PayloadBuilder] = field(default_factory=dict)
    version: str = "0.1.0"


@dataclass(frozen=True)
class Command:
    """An operator command of one service: `python -m services.<name> <name> [options]`."""

    name: str
    help: str
    #: Adds the command's options to its argparse sub-parser.
    arguments: Callable[[argparse.ArgumentParser], None]
    #: Runs it with the parsed options (the process's asyncio loop is already running).
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, None]]


class Worker(Protocol):
    """A background loop owned by a service: `start` returns at once, `stop` ends it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


WorkerFactory = Callable[["Runtime"], Worker]


class Runtime:
    """The live parts of a service, reachable from routes as `request.app.state.runtime`."""

    def __init__(self, definition: ServiceDefinition, span_exporter: SpanExporter | None) -> None:
        settings = definition.settings
        self.definition = definition
        self.settings = settings
        self.tracer_provider: TracerProvider = create_tracer_provider(
            settings, exporter=span_exporter
        )
        self.tracer = self.tracer_provider.get_tracer(f"pb.{settings.service_name}")
        self.metrics = ServiceMetrics(settings.service_name)
        self.db = Database(settings.resolved_database_url(), source=f"/pb/{settings.service_name}")
        if span_exporter is not None or settings.tracing_exporter != "none":
            # SQL spans cost ~0.5 ms of CPU per request even when nothing is exported
            instrument_engine(self.db.engine, self.tracer_provider)
        self.link = BrokerLink(settings)
        self.relay = OutboxRelay(self.db, self.link, settings, self.metrics, self.tracer)
        self.consumers = [
            InboxConsumer(
                spec,
                self.db,
                self.link,
                settings,
                self.metrics,
                self.tracer,
                unit_of_work=definition.unit_of_work,
            )
            for spec in definition.consumers
        ]
        self.tokens = TokenService.from_settings(settings)
        self.workers: list[Worker] = [make(self) for make in definition.workers]
        # every service delivers its own events to its webhook subscriptions
        self.webhooks = WebhookDeliveries(
            self.db,
            self.link,
            settings,
            self.metrics.registry,
            self.tracer,
            payloads=definition.webhook_payloads,
        )
        self.workers.append(self.webhooks)

    @property
    def works(self) -> bool:
        """This process consumes and runs the background workers (role all or worker)."""
        return self.settings.role in ("all", "worker")

    @property
    def relays(self) -> bool:
        """This process relays the outbox: role relay, or all and worker unless a relay process
        does (`relay_process`)."""
        role = self.settings.role
        return role == "relay" or (self.works and not self.settings.relay_process)

    @property
    def serves_api(self) -> bool:
        """This process serves the service's routes (role all or api)."""
        return self.settings.role in ("all", "api")

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        """A transaction of the service's own unit of work (`readonly` for queries)."""
        return self.definition.unit_of_work(self.db, readonly=readonly)

    async def start(self) -> None:
        if self.settings.migrate_on_start:
            await upgrade_to_head(self.db, self.definition.migrations)
        self.link.start()
        if self.relays:
            self.relay.start()
        if self.works:
            for consumer in self.consumers:
                consumer.start()
            for worker in self.workers:
                worker.start()
        for key in self.settings.development_keys():
            log.warning("development-only secret in use: set it before production", setting=key)
        # What exists now (modules, app, settings, caches) lives as long as the process: moved out
        # of the collector's sight, the full collections a busy consumer triggers stop rescanning
        # it (they were ~20% of the coverage consumer's time).
        gc.collect()
        gc.freeze()
        log.info(
            "service started", port=self.settings.port, role=self.settings.role, relays=self.relays
        )
        if self.works and not self.relays:
            log.info(
                "outbox left to a relay process",
                command=f"python -m services.{self.settings.service_name} relay",
            )

    async def stop(self) -> None:
        if self.works:
            for worker in self.workers:
                await worker.stop()
            for consumer in self.consumers:
                await consumer.stop()
        if self.relays:
            await self.relay.stop()
        await self.link.stop()
        await self.db.dispose()
        self.tracer_provider.shutdown()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.db.read() as session:
                await session.execute(text("SELECT 1"))
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["store"] = f"failing: {type(exc).__name__}"
        if checks["store"] == "ok":  # not ready until the migrate Job brought the schema to head
            checks["schema"] = await schema_status(self.db, self.definition.migrations)
        checks["broker"] = "ok" if self.link.connected else "not connected"
        return checks


def _refused_in_json(value: Any, at: str) -> FieldError | None:
    """Where the first string (or key) of a decoded JSON document holding a refused character
    is, and why."""
    if isinstance(value, str):
        reason = refused_character(value)
        return FieldError(at or "body", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            if (reason := refused_character(key)) is not None:
                return FieldError(at or "body", reason)  # the key itself is not echoed
            found = _refused_in_json(item, f"{at}.{key}" if at else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _refused_in_json(item, f"{at}.{index}" if at else str(index))
            if found is not None:
                return found
    return None


def _refused_in_body(body: bytes) -> FieldError | None:
    # JSON cannot carry a raw control character inside a string, only an escape (\u0000): the
    # document is decoded a second time only when it has an escape or a refused raw character.
    if b"\\u" not in body and refused_character(body.decode("utf-8", "replace")) is None:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers it
    return _refused_in_json(document, "")


async def refuse_hostile_text(request: Request) -> None:
    """The safety net under every route, before its handler: a path, query string or JSON body
    holding a control character (U+0000 first of all: PostgreSQL cannot store it), a surrogate,
    a non-character or a bidi override is a 422 naming where, whatever the route's types say."""
    errors: list[FieldError] = []
    reason = refused_character(request.scope["path"], multiline=False)
    if reason is not None:
        errors.append(FieldError("path", reason))
    for key, value in request.query_params.multi_items():
        if (reason := refused_character(key)) is not None:
            errors.append(FieldError("query", reason))
        elif (reason := refused_character(value)) is not None:
            errors.append(FieldError(key, reason))
    content_type = request.headers.get("content-type", "")
    if not errors and "json" in content_type:
        found = _refused_in_body(await request.body())
        if found is not None:
            errors.append(found)
    if errors:
        fields = ", ".join(sorted({e.field for e in errors}))
        raise InvalidInput(f"invalid input: {fields}", errors=errors)


async def guard_request(request: Request) -> None:
    """What every route checks before its own dependencies, in this order: the body's media
    type (415), `If-Match` where the route takes it (428), hostile text (422). One dependency
    rather than three: FastAPI's solving costs each ~30-50 µs of CPU a request."""
    await refuse_unexpected_media_type(request)
    await require_if_match(request)
    await refuse_hostile_text(request)


def build_app(
    definition: ServiceDefinition, *, span_exporter: SpanExporter | None = None
) -> FastAPI:
    settings = definition.settings
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, service=settings.service_name
    )
    runtime = Runtime(definition, span_exporter)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = ServiceApp(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        dependencies=[Depends(guard_request)],
        generate_unique_id_function=operation_ids(settings.service_name),
        servers=servers(settings.public_url),
    )
    app.add_middleware(NotModified)
    app.state.runtime = runtime
    app.state.tokens = runtime.tokens
    install_problem_handlers(app, definition.problems)
    runtime.metrics.install(app)
    instrument_fastapi(app, runtime.tracer_provider)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: store and broker reachable",
        responses={503: {"description": "not ready", "content": {PROBLEM_JSON: {}}}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse(
            {
                "type": "https://pb.example.org/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"),
                "checks": checks,
            },
            status_code=503,
            media_type=PROBLEM_JSON,
        )

    if runtime.serves_api:
        app.include_router(dead_letters_router)  # every service's: libs/common/dead_letters.py
        for router in definition.routers:
            app.include_router(router)
        app.include_router(webhooks_api.router)
    return app


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


U = TypeVar("U", bound=UnitOfWork)
S = TypeVar("S", bound=ServiceSettings)


def transaction(
    cls: type[U], *, readonly: bool = False, one_statement: bool = False
) -> Callable[[Request], AsyncIterator[U]]:
    """A dependency giving the route one unit of work of class `cls`: committed when the route
    returns, rolled back on error; `readonly` for GETs (a read session, nothing committed);
    `one_statement` for a GET that reads with one query (no transaction on PostgreSQL)."""

    async def dependency(request: Request) -> AsyncIterator[U]:
        db = runtime_of(request).db
        async with cls(db, readonly=readonly, one_statement=one_statement) as uow:
            yield uow

    return dependency


def settings_of(cls: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving the route the service's settings, typed as its own class (async:
    FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request)."""

    async def dependency(request: Request) -> S:
        settings: S = request.app.state.runtime.settings
        return settings

    return dependency


# scope="function": the transaction commits before the response leaves, so a failed commit is
# an error response, never a 201 for something that was not stored.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(transaction(UnitOfWork), scope="function")]
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


ServiceFactory = Callable[[], ServiceDefinition]

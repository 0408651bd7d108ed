"""Prometheus metrics of one service: requests, events, outbox backlog, consumer lag."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class ServiceMetrics:
    """Every metric a service exposes, on its own registry (several services may share a process
    in tests)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        r = self.registry
        self.requests = Counter(
            "pb_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=r,
        ).labels
        self.request_seconds = Histogram(
            "pb_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=r,
        )
        self.events_published = Counter(
            "pb_events_published",
            "Events published to JetStream by the outbox relay",
            ["type"],
            registry=r,
        )
        self.events_consumed = Counter(
            "pb_events_consumed", "Events applied by a consumer", ["consumer", "type"], registry=r
        )
        self.events_duplicate = Counter(
            "pb_events_duplicate",
            "Redelivered events the inbox had already applied",
            ["consumer"],
            registry=r,
        )
        self.events_failed = Counter(
            "pb_events_failed",
            "Event deliveries whose handling failed (will be retried)",
            ["consumer"],
            registry=r,
        )
        self.events_dead_lettered = Counter(
            "pb_events_dead_lettered",
            "Events given up on and dead-lettered",
            ["consumer"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "pb_outbox_backlog", "Outbox rows not yet acknowledged by JetStream", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "pb_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent outbox row",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "pb_consumer_lag",
            "Messages pending for a durable consumer",
            ["consumer"],
            registry=r,
        )
        self.info = Gauge(
            "pb_service_info", "The service this process runs", ["service"], registry=r
        )
        self.info.labels(**labels).set(1)

    def expose(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def install(self, app: FastAPI) -> None:
        """Count and time every request by its route template (not the raw path)."""

        @app.middleware("http")
        async def observe(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            status = 500
            try:
                response = await call_next(request)
                status = response.status_code
                return response
            finally:
                route = request.scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.requests(request.method, template, str(status)).inc()
                self.request_seconds.labels(request.method, template).observe(
                    time.perf_counter() - started
                )

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return self.expose()

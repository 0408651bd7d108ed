"""Real things for tests: a nats-server of our own, PostgreSQL databases, services on real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from deploy.local.run import find_nats_server
from libs.common.auth import ALL_SCOPES, TokenService
from libs.common.service import Runtime, ServiceDefinition, build_app
from libs.common.settings import DEVELOPMENT_AUTH_SECRET

POSTGRES_URL = os.environ.get("PB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsServer:
    """A nats-server with JetStream on a free port and a temporary store; restartable in place."""

    def __init__(self) -> None:
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="pb-nats-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(find_nats_server()),
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                self.store,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("nats-server did not come up")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its SQLAlchemy async URL."""
    name = f"pb_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def postgres_available() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def token(region_code: str, scopes: tuple[str, ...] = ALL_SCOPES, subject: str = "tester") -> str:
    return TokenService(DEVELOPMENT_AUTH_SECRET, "pb-dev").issue(
        subject=subject, region_code=region_code, scopes=scopes
    )


@dataclass
class RunningService:
    """A service served by uvicorn on a real port, and an HTTP client pointed at it."""

    app: FastAPI
    base_url: str
    client: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def as_region(self, region_code: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(region_code, **kwargs)}"}


@asynccontextmanager
async def serve(
    definition: ServiceDefinition, *, span_exporter: SpanExporter | None = None
) -> AsyncIterator[RunningService]:
    port = free_port()
    definition.settings.port = port
    app = build_app(definition, span_exporter=span_exporter)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    )
    server.config.install_signal_handlers = False  # type: ignore[attr-defined]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the service stopped during start-up")
        await asyncio.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
        try:
            yield RunningService(app, base_url, client)
        finally:
            server.should_exit = True
            await task


async def wait_for(predicate: Any, *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)

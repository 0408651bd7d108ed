"""Real things for tests: a nats-server of our own, PostgreSQL databases, services on real HTTP."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from deploy.local.run import find_nats_server
from libs.common.auth import ALL_SCOPES, TokenService
from libs.common.db import Database
from libs.common.migrations import upgrade_to_head
from libs.common.service import Runtime, ServiceDefinition, build_app
from libs.common.settings import DEVELOPMENT_AUTH_SECRET

POSTGRES_URL = os.environ.get("PB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: For a test whose fixtures take a store it does not test: run it on SQLite only, once.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
#: For a test of what only PostgreSQL does (several processes on one store).
POSTGRESQL_ONLY = pytest.mark.parametrize("store", ["postgresql"], indirect=True)


def _xdist_share() -> tuple[int, int]:
    """This pytest-xdist worker's index and the number of workers ((0, 1) outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return index % count, count


def ephemeral_ports_start() -> int:
    """Where the kernel's ephemeral ports begin (the local ports of outgoing connections and of
    sockets bound to port 0)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: The free ports tests take lie below the ephemeral ones, from here up.
FREE_PORTS_FROM = 20000
#: The ports `free_port` gave lately (not given again while they are among these).
_GIVEN: collections.deque[int] = collections.deque(maxlen=64)


def free_port() -> int:
    """A port nothing listens on now, for a server a test starts later: below the kernel's
    ephemeral ports, so no outgoing connection of any process takes it meanwhile, and from this
    pytest-xdist worker's share (the port's number modulo the workers), so no other worker is
    given it. (A port from `bind(("127.0.0.1", 0))` was both: a service once found its port
    taken before it started.) Nor is a port this process was given lately given again: a test
    that asks for several before starting anything (the local stack's six) once got one twice,
    and two of its services shared it."""
    index, count = _xdist_share()
    end = ephemeral_ports_start()
    start = FREE_PORTS_FROM if end - FREE_PORTS_FROM >= 1000 else 1024
    for _ in range(1000):
        port = random.randrange(start, end)
        if port % count != index or port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.append(port)
        return port
    raise RuntimeError("no free port in this worker's share")


class NatsServer:
    """A nats-server with JetStream on a free port and a temporary store; restartable in place."""

    def __init__(self) -> None:
        self.port = free_port()
        self.home = tempfile.mkdtemp(prefix="pb-nats-")  # its config, and its store below
        self.store = str(Path(self.home) / "jetstream")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Every stream reserves its byte limit (1 GiB and more) against the server's file store,
        # whose default is a share of the free disk: a session's many uniquely named test streams
        # would run it out ("insufficient storage resources"). The tests write a few MB: let the
        # reservations be as large as they like.
        config = Path(self.home) / "nats.conf"
        config.write_text(
            f'jetstream {{ store_dir: "{self.store}", max_file_store: 100T, '
            "max_memory_store: 1G }\n"
        )
        self.process = subprocess.Popen(
            [
                str(find_nats_server()),
                "-c",
                str(config),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
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
        shutil.rmtree(self.home, ignore_errors=True)


def postgres_url(name: str) -> str:
    """The SQLAlchemy async URL of database `name` on the test PostgreSQL server."""
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def migrations_of(service: str) -> Path:
    """The migrations folder of `services.<service>`, as its ServiceDefinition names it."""
    app = importlib.import_module(f"services.{service}.app")
    definition: ServiceDefinition = app.definition()
    return definition.migrations


class DatabaseTemplates:
    """A database per service migrated to head once per test run; tests get copies of it.

    Each service has its own alembic_version and same-named platform tables, hence one template
    per service: on PostgreSQL the database `pb_tpl_<service>_<run id>` that tests clone with
    `CREATE DATABASE ... TEMPLATE`, on SQLite a file that tests copy. A service started on a
    copy runs its migrations as always and finds itself at head. `drop()` at the end of the run.
    Not for concurrent first uses of one service inside a test (the fixtures ask in turn).
    """

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.folder: Path | None = None  # made on first use
        self.postgres: dict[str, str] = {}
        self.sqlite: dict[str, Path] = {}

    @staticmethod
    async def _migrate(url: str, service: str) -> None:
        db = Database(url, source=f"/pb/{service}")
        try:
            await upgrade_to_head(db, migrations_of(service))
        finally:
            await db.dispose()  # a template must have no connection when it is copied

    async def postgres_template(self, service: str) -> str:
        """The name of the service's template database, made on first use."""
        if service not in self.postgres:
            name = f"pb_tpl_{service}_{self.run_id}"
            await _admin(f'CREATE DATABASE "{name}"')
            try:
                await self._migrate(postgres_url(name), service)
            except BaseException:
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
            self.postgres[service] = name
        return self.postgres[service]

    async def sqlite_copy(self, service: str, path: Path) -> str:
        """A copy of the service's migrated SQLite file at `path`; returns its URL."""
        if service not in self.sqlite:
            if self.folder is None:
                self.folder = Path(tempfile.mkdtemp(prefix="pb-templates-"))
            template = self.folder / f"{service}.db"
            await self._migrate(f"sqlite+aiosqlite:///{template}", service)
            self.sqlite[service] = template
        # The backup API copies a consistent database whatever the journal (WAL) holds.
        with (
            contextlib.closing(sqlite3.connect(self.sqlite[service])) as source,
            contextlib.closing(sqlite3.connect(path)) as target,
        ):
            source.backup(target)
        return f"sqlite+aiosqlite:///{path}"

    async def drop(self) -> None:
        """Drop the PostgreSQL templates and remove the SQLite ones."""
        for name in self.postgres.values():
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.postgres.clear()
        self.sqlite.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


#: The run's templates (conftest.py drops them when the session ends).
templates = DatabaseTemplates()


@asynccontextmanager
async def postgres_database(template: str | None = None) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its SQLAlchemy async URL.

    With `template` (a service name) the database is a copy of that service's template,
    already at the head of its migrations.
    """
    name = f"pb_test_{uuid.uuid4().hex[:12]}"
    clone = f' TEMPLATE "{await templates.postgres_template(template)}"' if template else ""
    await _admin(f'CREATE DATABASE "{name}"{clone}')
    try:
        yield postgres_url(name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ServiceDatabases:
    """Databases already at a service's head, on the test's store, one per service and test."""

    def __init__(self, store: str, folder: Path, stack: AsyncExitStack) -> None:
        self.store = store
        self.folder = folder
        self._stack = stack
        self._urls: dict[str, str] = {}

    async def url(self, service: str) -> str:
        """The URL of the service's database in this test (the same on every call)."""
        if service not in self._urls:
            if self.store == "sqlite":
                url = await templates.sqlite_copy(service, self.folder / f"{service}.db")
            else:
                url = await self._stack.enter_async_context(postgres_database(template=service))
            self._urls[service] = url
        return self._urls[service]


async def postgres_available(url: str = POSTGRES_URL) -> bool:
    """Whether the PostgreSQL server at `url` answers (within 3 s)."""
    try:
        conn = await asyncpg.connect(url, timeout=3)
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

    async def ready(self) -> bool:
        """Whether `/readyz` says ready (store, schema and broker link: a service just served
        may still be connecting to NATS)."""
        return (await self.client.get("/readyz")).status_code == 200


def listening_socket() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1, for a server to listen on. Its protocol is
    said outright: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP, and the
    connections accepted on a `socket.socket()` (protocol 0) kept Nagle's algorithm on (20
    concurrent POSTs on PostgreSQL fell from about 460 to 330 requests/s)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    return listener


@asynccontextmanager
async def serve(
    definition: ServiceDefinition, *, span_exporter: SpanExporter | None = None
) -> AsyncIterator[RunningService]:
    """The service on uvicorn at a free port, with a client; stopped cleanly when the block ends.

    uvicorn's own `serve()` polls for its exit every 0.1 s and pauses 0.1 s more for open
    connections before the lifespan shutdown: about 0.15 s per test. Here its start-up runs as
    in `serve()` and `_stop` does its shutdown steps without the pauses (the client is closed
    first, so no connection is left to wait for).
    """
    listener = listening_socket()  # handed to uvicorn: the port is never let go
    port: int = listener.getsockname()[1]
    try:
        definition.settings.port = port
        app = build_app(definition, span_exporter=span_exporter)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        # the lifespan start-up (the runtime's), then listening on the socket
        await server.startup(sockets=[listener])
    except SystemExit:  # uvicorn's answer to a failed start-up, whose error it has logged
        listener.close()
        raise RuntimeError("the service stopped during start-up") from None
    except BaseException:
        listener.close()
        raise
    await server.on_tick(0)  # the default response headers, as uvicorn's main loop sets them
    try:
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as client:
            yield RunningService(app, base_url, client)
    finally:
        await _stop(server)


async def _stop(server: uvicorn.Server, grace: float = 30.0) -> None:
    """uvicorn's `Server.shutdown` without its fixed pause: stop listening, close the open
    connections, let running requests finish (cancelled after `grace`), then the lifespan
    shutdown, where the runtime stops its workers, consumers and relay and disposes the store."""
    for listener in server.servers:
        listener.close()
    for connection in list(server.server_state.connections):
        connection.shutdown()
    running = set(server.server_state.tasks)
    if running:
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
    await server.lifespan.shutdown()
    for listener in server.servers:
        await listener.wait_closed()


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

"""The system under test as real processes: a nats-server and the four services, each on its own
port and store, started, killed (SIGKILL) and restarted by the suite itself.

Services run as `make run` runs them (`python -m services.<name>`, uvicorn inside), with their
logs appended to `<folder>/logs/<name>.log` across restarts. On PostgreSQL each service gets a
database of its own, created here and dropped by `Cluster.close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from deploy.local.run import REPO_ROOT, find_nats_server
from libs.common.auth import ALL_SCOPES, TokenService

SERVICES = ("registry", "coverage", "stations", "training")
HOST = "127.0.0.1"
#: The PostgreSQL server the suite creates its databases on (the tests' default).
POSTGRES_URL = os.environ.get(
    "PB_CHAOS_POSTGRES_URL",
    os.environ.get("PB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
ISSUER = "pb-chaos"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Nats:
    """nats-server with JetStream on a fixed port and store, so a restart finds its streams."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        store = self.folder / "nats"
        store.mkdir(parents=True, exist_ok=True)
        command = [str(find_nats_server()), "-js", "-a", HOST, "-p", str(self.port)]
        with (self.folder / "logs" / "nats.log").open("ab") as log:
            return subprocess.Popen(
                [*command, "-sd", str(store)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )

    async def start(self, timeout: float = 30.0) -> None:
        self.process = self.spawn()
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited ({self.process.returncode}); see its log")
            if time.monotonic() > deadline:
                raise RuntimeError("nats-server did not come up")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


@dataclass
class Service:
    """One service process; `env` is its whole environment."""

    name: str
    port: int
    database_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no ack; what a crash or the OOM killer does."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: frozen where it is (it can neither ack nor answer) until `resume`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


class Cluster:
    """nats-server plus the four services (or those `names` says) on one store kind, in
    `folder`; `extra_env` is added to every service's environment, `<SERVICE>` in a name
    standing for the service's (`PB_<SERVICE>_INBOX_ACK_WAIT_SECONDS`)."""

    def __init__(
        self,
        folder: Path,
        store: str,
        extra_env: Mapping[str, str],
        names: Sequence[str] = SERVICES,
    ) -> None:
        self.folder = folder
        self.store = store
        self.names = tuple(names)
        self.run_id = secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(32)
        self.tokens = TokenService(self.secret, ISSUER)
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        self.nats = Nats(folder)
        self.extra_env = dict(extra_env)
        self.services: dict[str, Service] = {}
        self.postgres_databases: list[str] = []
        self.http = httpx.AsyncClient(timeout=10, trust_env=False)

    def token(self, region_code: str) -> str:
        return self.tokens.issue(subject="chaos", region_code=region_code, scopes=ALL_SCOPES)

    def headers(self, region_code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(region_code)}"}

    async def _database_url(self, name: str) -> str:
        if self.store == "sqlite":
            return _sqlite_url(self.folder / f"{name}.db")
        database = f"pb_chaos_{self.run_id}_{name}"
        await _admin(f'CREATE DATABASE "{database}"')
        self.postgres_databases.append(database)
        return _asyncpg_url(POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}")

    async def start(self, timeout: float = 120.0) -> None:
        await self.nats.start()
        for name in self.names:
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("PB_", "NATS_", "OTEL_"))
            }
            env.update(
                {
                    "NATS_URL": self.nats.url,
                    "PB_AUTH_SECRET": self.secret,
                    "PB_AUTH_ISSUER": ISSUER,
                    "PB_LOG_LEVEL": "WARNING",
                    "PB_TRACING_EXPORTER": "none",
                    "PYTHONUNBUFFERED": "1",
                    f"PB_{name.upper()}_PORT": str(port := free_port()),
                    f"PB_{name.upper()}_DATABASE_URL": (url := await self._database_url(name)),
                }
            )
            env.update(
                {key.replace("<SERVICE>", name.upper()): v for key, v in self.extra_env.items()}
            )
            self.services[name] = Service(
                name, port, url, env, self.folder / "logs" / f"{name}.log"
            )
        for service in self.services.values():
            service.start()
        await asyncio.gather(*(self.wait_ready(s, timeout) for s in self.services.values()))

    async def ready(self, service: Service) -> bool:
        if not service.alive:
            return False
        try:
            response = await self.http.get(f"{service.url}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def wait_ready(self, service: Service, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not await self.ready(service):
            if service.process is not None and service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited; see {service.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not ready in {timeout:.0f} s")
            await asyncio.sleep(0.1)

    async def all_ready(self) -> bool:
        results = await asyncio.gather(*(self.ready(s) for s in self.services.values()))
        return all(results)

    async def cut_postgres_connections(self) -> int:
        """pg_terminate_backend on every connection to the services' databases; how many."""
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
                self.postgres_databases,
            )
        finally:
            await conn.close()
        return sum(1 for row in rows if row[0])

    async def close(self) -> None:
        for service in self.services.values():
            service.stop()
        self.nats.stop()
        await self.http.aclose()
        for database in self.postgres_databases:
            with contextlib.suppress(Exception):
                await _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.postgres_databases.clear()


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()

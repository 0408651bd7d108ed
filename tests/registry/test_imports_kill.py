"""kill -9 of the registry in the middle of an import: the restarted process takes the job over
within seconds of its lease, and every row goes in exactly once (organisations, events)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import func, select

from libs.common.db import Database
from services.registry.store.import_tables import import_jobs
from services.registry.store.tables import organizations
from tests.factories import announced
from tests.harness import NatsServer, ServiceDatabases, free_port, token, wait_for
from tests.registry.imports_data import MARKET_HEADER, csv_bytes, market_row

ROOT = Path(__file__).resolve().parents[2]
ROWS = 12_000
LEASE_SECONDS = 3.0


@contextmanager
def registry_process(database_url: str, nats_url: str, log: Path) -> Iterator[tuple[str, int]]:
    """`python -m services.registry` on its own port: (base URL, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NATS_URL": nats_url,
        "PB_REGISTRY_DATABASE_URL": database_url,
        "PB_REGISTRY_PORT": str(port),
        "PB_REGISTRY_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
        "PB_REGISTRY_IMPORT_HEARTBEAT_SECONDS": "1",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.registry"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the registry did not come up: {log.read_text()[-2000:]}")
        yield url, process.pid
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


async def scalar(db: Database, statement: object) -> int:
    async with db.read() as session:
        return int((await session.execute(statement)).scalar_one())  # type: ignore[call-overload]


async def test_a_killed_registrys_import_is_taken_over_within_seconds_once_each(
    private_nats: NatsServer, service_databases: ServiceDatabases, tmp_path: Path
) -> None:
    url = await service_databases.url("registry")
    db = Database(url, source="/pb/registry")
    headers = {"Authorization": f"Bearer {token('140212')}"}
    data = csv_bytes(MARKET_HEADER, [market_row(n) for n in range(ROWS)])
    done = select(import_jobs.c.rows_done)
    try:
        with registry_process(url, private_nats.url, tmp_path / "first.log") as (base, pid):
            async with httpx.AsyncClient(base_url=base, timeout=120) as client:
                response = await client.post(
                    "/v1/imports",
                    data={"source": "market_supervision"},
                    files={"file": ("a.csv", data, "text/csv")},
                    headers=headers,
                )
            assert response.status_code == 202, response.text

            async def started() -> bool:
                return await scalar(db, done) >= 2000

            await wait_for(started, timeout=60, interval=0.02)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            at_kill = await scalar(db, done)
        assert at_kill < ROWS, "the import finished before the kill: make it longer"

        with registry_process(url, private_nats.url, tmp_path / "second.log"):
            up = time.monotonic() - killed

            async def resumed() -> bool:
                return await scalar(db, done) > at_kill

            await wait_for(resumed, timeout=60, interval=0.05)
            recovery = time.monotonic() - killed

            async def finished() -> bool:
                async with db.read() as session:
                    status = (await session.execute(select(import_jobs.c.status))).scalar_one()
                return bool(status == "done")

            await wait_for(finished, timeout=120, interval=0.2)
        # The new process takes the job once it is up and the dead one's lease has run out (its
        # worker polls every 2 s); how long a restart takes is the machine's, not the lease's.
        assert recovery < max(up, LEASE_SECONDS) + 2 + 3, (recovery, up)
        assert await scalar(db, select(func.count()).select_from(organizations)) == ROWS
        files = [f["organization_id"] for f in await announced(db, "registered")]
        assert len(files) == len(set(files)) == ROWS  # nothing lost or doubled
        print(f"rows done at kill {at_kill}; up again {up:.1f} s, resumed {recovery:.1f} s after")
    finally:
        await db.dispose()

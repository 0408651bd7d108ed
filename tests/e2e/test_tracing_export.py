"""With the trace collector unreachable, a service still serves and still stops promptly: an
export waits at most `PB_TRACING_EXPORT_TIMEOUT_SECONDS`, retries included, then drops the spans."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from tests.harness import NatsServer, free_port, token, wait_for

ROOT = Path(__file__).resolve().parents[2]
BOUND = 1.0


async def test_an_unreachable_collector_delays_shutdown_by_the_bound_at_most(
    private_nats: NatsServer, tmp_path: Path
) -> None:
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.registry",
        cwd=ROOT,
        env={
            **os.environ,
            "PB_REGISTRY_PORT": str(port),
            "PB_REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
            "NATS_URL": private_nats.url,
            "PB_TRACING_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{dead}",
            "PB_TRACING_EXPORT_TIMEOUT_SECONDS": str(BOUND),
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def up() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, timeout=30)
            headers = {"Authorization": f"Bearer {token('140212')}"}
            for _ in range(5):  # spans waiting for an export that cannot succeed
                listed = await client.get("/v1/organizations", headers=headers)
                assert listed.status_code == 200
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises the signal it caught (exit by SIGTERM).
        assert await asyncio.wait_for(process.wait(), timeout=30) in (0, -signal.SIGTERM)
        took = time.monotonic() - started
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert took < BOUND + 2.0, f"shutdown took {took:.1f} s with the collector down"

"""A closed-loop HTTP load: `concurrency` clients, each sending its next POST as soon as the last
is answered, until `requests` have been sent. Run as its own process (`python -m
tests.bench.http_load`, the job as JSON on stdin, the latencies as JSON on stdout) so that the
clients' CPU is not the served application's event loop's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

from tests.factories import organization


def body(kind: str, n: int) -> dict[str, Any]:
    """Request `n`'s body: a new organisation (its own credit code), or a bare row."""
    if kind == "organization":
        return organization(n)
    return {"code": f"thing-{n}", "name": f"大同市新荣区测试企业{n}有限公司"}


async def load(job: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(job["first"], job["first"] + job["requests"]))
    limits = httpx.Limits(max_connections=job["concurrency"])
    async with httpx.AsyncClient(
        base_url=job["url"], headers=job["headers"], timeout=60, limits=limits, trust_env=False
    ) as client:

        async def one_client() -> None:
            for n in counter:
                started = time.perf_counter()
                response = await client.post(job["path"], json=body(job["body"], n))
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(job["concurrency"])))
        wall = time.perf_counter() - started
    return {"wall": wall, "latencies": latencies, "statuses": statuses}


if __name__ == "__main__":
    result = asyncio.run(load(json.load(sys.stdin)))
    json.dump(result, sys.stdout)

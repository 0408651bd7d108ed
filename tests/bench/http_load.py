"""A closed-loop HTTP load: `concurrency` clients, each sending its next POST as soon as the last
is answered, until `requests` have been sent. Run as its own process (`python -m
tests.bench.http_load`, the job as JSON on stdin, the latencies as JSON on stdout) so that the
clients' CPU is not the served application's event loop's.

Each client is one keep-alive HTTP/1.1 connection written and read with asyncio streams: the
request's bytes are made before its clock starts, and reading an answer is its status line, its
headers and `content-length` bytes. httpx cost the load process about 1.5 ms of CPU a request,
on the same 2 cores as the server, and its own event loop's delay was counted in every latency.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from tests.factories import organization


def body(kind: str, n: int) -> dict[str, Any]:
    """Request `n`'s body: a new organisation (its own credit code), or a bare row."""
    if kind == "organization":
        return organization(n)
    return {"code": f"thing-{n}", "name": f"大同市新荣区测试企业{n}有限公司"}


def request(
    host: str, path: str, headers: dict[str, str], payload: dict[str, Any] | None = None
) -> bytes:
    """One request keeping the connection open: a POST of `payload` as JSON, or without one a
    GET of `path`."""
    method, content, described = "GET", b"", []
    if payload is not None:
        method, content = "POST", json.dumps(payload, ensure_ascii=False).encode()
        described = ["Content-Type: application/json", f"Content-Length: {len(content)}"]
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *described,
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


class KeepAlive:
    """One keep-alive HTTP/1.1 connection on asyncio streams for requests in turn, read as the
    load's clients read them: for a benchmark timing a server's answers from a process that
    shares its cores (httpx: about 0.7 ms of the client's CPU a GET, this some 25 µs)."""

    def __init__(self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.host = urlsplit(url).netloc
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> KeepAlive:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(url, reader, writer)

    async def send(self, data: bytes) -> int:
        """Send a request's bytes (`request`); its answer's status."""
        self._writer.write(data)
        return await asyncio.wait_for(answer(self._reader), 60)

    async def aclose(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


async def answer(reader: asyncio.StreamReader) -> int:
    """Read one answer whole; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "transfer-encoding":
            raise RuntimeError("a chunked answer: this client reads content-length only")
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(job: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(job["first"], job["first"] + job["requests"]))

    async def one_client() -> None:
        client = await KeepAlive.open(job["url"])
        try:
            for n in counter:
                data = request(client.host, job["path"], job["headers"], body(job["body"], n))
                started = time.perf_counter()
                status = await client.send(data)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await client.aclose()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(job["concurrency"])))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "latencies": latencies, "statuses": statuses}


if __name__ == "__main__":
    result = asyncio.run(load(json.load(sys.stdin)))
    json.dump(result, sys.stdout)

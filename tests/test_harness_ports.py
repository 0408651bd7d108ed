"""The harness's ports: each pytest-xdist worker takes free ports from its own share, so two
workers are never given the same port before either binds it; a served service listens on a
socket the harness bound, whose connections go without Nagle's algorithm as uvicorn's own do."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.harness import FREE_PORTS_FROM, ephemeral_ports_start, free_port, listening_socket


@pytest.mark.parametrize(("worker", "count"), [("gw0", "3"), ("gw1", "3"), ("gw2", "3")])
def test_a_worker_is_given_ports_of_its_own_share(
    monkeypatch: pytest.MonkeyPatch, worker: str, count: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", count)
    ports = [free_port() for _ in range(5)]
    assert {p % int(count) for p in ports} == {int(worker[2:])}
    # below the ephemeral ports, which outgoing connections and port 0 take
    assert all(FREE_PORTS_FROM <= p < ephemeral_ports_start() for p in ports)


def test_outside_xdist_any_free_port_will_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nothing holds it


async def test_connections_accepted_on_the_listening_socket_have_no_delay() -> None:
    accepted: asyncio.Future[socket.socket] = asyncio.get_running_loop().create_future()

    def keep(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.get_extra_info("socket"))

    listener = listening_socket()
    server = await asyncio.start_server(keep, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        connection = await asyncio.wait_for(accepted, 5)
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()

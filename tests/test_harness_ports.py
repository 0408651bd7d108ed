"""The harness's free ports: each pytest-xdist worker takes ports from its own share, so two
workers are never given the same port before either binds it."""

from __future__ import annotations

import socket

import pytest

from tests.harness import free_port


@pytest.mark.parametrize(("worker", "count"), [("gw0", "3"), ("gw1", "3"), ("gw2", "3")])
def test_a_worker_is_given_ports_of_its_own_share(
    monkeypatch: pytest.MonkeyPatch, worker: str, count: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", count)
    ports = [free_port() for _ in range(5)]
    assert {p % int(count) for p in ports} == {int(worker[2:])}


def test_outside_xdist_any_free_port_will_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nothing holds it

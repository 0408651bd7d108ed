"""The NATS connection of a service (a FastStream broker) and its JetStream streams.

Messages are published by the outbox relay and pulled by the inbox consumers through nats-py's
JetStream context, in batches FastStream's subscribers do not offer; their spans are the
project's own (`libs.common.outbox`, `libs.common.inbox`), so no FastStream telemetry middleware
is installed: it would see no message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from libs.common.logging import get_logger
from libs.common.settings import ServiceSettings
from libs.common.tasks import stop_task

log = get_logger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream as configuration declares it."""

    name: str
    subjects: tuple[str, ...]
    storage: str
    replicas: int
    max_age_seconds: float
    duplicate_window_seconds: float
    max_bytes: int = -1
    description: str = ""

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description or None,
            subjects=list(self.subjects),
            storage=StorageType.FILE if self.storage == "file" else StorageType.MEMORY,
            num_replicas=self.replicas,
            max_age=self.max_age_seconds,
            max_bytes=self.max_bytes,
            duplicate_window=self.duplicate_window_seconds,
        )


def service_streams(settings: ServiceSettings) -> list[StreamSpec]:
    """The streams a service owns: the events it produces and its dead letters."""
    name = settings.service_name
    common = {
        "storage": settings.stream_storage,
        "replicas": settings.stream_replicas,
        "duplicate_window_seconds": settings.duplicate_window_seconds,
    }
    return [
        StreamSpec(
            name=settings.stream_name,
            subjects=(f"pb.{name}.>",),
            max_age_seconds=settings.stream_max_age_days * DAY,
            max_bytes=settings.stream_max_bytes,
            description=f"Integration events published by the {name} service",
            **common,  # type: ignore[arg-type]
        ),
        StreamSpec(
            name=settings.dead_letter_stream_name,
            subjects=(f"pb.dlq.{name}.>",),
            max_age_seconds=max(settings.stream_max_age_days, 30.0) * DAY,
            max_bytes=settings.dead_letter_max_bytes,
            description=f"Messages the {name} service's consumers gave up on",
            **common,  # type: ignore[arg-type]
        ),
    ]


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring an existing one to the configured shape."""
    config = spec.config()
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream created", stream=spec.name)
        return
    try:
        await js.update_stream(config)
    except BadRequestError as exc:  # e.g. storage type cannot change in place
        log.warning("stream kept as it is", stream=spec.name, reason=exc.description)


_WHITESPACE = re.compile(r"\s")


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """A message's headers read as nats-py's `Client._parse_header_lines` reads them, quicker:
    nats-py tests every character of every header name with a generator (`any(c.isspace() for
    c in key)`), which cost a consumer more than all the rest of reading a message (about 15 µs
    of the coverage worker's CPU per event). The result is the same
    (`tests/common/test_nats_internals.py`)."""
    out: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _WHITESPACE.search(key) is None:
            out[key] = value.strip().decode("utf-8", "replace")
    return out


def quicken_header_parsing(client: Client) -> None:
    """Have `client` read headers with `parse_header_lines`: nats-py calls its (static)
    `_parse_header_lines` through the instance, so an attribute of the instance takes its place
    (a private API, guarded by `tests/common/test_nats_internals.py`)."""
    client._parse_header_lines = parse_header_lines  # type: ignore[method-assign]


def redact_url(url: str) -> str:
    """The URL(s) without passwords or tokens, fit for a log line."""
    return re.sub(r"//[^@/]*@", "//***@", url)


class BrokerLink:
    """The service's NATS connection, made in the background so the service starts (and keeps
    its outbox filling) while NATS is down; `ready` is set once connected and streams exist.

    Once connected it never gives up: a lost server is retried every second for ever (the
    outbox keeps what is published meanwhile, the consumers' pulls time out and go on), a dead
    peer is noticed by pings within `PING_SECONDS * MAX_OUTSTANDING_PINGS`, and after each
    reconnect the streams are declared again (a server that lost its store gets them back)."""

    PING_SECONDS = 10
    MAX_OUTSTANDING_PINGS = 3

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.broker = NatsBroker(
            servers=[s.strip() for s in settings.nats_url.split(",")],
            name=f"pb-{settings.service_name}",
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # unlimited
            reconnect_time_wait=1,
            ping_interval=self.PING_SECONDS,
            max_outstanding_pings=self.MAX_OUTSTANDING_PINGS,
            connect_timeout=2,
            drain_timeout=5,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            logger=logging.getLogger("faststream"),
        )
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._redeclare: asyncio.Task[None] | None = None

    async def _disconnected(self) -> None:
        if self.ready.is_set():
            log.warning("NATS connection lost, reconnecting")

    async def _reconnected(self) -> None:
        log.info("reconnected to NATS", url=redact_url(self.settings.nats_url))
        # Not awaited here: this runs inside the client's reconnect, before it is done.
        if self.ready.is_set() and (self._redeclare is None or self._redeclare.done()):
            self._redeclare = asyncio.create_task(self._declare_streams(), name="broker-streams")

    async def _declare_streams(self) -> None:
        try:
            for spec in service_streams(self.settings):
                await ensure_stream(self.js, spec)
        except Exception as exc:  # noqa: BLE001 - the next reconnect tries again
            log.warning("streams not declared after reconnect", error=type(exc).__name__)

    @property
    def client(self) -> Client:
        return self.broker.connection

    @property
    def js(self) -> JetStreamContext:
        stream: JetStreamContext = self.broker.config.connection_state.stream
        return stream

    @property
    def connected(self) -> bool:
        return self.ready.is_set() and self.client.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="broker-connect")

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.broker.start()
                quicken_header_parsing(self.client)
                for spec in service_streams(self.settings):
                    await ensure_stream(self.js, spec)
                break
            except Exception as exc:  # noqa: BLE001 - any failure here means "try again"
                # the reason too: a refusal (no storage left for a stream's byte limit, an
                # account without JetStream) looks the same as an unreachable server otherwise
                log.warning(
                    "NATS not reachable yet",
                    error=type(exc).__name__,
                    reason=redact_url(str(exc))[:300],
                    retry_in=delay,
                )
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.ready.set()
        log.info("connected to NATS", url=redact_url(self.settings.nats_url))

    async def stop(self) -> None:
        await stop_task(self._task)
        await stop_task(self._redeclare)
        self._task = self._redeclare = None
        self.ready.clear()  # before the close, which is no lost connection to report
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), timeout=10)

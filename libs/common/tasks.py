"""Background tasks of a service, and stopping them without hanging the shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from libs.common.logging import get_logger

log = get_logger(__name__)


async def stop_task(task: asyncio.Task[None] | None, *, timeout: float = 10.0) -> None:
    """Cancel a background loop and wait for it, but never longer than `timeout`: a library
    call that swallows the cancellation must not keep the process from stopping."""
    if task is None or task.done():
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.warning("background task did not stop in time", task=task.get_name())


class StopSignal:
    """Tells a background loop to finish its round and end, and lets it sleep interruptibly.

    Loops end on this signal rather than by cancellation alone: on Python 3.11
    `asyncio.wait_for` can swallow a cancellation that arrives as its inner wait completes,
    and nats-py's fetch does not always survive being cancelled.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def sleep(self, seconds: float, *, wake: asyncio.Event | None = None) -> None:
        """Wait `seconds`, or less when stopped or when `wake` is set."""
        waiters = {asyncio.ensure_future(self._event.wait())}
        if wake is not None:
            waiters.add(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


async def stop_loop(task: asyncio.Task[None] | None, signal: StopSignal, grace: float) -> None:
    """Signal a loop to end, give it `grace` seconds to finish its round, then cancel it."""
    signal.set()
    if task is not None and not task.done():
        await asyncio.wait({task}, timeout=grace)
    await stop_task(task)


class PeriodicJob:
    """Runs `work` every `interval` seconds until stopped: a failed round is logged and the next
    one comes as usual. A `Worker` (libs/common/service.py); what a round does (its transaction,
    its batches, what it logs) is the caller's, which can end a long round early on `stopping`."""

    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[], Awaitable[object]],
        *,
        grace: float = 10.0,
    ) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self.grace = grace
        self._stopping = StopSignal()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called: a round doing several batches ends after the current one."""
        return self._stopping.is_set

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the current round finish (up to `grace` seconds), then end the loop."""
        await stop_loop(self._task, self._stopping, grace=self.grace)
        self._task = None

    async def run_once(self) -> object:
        """One round now, failures raised (tests, or a caller that wants the result)."""
        return await self.work()

    async def _run(self) -> None:
        while not self._stopping.is_set:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job failed", job=self.name)
            await self._stopping.sleep(self.interval)

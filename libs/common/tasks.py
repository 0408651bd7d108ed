"""Background tasks of a service, and stopping them without hanging the shutdown."""

from __future__ import annotations

import asyncio

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

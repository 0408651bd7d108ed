"""The worker process's CPU priority: below the API's, so reads never queue behind the
projection catching up when both share the machine's cores."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from libs.common.logging import get_logger
from services.coverage.settings import CoverageSettings

if TYPE_CHECKING:
    from libs.common.service import Runtime, Worker

log = get_logger(__name__)


class LowerPriority:
    """Started with the worker role's loops: adds `nice` to the nice value of every thread the
    process has (on Linux a nice value belongs to a thread, and `os.nice` would lower the
    calling one only; threads started later, such as a store connection's, inherit it from
    the thread that starts them)."""

    def __init__(self, nice: int) -> None:
        self.nice = nice

    def start(self) -> None:
        if self.nice <= 0:
            return
        tasks = Path("/proc/self/task")
        lower_threads(self.nice, [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0])
        log.info("worker priority lowered", nice=os.getpriority(os.PRIO_PROCESS, 0))

    async def stop(self) -> None:
        return None


def lower_threads(nice: int, threads: Iterable[int]) -> None:
    """Adds `nice` to the nice value of each thread (native id; 0: the calling one), up to 19."""
    for thread in threads:
        try:
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + nice))
        except OSError:
            continue  # ended meanwhile, or not allowed: it keeps its priority


def lower_priority(settings: CoverageSettings) -> Callable[[Runtime], Worker]:
    """The worker role's lower CPU priority (`worker_nice`); a process that also serves the
    API (role `all`) keeps its own: its reads would be lowered with the projection."""
    return lambda runtime: LowerPriority(0 if runtime.serves_api else settings.worker_nice)

"""The worker role's lower CPU priority: every thread lowered, the API's never."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace
from typing import Any

from services.coverage.priority import LowerPriority, lower_priority, lower_threads
from services.coverage.settings import CoverageSettings


def test_a_thread_is_lowered_by_the_nice_given() -> None:
    started = threading.Event()
    done = threading.Event()
    native: list[int] = []

    def run() -> None:
        native.append(threading.get_native_id())
        started.set()
        done.wait(5)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        started.wait(5)
        before = os.getpriority(os.PRIO_PROCESS, native[0])
        lower_threads(3, native)
        assert os.getpriority(os.PRIO_PROCESS, native[0]) == min(19, before + 3)
        assert os.getpriority(os.PRIO_PROCESS, 0) == before  # this thread kept its own
    finally:
        done.set()
        thread.join()


def test_only_the_worker_role_is_lowered() -> None:
    settings = CoverageSettings(worker_nice=7)
    worker: Any = SimpleNamespace(serves_api=False)
    api: Any = SimpleNamespace(serves_api=True)  # role api or all: it serves the reads
    lowered = lower_priority(settings)(worker)
    kept = lower_priority(settings)(api)
    assert isinstance(lowered, LowerPriority)
    assert lowered.nice == 7
    assert isinstance(kept, LowerPriority)
    assert kept.nice == 0
    assert CoverageSettings().worker_nice == 10  # on by default
    kept.start()  # nothing to lower: this process keeps its priority

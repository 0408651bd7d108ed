"""The generic periodic job: rounds on an interval, failures survived, a prompt stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from libs.common.tasks import PeriodicJob


async def test_rounds_repeat_and_a_failed_round_does_not_end_the_loop() -> None:
    rounds: list[int] = []
    enough = asyncio.Event()

    async def work() -> int:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("one bad round")
        if len(rounds) >= 4:
            enough.set()
        return len(rounds)

    job = PeriodicJob("test-job", 0.01, work)
    job.start()
    await asyncio.wait_for(enough.wait(), timeout=5)
    await job.stop()
    assert job.stopping
    after_stop = len(rounds)
    await asyncio.sleep(0.05)
    assert after_stop >= 4
    assert len(rounds) == after_stop


async def test_stop_does_not_wait_out_the_interval() -> None:
    started = asyncio.Event()

    async def work() -> None:
        started.set()

    job = PeriodicJob("test-slow-job", 3600, work)
    job.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    begun = time.monotonic()
    await job.stop()
    assert time.monotonic() - begun < 2


async def test_a_round_on_demand_returns_its_result_and_raises_its_failure() -> None:
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ValueError("second call fails")
        return 7 * calls

    job = PeriodicJob("test-once", 60, work)
    assert await job.run_once() == 7
    with pytest.raises(ValueError, match="second call"):
        await job.run_once()

"""A round of a stations background job: batches repeated while full, stopped early on stop."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import pytest

from services.stations import workers


class FakeUnitOfWork:
    def __init__(self, db: Any) -> None:
        self.db = db

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


@pytest.fixture(autouse=True)
def fake_uow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "StationsUnitOfWork", FakeUnitOfWork)


def counting(batches: list[int]) -> tuple[workers.Job, list[int]]:
    done: list[int] = []

    async def job(uow: Any) -> int:
        done.append(batches[len(done)])
        return done[-1]

    return job, done


async def test_a_round_repeats_while_batches_are_full() -> None:
    job, done = counting([3, 3, 1, 3])
    periodic = workers.periodic_job("test-batches", 60, object(), job, batch=3)  # type: ignore[arg-type]
    assert await periodic.run_once() == 7
    assert done == [3, 3, 1]


async def test_without_a_batch_a_round_is_one_transaction() -> None:
    job, done = counting([3, 3])
    periodic = workers.periodic_job("test-once", 60, object(), job)  # type: ignore[arg-type]
    assert await periodic.run_once() == 3
    assert done == [3]


async def test_a_stopping_job_ends_its_round_after_the_current_batch() -> None:
    job, done = counting([3, 3, 3])
    periodic = workers.periodic_job("test-stop", 60, object(), job, batch=3)  # type: ignore[arg-type]
    await periodic.stop()
    assert await periodic.run_once() == 3
    assert done == [3]

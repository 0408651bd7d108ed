"""The projection rebuilt from the streams it reads: the steps that run in a transaction.

The command that reads the stream and drives these is `services/coverage/rebuild.py`. Progress
is stored with each batch, so an interrupted rebuild resumes where it stopped (every step of the
projection is idempotent); targets, snapshots and history are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.coverage.service.projection import Projector
from services.coverage.store.uow import CoverageUnitOfWork

#: What one run of a batch's events notes on the projector (`handlers.PROJECTED`'s appliers).
Noting = Callable[[Projector], None]


async def unfinished(uow: CoverageUnitOfWork, stream: str) -> tuple[int, int] | None:
    """Where an interrupted rebuild of `stream` resumes: (next sequence, last sequence); None
    when there is none to resume."""
    previous = await uow.rebuilds.progress(stream)
    if previous is None or previous.finished_at is not None:
        return None
    return previous.last_sequence + 1, previous.end_sequence


async def start_rebuild(uow: CoverageUnitOfWork, ends: dict[str, int]) -> None:
    """Empty the projection (organisation facts, branches, assignments, mass organisations,
    the routine's lapses, roll-ups) and remember that a rebuild of each stream up to its end
    sequence has started (all at once, so a resume finds every stream not yet replayed)."""
    await uow.projection.clear()
    for stream, end_sequence in ends.items():
        await uow.rebuilds.start(stream, end_sequence)


async def replay(
    uow: CoverageUnitOfWork,
    stream: str,
    runs: Iterable[Noting],
    last_sequence: int,
    *,
    finished: bool,
) -> None:
    """One batch: its runs of one event type noted and applied at once, then the progress. No
    rates announcement and no target evaluation while the projection refills."""
    projector = Projector(uow, live=False)
    for note in runs:
        note(projector)
    await projector.flush()
    await uow.rebuilds.advance(stream, last_sequence, finished=finished)


async def finish_rebuild(uow: CoverageUnitOfWork, stream: str, end_sequence: int) -> None:
    """Mark a rebuild with nothing left to replay as finished."""
    await uow.rebuilds.advance(stream, end_sequence, finished=True)

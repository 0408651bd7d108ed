"""The projection rebuilt from the streams it reads: the steps that run in a transaction.

The command that reads the stream and drives these is `services/coverage/rebuild.py`. Progress
is stored with each batch, so an interrupted rebuild resumes where it stopped (every step of the
projection is idempotent); targets, snapshots and history are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.coverage.domain.rollups import counts, industry_section, regions_of
from services.coverage.service.projection import Projector
from services.coverage.store.rollups import RollupTotals
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
    rates announcement, no target evaluation and no roll-ups while the projection refills (they
    are added up once at the end: `recount_rollups`)."""
    await uow.rebuilds.for_bulk_writes()
    projector = Projector(uow, live=False, rollups=False)
    for note in runs:
        note(projector)
    await projector.flush()
    await uow.rebuilds.advance(stream, last_sequence, finished=finished)


async def recount_rollups(uow: CoverageUnitOfWork) -> int:
    """The roll-ups computed afresh from the organisations' facts, in place of what they held;
    returns how many roll-up rows were written. The counting is the live path's
    (`domain.rollups.counts`, each region's ancestors, each industry's section), run once per
    distinct combination of what it reads; the database adds the results up per region level
    (`RollupTotals`), so no organisation passes through Python."""
    return await uow.repository(RollupTotals).recount(counts, regions_of, industry_section)


async def move_consumer(
    uow: CoverageUnitOfWork, consumer: str, stream: str, end_sequence: int
) -> None:
    """The live consumer of `stream` goes on after what the rebuild replayed (never back)."""
    await uow.rebuilds.advance_consumer(consumer, stream, end_sequence)


async def finish_rebuild(uow: CoverageUnitOfWork, stream: str, end_sequence: int) -> None:
    """Mark a rebuild with nothing left to replay as finished."""
    await uow.rebuilds.advance(stream, end_sequence, finished=True)

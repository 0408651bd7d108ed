"""`python -m services.coverage recount-employment`: the new-employment day rows made again from
the workers', stations' and requests' own rows.

The day rows move in the same transaction as those rows, so they never need this in a store
only this release (or a later one) has written. A release from before migration 0012 writes the
rows without the day rows: after rolling coverage back across 0012 and forward again, run this
once (the service may keep running: it takes the writers' lock, so the consumer's batches wait
for it, a few seconds for a province of a million items)."""

from __future__ import annotations

import argparse
import time

from libs.common.db import Database
from libs.common.logging import get_logger
from libs.common.service import Command
from services.coverage.settings import CoverageSettings
from services.coverage.store.uow import CoverageUnitOfWork

log = get_logger(__name__)


async def recount_employment(db: Database) -> int:
    """The day rows recounted in one transaction; how many there are now."""
    async with CoverageUnitOfWork(db) as uow:
        return await uow.new_employment.recount_days()


def recount_command(settings: CoverageSettings) -> Command:
    """`recount-employment` for the service's command line."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.description = __doc__
        parser.formatter_class = argparse.RawDescriptionHelpFormatter

    async def run(_: argparse.Namespace) -> None:
        db = Database(settings.resolved_database_url(), source=f"/pb/{settings.service_name}")
        try:
            started = time.perf_counter()
            rows = await recount_employment(db)
            seconds = time.perf_counter() - started
            log.info("new-employment day rows recounted", rows=rows, seconds=round(seconds, 2))
            print(f"{rows:,} day rows recounted in {seconds:.1f} s")
        finally:
            await db.dispose()

    return Command(
        "recount-employment",
        "make the new-employment day rows again from the workers, stations and requests (after "
        "a release from before migration 0012 wrote them)",
        arguments,
        run,
    )

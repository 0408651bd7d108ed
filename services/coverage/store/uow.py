"""The coverage service's unit of work: one transaction, and the repositories inside it."""

from __future__ import annotations

from libs.common.db import UnitOfWork
from services.coverage.store.gaps import GapRepository
from services.coverage.store.new_employment import NewEmploymentRepository
from services.coverage.store.projection import ProjectionRepository
from services.coverage.store.rebuilds import RebuildRepository
from services.coverage.store.rollups import RollupRepository
from services.coverage.store.targets import TargetRepository


class CoverageUnitOfWork(UnitOfWork):
    """`uow.projection`, `uow.rollups`, ...: each built once per transaction."""

    @property
    def projection(self) -> ProjectionRepository:
        return self.repository(ProjectionRepository)

    @property
    def rollups(self) -> RollupRepository:
        return self.repository(RollupRepository)

    @property
    def gaps(self) -> GapRepository:
        return self.repository(GapRepository)

    @property
    def targets(self) -> TargetRepository:
        return self.repository(TargetRepository)

    @property
    def rebuilds(self) -> RebuildRepository:
        return self.repository(RebuildRepository)

    @property
    def new_employment(self) -> NewEmploymentRepository:
        return self.repository(NewEmploymentRepository)

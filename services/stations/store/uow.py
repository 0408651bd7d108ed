"""The stations service's unit of work: one transaction, and the repositories that work in it."""

from __future__ import annotations

from libs.common.audit import AuditedUnitOfWork
from services.stations.store.operators import OperatorRepository
from services.stations.store.points import LedgerRepository, RewardRepository
from services.stations.store.requests import RequestRepository, TimerRepository
from services.stations.store.stations import StationRepository
from services.stations.store.tables import audit_log
from services.stations.store.visits import VisitRepository
from services.stations.store.volunteer_tasks import VolunteerTaskRepository
from services.stations.store.workers import WorkerRepository


class StationsUnitOfWork(AuditedUnitOfWork):
    """`uow.stations`, `uow.operators`, ...: each built once per transaction; `uow.audit` and
    `uow.record_and_audit` write the service's audit trail."""

    audit_log = audit_log

    @property
    def stations(self) -> StationRepository:
        return self.repository(StationRepository)

    @property
    def operators(self) -> OperatorRepository:
        return self.repository(OperatorRepository)

    @property
    def requests(self) -> RequestRepository:
        return self.repository(RequestRepository)

    @property
    def timers(self) -> TimerRepository:
        return self.repository(TimerRepository)

    @property
    def workers(self) -> WorkerRepository:
        return self.repository(WorkerRepository)

    @property
    def ledger(self) -> LedgerRepository:
        return self.repository(LedgerRepository)

    @property
    def rewards(self) -> RewardRepository:
        return self.repository(RewardRepository)

    @property
    def visits(self) -> VisitRepository:
        return self.repository(VisitRepository)

    @property
    def volunteer_tasks(self) -> VolunteerTaskRepository:
        return self.repository(VolunteerTaskRepository)

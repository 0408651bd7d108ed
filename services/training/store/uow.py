"""The training service's unit of work: one transaction, and the repositories inside it."""

from __future__ import annotations

from libs.common.audit import AuditedUnitOfWork
from services.training.store.candidates import CandidateRepository, DeadlineRepository
from services.training.store.committees import CommitteeRepository
from services.training.store.courses import (
    CourseRepository,
    DeliveryRepository,
    EnrolmentRepository,
    LearnerRepository,
    StudyRepository,
)
from services.training.store.routines import LapseRepository, MeetingRepository, RoutineRepository
from services.training.store.tables import audit_log


class TrainingUnitOfWork(AuditedUnitOfWork):
    """`uow.routines`, `uow.meetings`, `uow.lapses`, ...: each built once per transaction;
    `uow.record_and_audit` writes the training service's audit trail."""

    audit_log = audit_log

    @property
    def routines(self) -> RoutineRepository:
        return self.repository(RoutineRepository)

    @property
    def meetings(self) -> MeetingRepository:
        return self.repository(MeetingRepository)

    @property
    def lapses(self) -> LapseRepository:
        return self.repository(LapseRepository)

    @property
    def committees(self) -> CommitteeRepository:
        return self.repository(CommitteeRepository)

    @property
    def candidates(self) -> CandidateRepository:
        return self.repository(CandidateRepository)

    @property
    def deadlines(self) -> DeadlineRepository:
        return self.repository(DeadlineRepository)

    @property
    def courses(self) -> CourseRepository:
        return self.repository(CourseRepository)

    @property
    def learners(self) -> LearnerRepository:
        return self.repository(LearnerRepository)

    @property
    def enrolments(self) -> EnrolmentRepository:
        return self.repository(EnrolmentRepository)

    @property
    def study(self) -> StudyRepository:
        return self.repository(StudyRepository)

    @property
    def deliveries(self) -> DeliveryRepository:
        return self.repository(DeliveryRepository)

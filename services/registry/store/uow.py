"""The registry's unit of work: one transaction, and the repositories that work inside it."""

from __future__ import annotations

from libs.common.audit import AuditedUnitOfWork
from services.registry.domain.regions import RegionTree
from services.registry.store.branches import BranchRepository, CommitteeRepository
from services.registry.store.imports import ImportRepository
from services.registry.store.instructors import InstructorRepository
from services.registry.store.mass_organizations import MassOrganizationRepository
from services.registry.store.members import MemberRepository
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.provincial import ProvincialRepository
from services.registry.store.regions import AreaRepository, region_tree
from services.registry.store.tables import audit_log


class RegistryUnitOfWork(AuditedUnitOfWork):
    """`uow.organizations`, `uow.branches`, ...: each built once per transaction; `uow.audit`
    and `uow.record_and_audit` write the registry's audit trail; `uow.regions` is the division
    tree (read-only, from the committed codes)."""

    audit_log = audit_log

    @property
    def organizations(self) -> OrganizationRepository:
        return self.repository(OrganizationRepository)

    @property
    def committees(self) -> CommitteeRepository:
        return self.repository(CommitteeRepository)

    @property
    def branches(self) -> BranchRepository:
        return self.repository(BranchRepository)

    @property
    def instructors(self) -> InstructorRepository:
        return self.repository(InstructorRepository)

    @property
    def mass_organizations(self) -> MassOrganizationRepository:
        return self.repository(MassOrganizationRepository)

    @property
    def members(self) -> MemberRepository:
        return self.repository(MemberRepository)

    @property
    def provincial(self) -> ProvincialRepository:
        return self.repository(ProvincialRepository)

    @property
    def areas(self) -> AreaRepository:
        return self.repository(AreaRepository)

    @property
    def imports(self) -> ImportRepository:
        return self.repository(ImportRepository)

    @property
    def regions(self) -> RegionTree:
        return region_tree()

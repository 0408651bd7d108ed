"""In-memory stand-ins for the registry's unit of work and repositories, for use-case unit tests.

Each fake subclasses the real repository, so mypy holds it to the same method signatures; it
keeps its rows in dicts and hands out copies, as a store hands out fresh objects. A method a fake
does not keep in memory fails loudly (it has no session): test that one on the real store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import SimpleNamespace, TracebackType
from typing import Any, Self, TypeVar, cast

from libs.common.audit import Actor, AuditEntry, AuditTrail
from libs.common.db import Database, Repository
from libs.common.events import Envelope, IntegrationEvent
from libs.common.tables import utcnow
from services.registry.domain.branches import Branch, Committee
from services.registry.domain.instructors import Assignment
from services.registry.domain.ledger import with_derived_ledger
from services.registry.domain.members import Member
from services.registry.domain.organizations import Organization
from services.registry.domain.regions import Area, RegionTree
from services.registry.store.branches import BranchRepository, CommitteeRepository
from services.registry.store.instructors import InstructorRepository
from services.registry.store.members import MemberRepository
from services.registry.store.organizations import OrganizationRepository
from services.registry.store.regions import AreaRepository
from services.registry.store.uow import RegistryUnitOfWork
from tests.factories import TOWNSHIP, credit_code

R = TypeVar("R", bound=Repository)

#: A corner of the division tree: 山西省 > 大同市 > 新荣区 and two of its townships, 平城区.
DIVISIONS = (
    ("14", "山西省"),
    ("1402", "大同市"),
    ("140212", "新荣区"),
    ("140212101", "古店镇"),
    ("140212102", "花园屯镇"),
    ("140213", "平城区"),
)


class FakeOrganizations(OrganizationRepository):
    """The ledger, by id; the credit code is unique, as the store's index makes it."""

    def __init__(self) -> None:
        self.rows: dict[str, Organization] = {}

    async def get(self, organization_id: str, *, for_update: bool = False) -> Organization | None:
        found = self.rows.get(organization_id)
        return deepcopy(found) if found else None

    async def get_many(
        self, organization_ids: Iterable[str], *, for_update: bool = False
    ) -> dict[str, Organization]:
        return {i: deepcopy(self.rows[i]) for i in sorted(set(organization_ids)) if i in self.rows}

    async def id_by_credit_code(self, credit_code: str) -> str | None:
        return next((o.id for o in self.rows.values() if o.credit_code == credit_code), None)

    async def add_many(self, batch: Sequence[Organization]) -> None:
        for organization in batch:
            if not await self.add_if_new(organization):
                raise ValueError(f"unique index: credit code {organization.credit_code}")

    async def add_if_new(self, organization: Organization) -> bool:
        if await self.id_by_credit_code(organization.credit_code) is not None:
            return False
        self.rows[organization.id] = deepcopy(organization)
        return True

    async def save(self, organization: Organization, *, expected_version: int) -> bool:
        stored = self.rows.get(organization.id)
        if stored is None or stored.version != expected_version:
            return False
        self.rows[organization.id] = deepcopy(organization)
        return True

    def mark(
        self, organization_ids: Sequence[str], branch_id: str | None, kind: str | None
    ) -> None:
        """Which branch covers each organisation: the one ledger write the branch store owns."""
        for i in organization_ids:
            if i in self.rows:
                self.rows[i] = replace(self.rows[i], branch_id=branch_id, branch_kind=kind)


class FakeCommittees(CommitteeRepository):
    def __init__(self) -> None:
        self.rows: dict[str, Committee] = {}

    async def add(self, committee: Committee, now: datetime) -> None:
        self.rows[committee.id] = committee

    async def get(self, committee_id: str) -> Committee | None:
        return self.rows.get(committee_id)


@dataclass
class Coverage:
    """One row of `branch_organizations`: a branch covering an organisation, and until when."""

    unable_reason: str | None
    added_on: date
    removed_on: date | None = None
    ended_by: str | None = None


class FakeBranches(BranchRepository):
    """Branches and their coverage rows; covering an organisation marks it in the ledger."""

    def __init__(self, organizations: FakeOrganizations) -> None:
        self.organizations = organizations
        self.rows: dict[str, Branch] = {}
        self.coverage: dict[tuple[str, str], Coverage] = {}

    async def get(self, branch_id: str, *, for_update: bool = False) -> Branch | None:
        row = self.rows.get(branch_id)
        if row is None:
            return None
        ended_by = "dissolved" if row.status == "dissolved" else None
        covered = sorted(
            (organization_id, c.unable_reason)
            for (b, organization_id), c in self.coverage.items()
            if b == branch_id and c.ended_by == ended_by
        )
        return replace(
            deepcopy(row),
            organization_ids=[i for i, _ in covered],
            unable_reasons={i: reason for i, reason in covered if reason},
        )

    async def covering(self, organization_ids: Iterable[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = dict.fromkeys(sorted(set(organization_ids)))
        for (branch_id, organization_id), c in self.coverage.items():
            if organization_id in found and c.ended_by is None:
                found[organization_id] = branch_id
        return found

    async def add(self, branch: Branch, now: datetime) -> None:
        self.rows[branch.id] = replace(deepcopy(branch), organization_ids=[], unable_reasons={})
        await self.cover(branch, branch.organization_ids, branch.formed_on)

    async def save(self, branch: Branch, *, expected_version: int, now: datetime) -> bool:
        stored = self.rows.get(branch.id)
        if stored is None or stored.version != expected_version:
            return False
        self.rows[branch.id] = replace(deepcopy(branch), organization_ids=[], unable_reasons={})
        return True

    async def cover(self, branch: Branch, organization_ids: Sequence[str], on: date) -> None:
        for i in organization_ids:
            self.coverage[(branch.id, i)] = Coverage(branch.unable_reasons.get(i), on)
        self.organizations.mark(organization_ids, branch.id, branch.kind)

    async def uncover(
        self, branch_id: str, organization_ids: Sequence[str], on: date, *, ended_by: str
    ) -> None:
        for i in organization_ids:
            row = self.coverage.get((branch_id, i))
            if row is not None and row.ended_by is None:
                row.removed_on, row.ended_by = on, ended_by
        self.organizations.mark(organization_ids, None, None)


class FakeInstructors(InstructorRepository):
    """Instructors' assignments, by id (the instructors themselves are not kept)."""

    def __init__(self) -> None:
        self.assignment_rows: dict[str, Assignment] = {}

    async def add_assignment(self, assignment: Assignment, now: datetime) -> None:
        self.assignment_rows[assignment.id] = assignment

    async def assignment(self, assignment_id: str) -> Assignment | None:
        return self.assignment_rows.get(assignment_id)

    async def running_at(self, organization_id: str) -> list[Assignment]:
        return sorted(
            (
                a
                for a in self.assignment_rows.values()
                if a.organization_id == organization_id and a.ended_on is None
            ),
            key=lambda a: a.id,
        )

    async def end_assignments(self, batch: Sequence[Assignment]) -> None:
        for assignment in batch:
            self.assignment_rows[assignment.id] = assignment


class FakeMembers(MemberRepository):
    """Members at organisations, by id."""

    def __init__(self) -> None:
        self.rows: dict[str, Member] = {}

    async def get(self, member_id: str, *, for_update: bool = False) -> Member | None:
        return self.rows.get(member_id)

    async def transferred_at(self, organization_id: str) -> list[Member]:
        return sorted(
            (
                m
                for m in self.rows.values()
                if m.organization_id == organization_id and m.status == "transferred"
            ),
            key=lambda m: m.id,
        )

    async def move_out(self, batch: Sequence[Member]) -> None:
        for member in batch:
            self.rows[member.id] = member


class FakeAreas(AreaRepository):
    def __init__(self) -> None:
        self.rows: dict[str, Area] = {}

    async def add(self, area: Area) -> None:
        self.rows[area.id] = area

    async def get(self, area_id: str) -> Area | None:
        return self.rows.get(area_id)

    async def get_many(self, area_ids: Sequence[str]) -> dict[str, Area]:
        return {i: self.rows[i] for i in sorted(set(area_ids)) if i in self.rows}


class FakeAuditTrail(AuditTrail):
    """The trail as a list; the changes go through JSON, as the store keeps them."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record_many(
        self,
        actor: Actor,
        action: str,
        *,
        entity_type: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
    ) -> None:
        now = utcnow()
        for entity_id, region_code, changes in entries:
            stored = json.loads(json.dumps(changes, ensure_ascii=False, default=str))
            self.entries.append(
                AuditEntry(
                    len(self.entries) + 1,
                    now,
                    actor.subject,
                    actor.region_code,
                    action,
                    entity_type,
                    entity_id,
                    region_code,
                    stored,
                )
            )


class FakeUnitOfWork(RegistryUnitOfWork):
    """The registry's unit of work on the fakes: `events` holds what was recorded, in order,
    and `committed` tells whether the block ended without an error (nothing is rolled back)."""

    def __init__(self, *, readonly: bool = False, regions: RegionTree | None = None) -> None:
        source = SimpleNamespace(source="/pb/registry", dialect="memory")
        super().__init__(cast(Database, source), readonly=readonly)
        self.fake_organizations = FakeOrganizations()
        self.fake_committees = FakeCommittees()
        self.fake_branches = FakeBranches(self.fake_organizations)
        self.fake_areas = FakeAreas()
        self.fake_instructors = FakeInstructors()
        self.fake_members = FakeMembers()
        self.trail = FakeAuditTrail()
        self.tree = regions or RegionTree(DIVISIONS)
        self.events: list[IntegrationEvent] = []
        self.committed = False
        self._fakes: dict[type[Repository], Repository] = {
            OrganizationRepository: self.fake_organizations,
            CommitteeRepository: self.fake_committees,
            BranchRepository: self.fake_branches,
            AreaRepository: self.fake_areas,
            InstructorRepository: self.fake_instructors,
            MemberRepository: self.fake_members,
        }

    def repository(self, cls: type[R]) -> R:
        return cast(R, self._fakes[cls])

    @property
    def audit(self) -> FakeAuditTrail:
        return self.trail

    @property
    def regions(self) -> RegionTree:
        return self.tree

    def record(self, event: IntegrationEvent) -> Envelope:
        self._writable()
        self.events.append(event)
        return Envelope.wrap(event, source="/pb/registry")

    def record_many(self, events: Iterable[IntegrationEvent]) -> None:
        self._writable()
        self.events.extend(events)

    def record_serialized(
        self, event_type: type[IntegrationEvent], events: Iterable[tuple[str, bytes]]
    ) -> None:
        """As `record_many` of the models the data is the JSON of (read back, so a byte out of
        place fails here as it would fail a consumer)."""
        self.record_many(event_type.model_validate_json(data) for _, data in events)

    def types(self) -> list[str]:
        """The types of the recorded events, in order (`branch.formed`, ...)."""
        return [".".join(e.event_type.split(".")[2:]) for e in self.events]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.committed = exc_type is None and not self.readonly


def an_organization(n: int, *, full_members: int = 0, **values: Any) -> Organization:
    """An organisation as the ledger holds it (active, version 1, its 六清 as its data shows
    them) in 古店镇 by default."""
    now = utcnow()
    fields: dict[str, Any] = {
        "id": f"org-{n}",
        "credit_code": credit_code(n),
        "name": f"大同市新荣区测试企业{n}有限公司",
        "kind": "enterprise",
        "region_code": TOWNSHIP,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "industry_code": "I6513",
        "full_members": full_members,
    }
    return with_derived_ledger(Organization(**{**fields, **values}))


def seeded(*organizations: Organization, committee: Committee | None = None) -> FakeUnitOfWork:
    """A fake unit of work whose ledger holds `organizations` (and `committee`)."""
    uow = FakeUnitOfWork()
    for organization in organizations:
        uow.fake_organizations.rows[organization.id] = organization
    if committee is not None:
        uow.fake_committees.rows[committee.id] = committee
    return uow

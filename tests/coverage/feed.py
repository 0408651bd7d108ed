"""Registry events for coverage tests, made with the registry's own event classes and published
to a PB_REGISTRY stream as the registry's relay publishes them; and a ledger that counts what
the rates must be from the events sent, independently of the coverage service's code."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import nats
from nats.js import JetStreamContext

from libs.common.broker import ensure_stream, service_streams
from libs.common.events import Envelope, IntegrationEvent
from libs.common.settings import ServiceSettings
from services.registry.events import (
    BranchDissolvedV1,
    BranchFormedV1,
    BranchReorganizedV1,
    InstructorAssignedV1,
    InstructorUnassignedV1,
    MassOrganizationDissolvedV1,
    MassOrganizationEstablishedV1,
    OrganizationDeregisteredV1,
    OrganizationImportedV1,
    OrganizationReactivatedV1,
    OrganizationRegisteredV1,
    OrganizationUpdatedV1,
    RegisteredFile,
    UpdatedFile,
)
from tests.factories import credit_code

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def registered(n: int, region_code: str = "140212101001", **facts: Any) -> OrganizationRegisteredV1:
    values: dict[str, Any] = {
        "organization_id": f"org-{n}",
        "credit_code": credit_code(n),
        "name": f"测试企业{n}有限公司",
        "kind": "enterprise",
        "region_code": region_code,
        "industry_code": "I6513",
        "staff_count": 12,
        "registered_at": NOW,
    }
    values.update(facts)
    return OrganizationRegisteredV1(**values)


def imported(
    *files: OrganizationRegisteredV1 | OrganizationUpdatedV1,
    import_id: str = "1d1f5fa2-1bb2-4a43-9b8a-52f1b9a4d4f0",
) -> OrganizationImportedV1:
    """An import's event carrying these files (of one region), as the registry sends them."""
    return OrganizationImportedV1(
        import_id=import_id,
        region_code=files[0].region_code,
        registered=[
            RegisteredFile(**f.model_dump())
            for f in files
            if isinstance(f, OrganizationRegisteredV1)
        ],
        updated=[
            UpdatedFile(**f.model_dump()) for f in files if isinstance(f, OrganizationUpdatedV1)
        ],
    )


def updated(
    org: OrganizationRegisteredV1 | OrganizationUpdatedV1, **changes: Any
) -> OrganizationUpdatedV1:
    values = org.model_dump(exclude={"registered_at", "updated_at", "changed"})
    values.update(changes)
    values["version"] = org.version + 1
    return OrganizationUpdatedV1(**values, changed=sorted(changes), updated_at=NOW)


def deregistered(
    org: OrganizationRegisteredV1 | OrganizationUpdatedV1,
) -> OrganizationDeregisteredV1:
    return OrganizationDeregisteredV1(
        organization_id=org.organization_id,
        version=org.version + 1,
        region_code=org.region_code,
        reason="closed",
        deregistered_at=NOW,
    )


def reactivated(
    org: OrganizationRegisteredV1 | OrganizationUpdatedV1, version: int, **changes: Any
) -> OrganizationReactivatedV1:
    """The file opened again at `version` (after its deregistration)."""
    values = org.model_dump(exclude={"registered_at", "updated_at", "changed"})
    values.update(changes, version=version)
    return OrganizationReactivatedV1(**values, reason="reopened", reactivated_at=NOW)


def formed(
    branch_id: str,
    kind: str,
    *org_ids: str,
    region_code: str = "140212",
    formed_on: date = TODAY,
    ends_on: date | None = None,
) -> BranchFormedV1:
    return BranchFormedV1(
        branch_id=branch_id,
        kind=kind,
        name=f"{branch_id} 支部",
        region_code=region_code,
        organization_ids=list(org_ids),
        formed_on=formed_on,
        ends_on=ends_on,
    )


def reorganized(branch: BranchFormedV1 | BranchReorganizedV1, *org_ids: str) -> BranchReorganizedV1:
    before = set(branch.organization_ids)
    return BranchReorganizedV1(
        branch_id=branch.branch_id,
        version=branch.version + 1,
        kind=branch.kind,
        name=branch.name,
        region_code=branch.region_code,
        organization_ids=list(org_ids),
        added_organization_ids=sorted(set(org_ids) - before),
        removed_organization_ids=sorted(before - set(org_ids)),
        reorganized_on=TODAY,
    )


def dissolved(
    branch: BranchFormedV1 | BranchReorganizedV1, dissolved_on: date = TODAY
) -> BranchDissolvedV1:
    return BranchDissolvedV1(
        branch_id=branch.branch_id,
        version=branch.version + 1,
        kind=branch.kind,
        name=branch.name,
        region_code=branch.region_code,
        organization_ids=list(branch.organization_ids),
        reason="merged",
        dissolved_on=dissolved_on,
    )


def assigned(
    assignment_id: str, org_id: str, starts_on: date = TODAY, ends_on: date | None = None
) -> InstructorAssignedV1:
    return InstructorAssignedV1(
        assignment_id=assignment_id,
        instructor_id=f"ins-{assignment_id}",
        organization_id=org_id,
        region_code="140212",
        starts_on=starts_on,
        ends_on=ends_on,
    )


def unassigned(assignment_id: str, org_id: str, ended_on: date = TODAY) -> InstructorUnassignedV1:
    return InstructorUnassignedV1(
        assignment_id=assignment_id,
        instructor_id=f"ins-{assignment_id}",
        organization_id=org_id,
        region_code="140212",
        ended_on=ended_on,
    )


def union_set_up(
    mass_id: str, org_id: str, established_on: date = TODAY
) -> MassOrganizationEstablishedV1:
    return MassOrganizationEstablishedV1(
        mass_organization_id=mass_id,
        organization_id=org_id,
        region_code="140212",
        kind="union",
        established_on=established_on,
    )


def union_dissolved(
    mass_id: str, org_id: str, dissolved_on: date = TODAY
) -> MassOrganizationDissolvedV1:
    return MassOrganizationDissolvedV1(
        mass_organization_id=mass_id,
        organization_id=org_id,
        region_code="140212",
        kind="union",
        dissolved_on=dissolved_on,
    )


class ProducerStream:
    """A producer's stream (PB_REGISTRY by default; PB_TRAINING, PB_STATIONS, ...) on a test
    nats-server, and a publisher like that producer's relay."""

    def __init__(self, js: JetStreamContext, source: str = "/pb/registry") -> None:
        self.js = js
        self.source = source
        self.sent: list[Envelope] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def on(cls, nats_url: str, *services: str) -> AsyncIterator[ProducerStream]:
        """The streams of `services` (default: the registry's); events published through it
        carry the first one's source."""
        services = services or ("registry",)
        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            for service in services:
                for spec in service_streams(ServiceSettings(service_name=service)):
                    await ensure_stream(js, spec)
            yield cls(js, f"/pb/{services[0]}")
        finally:
            await client.close()

    async def publish(self, *events: IntegrationEvent) -> list[Envelope]:
        envelopes = [Envelope.wrap(e, source=self.source) for e in events]
        await self.publish_envelopes(envelopes)
        self.sent += envelopes
        return envelopes

    async def publish_envelopes(
        self, envelopes: Iterable[Envelope], *, msg_id_suffix: str = ""
    ) -> None:
        """Publish (again) as they are; a suffix on Nats-Msg-Id gets a copy past JetStream's
        own de-duplication, so the consumer sees the same event id twice."""
        for envelope in envelopes:
            headers = envelope.headers()
            headers["Nats-Msg-Id"] = envelope.id + msg_id_suffix
            await self.js.publish(envelope.type, envelope.data, headers=headers)


@dataclass
class Ledger:
    """What the registry's events say, applied in the registry's order, and the rates they mean.

    Written from DOMAIN.md's definitions, not from the service's code."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    branches: dict[str, tuple[int, str, set[str]]] = field(default_factory=dict)  # live only
    instructors: dict[str, str] = field(default_factory=dict)
    unions: dict[str, str] = field(default_factory=dict)

    def apply(self, *events: IntegrationEvent) -> None:
        for e in events:
            if isinstance(
                e, OrganizationRegisteredV1 | OrganizationUpdatedV1 | OrganizationReactivatedV1
            ):
                self.organizations[e.organization_id] = {**e.model_dump(), "managed": True}
            elif isinstance(e, OrganizationDeregisteredV1):
                self.organizations[e.organization_id]["managed"] = False
            elif isinstance(e, BranchDissolvedV1):
                self.branches.pop(e.branch_id, None)
            elif isinstance(e, BranchFormedV1 | BranchReorganizedV1):
                self.branches[e.branch_id] = (e.version, e.kind, set(e.organization_ids))
            elif isinstance(e, InstructorAssignedV1):
                self.instructors[e.assignment_id] = e.organization_id
            elif isinstance(e, InstructorUnassignedV1):
                self.instructors.pop(e.assignment_id, None)
            elif isinstance(e, MassOrganizationEstablishedV1):
                self.unions[e.mass_organization_id] = e.organization_id
            elif isinstance(e, MassOrganizationDissolvedV1):
                self.unions.pop(e.mass_organization_id, None)

    def rates(
        self,
        region: str,
        organization_scope: str = "with_members",
        work_scope: str = "all_managed",
        area: str | None = None,
    ) -> dict[str, tuple[int, int]]:
        """(covered, in_scope) of the organisation, standalone, work and temporary figures.

        DOMAIN.md: organisation coverage is an own or a joint branch; a temporary Party
        organisation is its own figure (and a Party organisation for work coverage); closed and
        revoked organisations are in no scope, suspended ones only in `all_registered`."""
        branches = self.branches.values()
        in_branch = {o for _, kind, orgs in branches if kind != "temporary" for o in orgs}
        in_temporary = {o for _, kind, orgs in branches if kind == "temporary" for o in orgs}
        own = {o for _, kind, orgs in branches if kind == "standalone" for o in orgs}
        reached = (
            in_branch | in_temporary | set(self.instructors.values()) | set(self.unions.values())
        )

        def in_scope(org: dict[str, Any], scope: str) -> bool:
            status = org.get("operating_status", "operating")
            if not org["managed"] or status in ("closed", "revoked"):
                return False
            if scope == "all_registered":
                return True
            if status == "suspended":
                return False
            if scope == "with_members":
                return bool(org["full_members"] + org["probationary_members"])
            if scope == "three_haves":
                state = org.get("three_haves_state")
                return state == "true" if state is not None else bool(org["three_haves"])
            return True

        here = [
            o
            for o in self.organizations.values()
            if o["region_code"].startswith(region) and (area is None or area in o["area_ids"])
        ]
        org_scope = [o["organization_id"] for o in here if in_scope(o, organization_scope)]
        work = [o["organization_id"] for o in here if in_scope(o, work_scope)]
        return {
            "organization": (sum(o in in_branch for o in org_scope), len(org_scope)),
            "standalone": (sum(o in own for o in org_scope), len(org_scope)),
            "work": (sum(o in reached for o in work), len(work)),
            "temporary": (
                sum(o in in_temporary and o not in in_branch for o in org_scope),
                len(org_scope),
            ),
        }

"""The events the registry service publishes. It owns their schemas (see docs/events/).

Organisation events carry the organisation's whole coverage-relevant state and its `version`, so a
consumer keeps the highest version it has seen and redelivery or reordering cannot move it back.
No event carries a person's name, ID number or phone: members, instructors and workers appear by
opaque id only, and an individual business's (个体工商户) name is masked (it is often a person's).
"""

from collections.abc import Mapping
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue, example

# The examples follow one logistics company in Pingcheng district, Datong (140212), through its
# township (140212101): ids are the UUIDs the registry gives, codes the forms its API lets in.
_ORGANIZATION_ID = "8fff274c-07a8-4ace-8b33-86619e8e6388"
_BRANCH_ID = "deaf7bd5-3554-4602-ad7d-a89f2b67dcd2"
_COMMITTEE_ID = "b14c7a26-1fdb-4c3f-8a68-24827cfef209"
_MEMBER_ID = "02f2029d-0852-4638-994a-8f56a8c59730"
_INSTRUCTOR_ID = "9da69b06-e456-445b-8867-2be2cc473506"
_ASSIGNMENT_ID = "c9bba699-63fb-4ff0-83d0-1dbbda7aab74"
_MASS_ORGANIZATION_ID = "5a9aba04-e92c-4a01-b4e3-e1d53785b5ed"
_AREA_ID = "103e7be5-cbd6-4e63-918f-ce522e681477"
_REGION = "140212101"
_ORGANIZATION = {
    "organization_id": _ORGANIZATION_ID,
    "version": 4,
    "credit_code": "91140212MA0L1B2C3G",
    "provisional": False,
    "name": "大同某某物流有限公司",
    "kind": "enterprise",
    "region_code": _REGION,
    "industry_code": "G54",
    "staff_count": 36,
    "area_ids": [_AREA_ID],
    "three_haves": True,
    "three_haves_state": "true",
    "operating_status": "operating",
    "full_members": 4,
    "probationary_members": 1,
    "ledger_complete": True,
    "no_branch_reason": None,
    "latitude": 40.0768,
    "longitude": 113.3001,
}
_BRANCH = {
    "branch_id": _BRANCH_ID,
    "version": 1,
    "kind": "standalone",
    "name": "中共大同某某物流有限公司支部委员会",
    "parent_id": _COMMITTEE_ID,
    "region_code": _REGION,
    "organization_ids": [_ORGANIZATION_ID],
    "status": "active",
    "rectification_reason": None,
    "rectify_by": None,
    "needs_reparenting": False,
}
_MEMBER = {
    "member_id": _MEMBER_ID,
    "organization_id": _ORGANIZATION_ID,
    "region_code": _REGION,
    "membership": "full",
}


OrganizationKind = Literal["enterprise", "social_organization"]
BranchKind = Literal["standalone", "joint", "temporary"]
CommitteeKind = Literal["industry", "township", "park", "two_new"]
MassOrganizationKind = Literal["union", "youth_league", "womens_federation"]
Membership = Literal["full", "probationary"]


class OrganizationState(IntegrationEvent):
    """The facts of one organisation every organisation event carries (its state after it)."""

    organization_id: str = Field(description="The registry's id of the organisation")
    version: int = Field(default=1, ge=1, description="Version of the organisation after this")
    credit_code: str = Field(
        description="Unified social credit code (GB 32100-2015); empty for a provisional file"
    )
    provisional: bool = Field(
        default=False,
        description="A file without a credit code yet (found by a survey): matched by name "
        "until a source gives its code, then `credit_code` is filled and this turns false",
    )
    name: str = Field(description="Registered name; an individual business's name is masked (张**)")
    kind: OrganizationKind
    region_code: str = Field(description="Statistical division code (2 to 12 digits)")
    industry_code: str | None = Field(default=None, description="GB/T 4754 industry code")
    staff_count: int | None = Field(default=None, ge=0)
    area_ids: list[str] = Field(
        default_factory=list, description="Parks and commercial districts the organisation is in"
    )
    three_haves: bool = Field(
        default=False, description="Premises, 10+ staff and stable operations (三有)"
    )
    three_haves_state: Literal["true", "false", "unknown"] | None = Field(
        default=None,
        description="三有 as the registry holds it, unknown included; `three_haves` reads unknown "
        "as false. Absent (null) only in events recorded before this field existed",
    )
    operating_status: Literal["operating", "suspended", "closed", "revoked"] = Field(
        default="operating",
        description="Operating status (经营状态): closed 注销 and revoked 吊销 leave every "
        "coverage scope; suspended leaves the default scopes",
    )
    full_members: int = Field(default=0, ge=0, description="Full Party members (正式党员) known")
    probationary_members: int = Field(default=0, ge=0, description="Probationary members known")
    ledger_complete: bool = Field(default=False, description="All six points clear (六清)")
    no_branch_reason: str | None = Field(
        default=None,
        description="Why no Party organisation (未建党组织原因) as the office recorded it, numbers "
        "typed into it masked; null when none is recorded",
    )
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class RegisteredFile(OrganizationState):
    """An organisation as it entered the ledger."""

    registered_at: datetime


class UpdatedFile(OrganizationState):
    """An organisation after a change to its file, and what changed."""

    changed: list[str] = Field(description="Names of the fields that changed")
    updated_at: datetime


@catalogue.register(
    "pb.registry.organization.registered",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class OrganizationRegisteredV1(RegisteredFile):
    """Emitted when an organisation enters the ledger (一企一档) of a region."""

    model_config = example({**_ORGANIZATION, "version": 1, "registered_at": "2026-11-02T01:30:00Z"})


@catalogue.register(
    "pb.registry.organization.updated",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class OrganizationUpdatedV1(UpdatedFile):
    """Emitted when an organisation's file changes: an edit, an import, or its member counts."""

    model_config = example(
        {
            **_ORGANIZATION,
            "changed": ["staff_count", "full_members"],
            "updated_at": "2026-11-20T06:12:45Z",
        }
    )


@catalogue.register(
    "pb.registry.organization.imported",
    version=1,
    producer="registry",
    subject_field="import_id",
)
class OrganizationImportedV1(IntegrationEvent):
    """Emitted as an import writes its files: the organisations of one region that a part of the
    import's file registered or changed, each exactly as `organization.registered` or
    `organization.updated` would carry it (an import announces its files in pieces of up to 8,
    not with one event per file; an edit through the API still sends one per file).

    Every organisation in it is in `region_code`; a region's files of one import come in as many
    pieces as the file's size needs, in the order they were written."""

    model_config = example(
        {
            "import_id": "1d1f5fa2-1bb2-4a43-9b8a-52f1b9a4d4f0",
            "region_code": _REGION,
            "registered": [
                {
                    **_ORGANIZATION,
                    "organization_id": "6eb7547b-0507-4a51-a3b7-c3dce9c0bc40",
                    "version": 1,
                    "credit_code": "91140212MA0L7X8Y9K",
                    "name": "大同某某配送有限公司",
                    "area_ids": [],
                    "full_members": 0,
                    "probationary_members": 0,
                    "ledger_complete": False,
                    "latitude": None,
                    "longitude": None,
                    "registered_at": "2026-11-25T02:00:00Z",
                }
            ],
            "updated": [
                {**_ORGANIZATION, "changed": ["staff_count"], "updated_at": "2026-11-25T02:00:00Z"}
            ],
        }
    )

    parts: ClassVar[Mapping[str, type[IntegrationEvent]]] = {
        "registered": OrganizationRegisteredV1,
        "updated": OrganizationUpdatedV1,
    }

    import_id: str = Field(description="The import job (`GET /v1/imports/{import_id}`)")
    region_code: str = Field(description="The region of every organisation in this event")
    registered: list[RegisteredFile] = Field(
        default_factory=list, description="Files the import added, as `organization.registered`"
    )
    updated: list[UpdatedFile] = Field(
        default_factory=list, description="Files the import changed, as `organization.updated`"
    )


@catalogue.register(
    "pb.registry.organization.deregistered",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class OrganizationDeregisteredV1(IntegrationEvent):
    """Emitted when an organisation leaves the ledger (closed, moved away, out of scope)."""

    model_config = example(
        {
            "organization_id": _ORGANIZATION_ID,
            "version": 5,
            "region_code": _REGION,
            "reason": "注销登记",
            "deregistered_at": "2026-12-01T02:00:00Z",
        }
    )

    organization_id: str
    version: int = Field(ge=1)
    region_code: str
    reason: str = Field(description="Why it left, as the office recorded it")
    deregistered_at: datetime


@catalogue.register(
    "pb.registry.organization.reactivated",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class OrganizationReactivatedV1(OrganizationState):
    """Emitted when a deregistered organisation's file is opened again (it is back in the
    ledger, uncovered: the branch and assignments it had ended with its deregistration)."""

    model_config = example(
        {
            **_ORGANIZATION,
            "version": 6,
            "reason": "恢复经营",
            "reactivated_at": "2027-01-05T03:00:00Z",
        }
    )

    reason: str | None = Field(default=None, description="Why, as the office recorded it")
    reactivated_at: datetime


@catalogue.register(
    "pb.registry.member.discovered",
    version=1,
    producer="registry",
    subject_field="member_id",
)
class MemberDiscoveredV1(IntegrationEvent):
    """Emitted when a staff list and the member roster match: a hidden member (隐形党员) found."""

    model_config = example(
        {**_MEMBER, "status": "discovered", "discovered_at": "2026-11-03T07:45:00Z"}
    )

    member_id: str = Field(description="Opaque id of the member-at-organisation record")
    organization_id: str
    region_code: str
    membership: Membership
    status: Literal["discovered"] = "discovered"
    discovered_at: datetime


@catalogue.register(
    "pb.registry.member.declared",
    version=1,
    producer="registry",
    subject_field="member_id",
)
class MemberDeclaredV1(IntegrationEvent):
    """Emitted when a discovered member declares themself at work (亮明身份)."""

    model_config = example({**_MEMBER, "status": "declared", "declared_at": "2026-11-10T02:20:00Z"})

    member_id: str
    organization_id: str
    region_code: str
    membership: Membership
    status: Literal["declared"] = "declared"
    declared_at: datetime


@catalogue.register(
    "pb.registry.member.transferred",
    version=1,
    producer="registry",
    subject_field="member_id",
)
class MemberTransferredV1(IntegrationEvent):
    """Emitted when a member's relationship is transferred to the organisation (组织关系转接)."""

    model_config = example(
        {**_MEMBER, "status": "transferred", "transferred_at": "2026-11-18T08:05:00Z"}
    )

    member_id: str
    organization_id: str
    region_code: str
    membership: Membership
    status: Literal["transferred"] = "transferred"
    transferred_at: datetime


@catalogue.register(
    "pb.registry.member.moved_out",
    version=1,
    producer="registry",
    subject_field="member_id",
)
class MemberMovedOutV1(IntegrationEvent):
    """Emitted for each transferred member of an organisation that left the ledger: their
    relationship no longer belongs to it, and it no longer counts them."""

    model_config = example(
        {**_MEMBER, "status": "moved_out", "reason": "注销登记", "moved_out_on": "2026-12-01"}
    )

    member_id: str
    organization_id: str
    region_code: str
    membership: Membership
    status: Literal["moved_out"] = "moved_out"
    reason: str = Field(description="Why: the organisation's deregistration reason")
    moved_out_on: date


@catalogue.register(
    "pb.registry.committee.formed",
    version=1,
    producer="registry",
    subject_field="committee_id",
)
class CommitteeFormedV1(IntegrationEvent):
    """Emitted when a parent committee (行业党委, 综合党委, 园区党委, 两新工委) is set up."""

    model_config = example(
        {
            "committee_id": _COMMITTEE_ID,
            "kind": "industry",
            "name": "平旺街道物流行业党委",
            "parent_id": None,
            "region_code": _REGION,
            "formed_on": "2026-03-01",
        }
    )

    committee_id: str
    kind: CommitteeKind
    name: str
    parent_id: str | None = None
    region_code: str
    formed_on: date


class BranchState(IntegrationEvent):
    """The facts of one Party branch every branch event carries (its state after it)."""

    branch_id: str
    version: int = Field(default=1, ge=1, description="Version of the branch after this")
    kind: BranchKind
    name: str
    parent_id: str | None = Field(default=None, description="The committee it is under")
    region_code: str
    organization_ids: list[str] = Field(description="Organisations the branch covers")
    status: Literal["active", "needs_rectification", "dissolved"] | None = Field(
        default=None,
        description="The branch's status after this; a branch needing rectification still "
        "covers its organisations. Absent (null) only in events recorded before this field",
    )
    rectification_reason: str | None = Field(
        default=None, description="Why a joint branch is below the rules (needs_rectification)"
    )
    rectify_by: date | None = Field(default=None, description="Deadline of the rectification")
    needs_reparenting: bool = Field(
        default=False,
        description="An organisation it covers moved township or out of its committee's region",
    )


@catalogue.register(
    "pb.registry.branch.formed",
    version=1,
    producer="registry",
    subject_field="branch_id",
)
class BranchFormedV1(BranchState):
    """Emitted when a standalone, joint or temporary branch is formed."""

    model_config = example({**_BRANCH, "formed_on": "2026-11-25", "ends_on": None})

    formed_on: date
    ends_on: date | None = Field(default=None, description="A temporary branch's end date")


@catalogue.register(
    "pb.registry.branch.reorganized",
    version=1,
    producer="registry",
    subject_field="branch_id",
)
class BranchReorganizedV1(BranchState):
    """Emitted when a branch gains or loses covered organisations."""

    model_config = example(
        {
            **_BRANCH,
            "version": 2,
            "kind": "joint",
            "organization_ids": [_ORGANIZATION_ID, "6eb7547b-0507-4a51-a3b7-c3dce9c0bc40"],
            "added_organization_ids": ["6eb7547b-0507-4a51-a3b7-c3dce9c0bc40"],
            "removed_organization_ids": [],
            "reorganized_on": "2027-02-10",
        }
    )

    added_organization_ids: list[str] = Field(default_factory=list)
    removed_organization_ids: list[str] = Field(default_factory=list)
    reorganized_on: date


@catalogue.register(
    "pb.registry.branch.dissolved",
    version=1,
    producer="registry",
    subject_field="branch_id",
)
class BranchDissolvedV1(BranchState):
    """Emitted when a branch is dissolved; `organization_ids` are those it covered until then."""

    model_config = example(
        {
            **_BRANCH,
            "version": 3,
            "status": "dissolved",
            "reason": "企业注销",
            "dissolved_on": "2027-06-30",
        }
    )

    reason: str
    dissolved_on: date


@catalogue.register(
    "pb.registry.branch.rectification_overdue",
    version=1,
    producer="registry",
    subject_field="branch_id",
)
class BranchRectificationOverdueV1(BranchState):
    """Emitted once per deadline when a branch needing rectification (a joint branch below the
    rules) is still not put right the day after its `rectify_by`: the office's to-do, sent to
    the committee above. The branch still covers its organisations until it is reorganised or
    dissolved."""

    model_config = example(
        {
            **_BRANCH,
            "version": 2,
            "kind": "joint",
            "status": "needs_rectification",
            "rectification_reason": "联合党支部覆盖的单位超过 5 个",
            "rectify_by": "2027-03-31",
            "overdue_since": "2027-04-01",
        }
    )

    overdue_since: date = Field(description="The first day past the deadline")


@catalogue.register(
    "pb.registry.branch.relocated",
    version=1,
    producer="registry",
    subject_field="branch_id",
)
class BranchRelocatedV1(BranchState):
    """Emitted when a branch's region or parent committee changes: an organisation it covers
    moved (its region follows; `needs_reparenting` flags a move to another township or out of
    the committee's region), or the office put it under a committee (the flag cleared)."""

    model_config = example(
        {
            **_BRANCH,
            "version": 2,
            "region_code": "140212102",
            "needs_reparenting": True,
            "moved_organization_ids": [_ORGANIZATION_ID],
            "relocated_on": "2027-01-15",
        }
    )

    moved_organization_ids: list[str] = Field(
        default_factory=list, description="Organisations whose move caused it (none: re-parented)"
    )
    relocated_on: date


@catalogue.register(
    "pb.registry.branch.eligible",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class BranchEligibleV1(IntegrationEvent):
    """Emitted when an organisation with no standalone branch reaches 3 full members (应建尽建)."""

    model_config = example(
        {
            "organization_id": _ORGANIZATION_ID,
            "region_code": _REGION,
            "full_members": 3,
            "eligible_on": "2026-11-18",
        }
    )

    organization_id: str
    region_code: str
    full_members: int = Field(ge=0)
    eligible_on: date


@catalogue.register(
    "pb.registry.instructor.registered",
    version=1,
    producer="registry",
    subject_field="instructor_id",
)
class InstructorRegisteredV1(IntegrationEvent):
    """Emitted when a Party-building instructor (党建指导员) is registered (no name: a person)."""

    model_config = example(
        {
            "instructor_id": _INSTRUCTOR_ID,
            "region_code": "140212",
            "registered_at": "2026-10-08T01:00:00Z",
        }
    )

    instructor_id: str
    region_code: str
    registered_at: datetime


@catalogue.register(
    "pb.registry.instructor.assigned",
    version=1,
    producer="registry",
    subject_field="assignment_id",
)
class InstructorAssignedV1(IntegrationEvent):
    """Emitted when an instructor is assigned to guide an organisation (包联)."""

    model_config = example(
        {
            "assignment_id": _ASSIGNMENT_ID,
            "instructor_id": _INSTRUCTOR_ID,
            "organization_id": _ORGANIZATION_ID,
            "region_code": _REGION,
            "starts_on": "2026-11-05",
            "ends_on": None,
        }
    )

    assignment_id: str
    instructor_id: str
    organization_id: str
    region_code: str
    starts_on: date
    ends_on: date | None = None


@catalogue.register(
    "pb.registry.instructor.unassigned",
    version=1,
    producer="registry",
    subject_field="assignment_id",
)
class InstructorUnassignedV1(IntegrationEvent):
    """Emitted when an instructor's assignment to an organisation ends."""

    model_config = example(
        {
            "assignment_id": _ASSIGNMENT_ID,
            "instructor_id": _INSTRUCTOR_ID,
            "organization_id": _ORGANIZATION_ID,
            "region_code": _REGION,
            "ended_on": "2027-11-04",
        }
    )

    assignment_id: str
    instructor_id: str
    organization_id: str
    region_code: str
    ended_on: date


@catalogue.register(
    "pb.registry.massorg.established",
    version=1,
    producer="registry",
    subject_field="mass_organization_id",
)
class MassOrganizationEstablishedV1(IntegrationEvent):
    """Emitted when a union, youth league or women's federation is set up in an organisation."""

    model_config = example(
        {
            "mass_organization_id": _MASS_ORGANIZATION_ID,
            "organization_id": _ORGANIZATION_ID,
            "region_code": _REGION,
            "kind": "union",
            "established_on": "2026-09-01",
        }
    )

    mass_organization_id: str
    organization_id: str
    region_code: str
    kind: MassOrganizationKind
    established_on: date


@catalogue.register(
    "pb.registry.massorg.dissolved",
    version=1,
    producer="registry",
    subject_field="mass_organization_id",
)
class MassOrganizationDissolvedV1(IntegrationEvent):
    """Emitted when a mass organisation in an organisation is dissolved."""

    model_config = example(
        {
            "mass_organization_id": _MASS_ORGANIZATION_ID,
            "organization_id": _ORGANIZATION_ID,
            "region_code": _REGION,
            "kind": "union",
            "dissolved_on": "2027-06-30",
        }
    )

    mass_organization_id: str
    organization_id: str
    region_code: str
    kind: MassOrganizationKind
    dissolved_on: date

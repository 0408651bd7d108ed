"""The events the registry service publishes. It owns their schemas (see docs/events/)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from libs.common.events import IntegrationEvent, catalogue

OrganizationKind = Literal["enterprise", "social_organization"]


@catalogue.register(
    "pb.registry.organization.registered",
    version=1,
    producer="registry",
    subject_field="organization_id",
)
class OrganizationRegisteredV1(IntegrationEvent):
    """Emitted when an organisation enters the ledger (一企一档) of a region."""

    organization_id: str = Field(description="The registry's id of the organisation")
    credit_code: str = Field(description="Unified social credit code (GB 32100-2015)")
    name: str = Field(description="Registered name of the organisation")
    kind: OrganizationKind
    region_code: str = Field(description="Statistical division code (2 to 12 digits)")
    industry_code: str | None = Field(default=None, description="GB/T 4754 industry code")
    staff_count: int | None = Field(default=None, ge=0)
    registered_at: datetime

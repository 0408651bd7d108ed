"""Settings of the coverage service (environment prefix `PB_COVERAGE_`)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.common.settings import ServiceSettings


class CoverageSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PB_COVERAGE_", extra="ignore", populate_by_name=True
    )

    service_name: str = "coverage"
    port: int = 8002

    branch_min_full_members: int = Field(
        default=3, ge=1, description="Full members an organisation needs for its own branch"
    )
    joint_branch_max_organizations: int = Field(
        default=5, ge=2, description="Most organisations one proposed joint branch covers"
    )

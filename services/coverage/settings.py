"""Settings of the coverage service (environment prefix `PB_COVERAGE_`)."""

from pydantic import Field

from libs.common.settings import ServiceSettings


class CoverageSettings(ServiceSettings):
    service_name: str = "coverage"
    port: int = 8002

    branch_min_full_members: int = Field(
        default=3, ge=1, description="Full members an organisation needs for its own branch"
    )
    joint_branch_max_organizations: int = Field(
        default=5, ge=2, description="Most organisations one proposed joint branch covers"
    )

    inbox_batch_size: int = Field(
        default=1000,
        ge=1,
        description="Registry events applied per transaction: a batch costs a fixed handful of "
        "statements (one per table it touches) however its event types interleave",
    )
    rates_changed_window_seconds: float = Field(
        default=5.0,
        gt=0,
        description="pb.coverage.rates.changed is sent at most once per region per window",
    )
    snapshot_check_seconds: float = Field(
        default=300.0, gt=0, description="How often the snapshot worker looks for a new day"
    )
    snapshot_utc_offset_hours: float = Field(
        default=8.0, ge=-12, le=14, description="The offices' time zone, for the snapshot's day"
    )
    rebuild_batch_size: int = Field(
        default=1000, ge=1, description="Events applied per transaction by `rebuild`"
    )

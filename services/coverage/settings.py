"""Settings of the coverage service (environment prefix `PB_COVERAGE_`)."""

from pydantic import Field

from libs.common.settings import OfficeCalendar, ServiceSettings


class CoverageSettings(OfficeCalendar, ServiceSettings):
    service_name: str = "coverage"
    port: int = 8002

    branch_min_full_members: int = Field(
        default=3, ge=1, description="Full members an organisation needs for its own branch"
    )
    joint_branch_max_organizations: int = Field(
        default=5, ge=2, description="Most organisations one proposed joint branch covers"
    )

    industry_joint_branches_across_county: bool = Field(
        default=False,
        description="Joint-branch proposals may group organisations a township cannot group "
        "into an industry-wide joint branch (行业联合党支部) across their county, one GB/T 4754 "
        "section each",
    )

    inbox_batch_size: int = Field(
        default=4000,
        ge=1,
        description="Registry events applied per transaction: a batch costs a fixed handful of "
        "statements (one per table it touches) however its event types interleave; 2,000 took "
        "the live projection from 0.47 to 0.57 of a raw consume on PostgreSQL, 4,000 from 0.56 "
        "to 0.67 (8,000: no less CPU an event; docs/coverage.md)",
    )
    rates_changed_window_seconds: float = Field(
        default=5.0,
        gt=0,
        description="pb.coverage.rates.changed is sent at most once per region per window",
    )
    snapshot_check_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the day worker looks for a new day (flips what starts or ends, "
        "then takes the day's snapshot)",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower than the API's the CPU priority of the worker role (`python "
        "-m services.coverage worker`: consumers, relay, background loops) is (a nice value "
        "added; 0: the same): on shared cores the API's reads go first and the projection "
        "catches up with what is left",
    )
    rebuild_batch_size: int = Field(
        default=10_000,
        ge=1,
        description="Events applied per transaction by `rebuild` (an import's event counted as "
        "the files it carries)",
    )

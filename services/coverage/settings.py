"""Settings of the coverage service (environment prefix `PB_COVERAGE_`)."""

from typing import Self

from pydantic import Field, model_validator

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
        default=0,
        ge=0,
        description="Registry events applied per transaction (0: by the store, 4,000 on SQLite, "
        "2,000 on PostgreSQL): a batch costs a fixed handful of statements (one per table it "
        "touches) however its event types interleave. 2,000 took the live projection from 0.47 "
        "to 0.57 of a raw consume on PostgreSQL; 4,000 took SQLite's worker CPU an event down "
        "by 15 %, but on PostgreSQL the server's longer bursts of work for the worker held up "
        "the API's reads (GET p99 16-28 ms against 10-15 ms on two shared cores; "
        "docs/coverage.md)",
    )

    @model_validator(mode="after")
    def _batch_by_store(self) -> Self:
        if self.inbox_batch_size == 0:
            postgresql = (self.database_url or "").startswith("postgresql")
            self.inbox_batch_size = 2000 if postgresql else 4000
        return self

    rates_changed_window_seconds: float = Field(
        default=5.0,
        gt=0,
        description="pb.coverage.rates.changed is sent at most once per region per window",
    )
    employment_check_seconds: float = Field(
        default=900.0,
        gt=0,
        description="How often the worker checks the new-employment day rows against the "
        "workers', stations' and requests' rows (one scan of them) and recounts them when they "
        "differ",
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

"""Tables of the coverage service's store: its own projection of what the registry announced."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
    true,
)

from libs.common.tables import UTCDateTime, consumer_positions
from services.coverage.domain.new_employment import DAY_MEASURES
from services.coverage.domain.rollups import COUNTERS

metadata = MetaData()

organization_facts = Table(
    "organization_facts",
    metadata,
    Column("organization_id", String(36), primary_key=True),
    Column("version", Integer(), nullable=False, server_default=text("0")),
    Column("credit_code", String(18), nullable=False, server_default=""),
    Column("name", String(200), nullable=False, server_default=""),
    Column("region_code", String(12), nullable=False),
    Column("township_code", String(9), nullable=False, server_default=""),
    Column("kind", String(32), nullable=False),
    Column("industry_code", String(8)),
    Column("staff_count", Integer()),
    Column("size_band", String(16), nullable=False, server_default="unknown"),
    Column("area_ids", Text(), nullable=False, server_default="[]"),
    Column("managed", Boolean(), nullable=False, server_default=true()),
    Column("three_haves", Boolean()),  # NULL: not known
    Column("operating_status", String(16), nullable=False, server_default="operating"),
    Column("no_branch_reason", Text()),
    Column("full_members", Integer(), nullable=False, server_default=text("0")),
    Column("probationary_members", Integer(), nullable=False, server_default=text("0")),
    Column("ledger_complete", Boolean(), nullable=False, server_default=false()),
    Column("latitude", Float()),
    Column("longitude", Float()),
    Column("branch_id", String(36)),
    Column("branch_kind", String(16)),
    Column("branch_formed_on", Date()),
    Column("branch_kept", Boolean(), nullable=False, server_default=true()),
    Column("instructor_count", Integer(), nullable=False, server_default=text("0")),
    Column("mass_organization_count", Integer(), nullable=False, server_default=text("0")),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("deregistered_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Per organisation, the coverage facts learnt from registry events.",
)
Index("ix_organization_facts_region_code", organization_facts.c.region_code)
Index("ix_organization_facts_township_code", organization_facts.c.township_code)

# --- What reaches an organisation from outside its file, kept even before the organisation is
# known, so that `organization_facts.branch_id/branch_kind/instructor_count/
# mass_organization_count` can always be recomputed from these tables.

branches = Table(
    "coverage_branches",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("version", Integer(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("formed_on", Date()),
    Column("ends_on", Date()),  # a temporary branch's last day
    Column("dissolved_on", Date()),  # the first day it no longer counts
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Each Party branch at its highest version seen; inactive once dissolved. It counts "
    "from formed_on, until ends_on (inclusive) and before dissolved_on.",
)

branch_organizations = Table(
    "coverage_branch_organizations",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("organization_id", String(64), primary_key=True),
    comment="Organisations a branch covers (a dissolved one: those it covered until then).",
)
Index("ix_coverage_branch_organizations_org", branch_organizations.c.organization_id)

instructor_assignments = Table(
    "coverage_instructor_assignments",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("instructor_id", String(64), nullable=False),
    Column("organization_id", String(64), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("starts_on", Date()),
    Column("ends_on", Date()),  # the planned last day
    Column("ended_on", Date()),  # unassigned: the first day it no longer counts
    comment="Instructor assignments (包联); an ended one stays, inactive, so a late copy of its "
    "start cannot revive it. It counts from starts_on, until ends_on and before ended_on.",
)
Index("ix_coverage_instructor_assignments_org", instructor_assignments.c.organization_id)

mass_organizations = Table(
    "coverage_mass_organizations",
    metadata,
    Column("mass_organization_id", String(64), primary_key=True),
    Column("organization_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("established_on", Date()),
    Column("dissolved_on", Date()),  # the first day it no longer counts
    comment="Unions, youth leagues, women's federations in organisations; dissolved ones stay, "
    "inactive. One counts from established_on and before dissolved_on.",
)
Index("ix_coverage_mass_organizations_org", mass_organizations.c.organization_id)


def _counter_columns() -> list[Column[int]]:
    return [Column(name, Integer(), nullable=False, server_default=text("0")) for name in COUNTERS]


rollups = Table(
    "coverage_rollups",
    metadata,
    Column("region_code", String(12), primary_key=True),
    Column("area_id", String(64), primary_key=True),  # "" for the whole region
    Column("kind", String(32), primary_key=True),
    Column("section", String(8), primary_key=True),
    Column("size_band", String(16), primary_key=True),
    *_counter_columns(),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Coverage counters per region (or park within it) x kind x industry x size band, "
    "maintained incrementally; rates are read from here only.",
)

snapshots = Table(
    "coverage_snapshots",
    metadata,
    Column("region_code", String(12), primary_key=True),
    Column("area_id", String(64), primary_key=True),
    Column("taken_on", Date(), primary_key=True),
    Column("taken_at", UTCDateTime(), nullable=False),
    *_counter_columns(),
    # true when the `effective` counters were kept (snapshots taken before migration 0006: NULL)
    Column("effective_measured", Boolean()),
    comment="The counters of each region on a day, as taken then: history is read from here.",
)

targets = Table(
    "coverage_targets",
    metadata,
    Column("region_code", String(12), primary_key=True),
    Column("metric", String(16), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("due_on", Date(), primary_key=True),
    Column("rate_bp", Integer(), nullable=False),
    Column("standing", String(16), nullable=False),
    Column("set_by", String(100), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("judged_on", Date()),  # when its passed due date was judged (overdue or met)
    comment="Target rates per region and due date (basis points) and where the region stands.",
)

calendar = Table(
    "coverage_calendar",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("day", Date(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="The day (Asia/Shanghai) the projection's dated facts are evaluated at; the day "
    "worker moves it on and flips what starts or ends in between.",
)

rate_changes = Table(
    "coverage_rate_changes",
    metadata,
    Column("region_code", String(12), primary_key=True),
    Column("area_id", String(64), primary_key=True),
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("traceparent", String(55)),  # the trace of the last change, continued by the event
    comment="Regions whose counters changed since the last pb.coverage.rates.changed.",
)

branch_activity = Table(
    "coverage_branch_activity",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("last_meeting_on", Date()),
    Column("meetings_last_quarter", Integer(), nullable=False, server_default=text("0")),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Effective coverage (有效覆盖): a branch's 三会一课 activity, filled from training's "
    "meeting events once they exist; empty until then.",
)

routine_lapses = Table(
    "coverage_routine_lapses",
    metadata,
    Column("branch_id", String(64), primary_key=True),
    Column("obligation", String(32), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("period_starts_on", Date(), nullable=False),
    Column("period_ends_on", Date(), nullable=False),
    Column("met", Boolean(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Effective coverage (有效覆盖): each period of a branch's routine that training "
    "judged lapsed; met once a routine.restored says the meeting was held inside it after all.",
)
Index(
    "ix_coverage_routine_lapses_period",
    routine_lapses.c.period_ends_on,
    routine_lapses.c.period_starts_on,
)

# --- The new employment groups (新就业群体), from the stations service's events.

workers = Table(
    "coverage_workers",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("registered_on", Date()),  # NULL: a check-in seen before the registration
    Column("checked_in_on", Date()),  # the first check-in with a community (社区报到)
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Workers of the new employment groups by opaque id and region (no name, no phone): "
    "registered on a day, checked in with a community from a day.",
)
# covering: a region's counts are read from the index alone
Index(
    "ix_coverage_workers_region",
    workers.c.region_code,
    workers.c.registered_on,
    workers.c.checked_in_on,
)

stations = Table(
    "coverage_stations",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("version", Integer(), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("opened_on", Date()),
    Column("closed_on", Date()),  # the first day it is no longer open
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Stations (驿站) at their highest version seen; one is open from opened_on and "
    "before closed_on.",
)
Index(
    "ix_coverage_stations_region",
    stations.c.region_code,
    stations.c.opened_on,
    stations.c.closed_on,
)

requests = Table(
    "coverage_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("version", Integer(), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("resolved_on", Date()),  # NULL: not resolved (or reopened since)
    Column("on_time", Boolean(), nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Requests (点单) at their latest resolution or reopening: resolved on a day, on "
    "time or not.",
)
Index(
    "ix_coverage_requests_region",
    requests.c.region_code,
    requests.c.resolved_on,
    requests.c.on_time,
)

employment_days = Table(
    "coverage_employment_days",
    metadata,
    Column("region_code", String(12), primary_key=True),  # a region at each level above an item
    Column("day", Date(), primary_key=True),
    *[Column(name, Integer(), nullable=False) for name in DAY_MEASURES],
    comment="How a region's new-employment counts move on a day (workers registered, checked "
    "in; stations open; requests resolved, on time): its counts on day D are the sums up to D. "
    "Kept from coverage_workers, coverage_stations and coverage_requests as they change.",
)

rebuilds = Table(
    "coverage_rebuilds",
    metadata,
    Column("stream", String(64), primary_key=True),
    Column("last_sequence", BigInteger(), nullable=False),
    Column("end_sequence", BigInteger(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    comment="Progress of the last rebuild from a stream, so an interrupted one can resume.",
)

# The registry and training consumers are deduplicated by stream sequence (see
# `ConsumerSpec.dedupe`): their positions live beside the projection they describe.
consumer_positions.to_metadata(metadata)

"""Tables of the stations service's store: stations, the operators learned from the registry,
and the audit trail."""

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from libs.common.audit import audit_table
from libs.common.tables import BigIntPK, UTCDateTime

metadata = MetaData()

stations = Table(
    "stations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("address", String(300)),
    Column("latitude", Float(), nullable=False),  # WGS-84
    Column("longitude", Float(), nullable=False),
    Column("cell", Integer(), nullable=False),  # domain/cells.py
    Column("facilities", JSON(), nullable=False),
    Column("open_24h", Boolean(), nullable=False),
    Column("hours", JSON(), nullable=False),
    Column("operator_kind", String(32), nullable=False),
    Column("operator_id", String(36)),
    Column("has_sign", Boolean(), nullable=False),
    Column("has_space", Boolean(), nullable=False),
    Column("has_equipment", Boolean(), nullable=False),
    Column("opened_on", Date(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_on", Date()),
    Column("close_reason", Text()),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="One row per station (驿站), located in WGS-84 and in its grid cell.",
)
# The nearest search reads whole cells of open stations: one B-tree range per cell.
Index("ix_stations_cell_status", stations.c.cell, stations.c.status)
Index("ix_stations_region_code_id", stations.c.region_code, stations.c.id)

operators = Table(
    "operators",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),  # organization | mass_organization
    Column("name", String(200)),
    Column("region_code", String(12), nullable=False),
    Column("organization_id", String(36)),  # a mass organisation's organisation
    Column("mass_kind", String(32)),  # union | youth_league | womens_federation
    Column("active", Boolean(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="Organisations and mass organisations learned from the registry's events.",
)

requests = Table(
    "requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("category", String(16), nullable=False),
    Column("requester_kind", String(16), nullable=False),
    Column("requester_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text()),
    Column("state", String(16), nullable=False),
    Column("station_id", String(36)),
    Column("latitude", Float()),
    Column("longitude", Float()),
    Column("photo_ref", String(300)),
    Column("unit", String(64)),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("dispatched_at", UTCDateTime()),
    Column("accepted_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    Column("rated_at", UTCDateTime()),
    Column("closed_at", UTCDateTime()),
    Column("accept_due_at", UTCDateTime()),
    Column("resolve_due_at", UTCDateTime()),
    Column("accept_on_time", Boolean()),
    Column("resolve_on_time", Boolean()),
    Column("score", Integer()),
    Column("comment", Text()),
    Column("returns", Integer(), nullable=False),
    Column("reopens", Integer(), nullable=False),
    Column("escalated", Boolean(), nullable=False),
    Column("version", Integer(), nullable=False),
    comment="Requests in the loop 点单→派单→接单→评单, in their current state.",
)
Index("ix_requests_region_code_id", requests.c.region_code, requests.c.id)
Index("ix_requests_unit_state", requests.c.unit, requests.c.state)

request_history = Table(
    "request_history",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("party", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("unit", String(64)),
    Column("note", Text()),
    comment="Every move of every request, in order.",
)
Index("ix_request_history_request_id", request_history.c.request_id, request_history.c.id)

sla_timers = Table(
    "sla_timers",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("stage", String(16), nullable=False),  # accept | resolve
    Column("kind", String(16), nullable=False),  # reminder | overdue | escalation
    Column("due_at", UTCDateTime(), nullable=False),
    Column("done", Boolean(), nullable=False),  # fired or cancelled
    Column("fired_at", UTCDateTime()),
    comment="Durable SLA timers: the worker fires those due, so they survive restarts.",
)
Index(
    "ix_sla_timers_pending",
    sla_timers.c.due_at,
    postgresql_where=sla_timers.c.done.is_(False),
    sqlite_where=sla_timers.c.done.is_(False),
)
Index("ix_sla_timers_request_id", sla_timers.c.request_id, sla_timers.c.stage)

workers = Table(
    "workers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("platform", String(200), nullable=False),
    Column("occupation", String(32), nullable=False),
    Column("name_hash", String(64), nullable=False),
    Column("name_masked", String(64), nullable=False),
    Column("phone_hash", String(64), nullable=False, unique=True),
    Column("phone_masked", String(16), nullable=False),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("community_code", String(12)),
    Column("area_name", String(200)),
    Column("roles", JSON(), nullable=False),
    Column("checked_in_on", Date()),
    Column("member_declared_on", Date()),
    Column("version", Integer(), nullable=False),
    comment="Workers of the new employment groups: name and phone only hashed and masked.",
)
Index("ix_workers_region_code_id", workers.c.region_code, workers.c.id)

check_ins = Table(
    "check_ins",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("worker_id", String(36), ForeignKey("workers.id"), nullable=False),
    Column("community_code", String(12), nullable=False),
    Column("area_name", String(200)),
    Column("roles", JSON(), nullable=False),
    Column("checked_in_on", Date(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    comment="Every community check-in (社区报到) of every worker, in order.",
)
Index("ix_check_ins_worker_id", check_ins.c.worker_id, check_ins.c.at)

point_transactions = Table(
    "point_transactions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # award | redemption
    Column("worker_id", String(36), ForeignKey("workers.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("reason", String(32)),
    Column("reward_id", String(36)),
    Column("request_id", String(36)),
    Column("volunteer_task_id", String(36)),
    comment="Each award or redemption of points: one transaction of the ledger.",
)
Index("ix_point_transactions_worker_id", point_transactions.c.worker_id, point_transactions.c.at)

point_entries = Table(
    "point_entries",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("transaction_id", String(36), ForeignKey("point_transactions.id"), nullable=False),
    Column("account", String(64), nullable=False),
    Column("amount", Integer(), nullable=False),
    comment="The two entries of each transaction (they sum to zero); balances are their sums.",
)
Index("ix_point_entries_account", point_entries.c.account)

rewards = Table(
    "rewards",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("cost", Integer(), nullable=False),
    Column("stock", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("stock >= 0", name="ck_rewards_stock_not_negative"),
    comment="The rewards catalogue: benefits bought with points, in limited stock.",
)
Index("ix_rewards_region_code_id", rewards.c.region_code, rewards.c.id)

visits = Table(
    "visits",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("station_id", String(36), ForeignKey("stations.id"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("worker_id", String(36)),
    Column("at", UTCDateTime(), nullable=False),
    Column("day", Date(), nullable=False),  # Asia/Shanghai
    Column("hour", Integer(), nullable=False),  # Asia/Shanghai, 0-23
    comment="Scanned check-ins at stations.",
)
Index("ix_visits_station_day", visits.c.station_id, visits.c.day)
Index("ix_visits_region_day", visits.c.region_code, visits.c.day)

visit_counts = Table(
    "visit_counts",
    metadata,
    Column("station_id", String(36), ForeignKey("stations.id"), primary_key=True),
    Column("day", Date(), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    comment="The visits a station counted itself on a day (walk-ins included).",
)
Index("ix_visit_counts_region_day", visit_counts.c.region_code, visit_counts.c.day)

worker_marks = Table(
    "worker_marks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("day", Date(), nullable=False),
    comment="How far each daily worker has got (the last day it has done).",
)

volunteer_tasks = Table(
    "volunteer_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text()),
    Column("station_id", String(36), ForeignKey("stations.id")),
    Column("community_code", String(12)),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("places", Integer(), nullable=False),
    Column("points", Integer(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("taken", Integer(), nullable=False),
    Column("posted_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    Column("cancelled_at", UTCDateTime()),
    Column("version", Integer(), nullable=False),
    CheckConstraint("taken >= 0 AND taken <= places", name="ck_volunteer_tasks_taken_in_places"),
    comment="Volunteer tasks (志愿服务) the offices post, with their places and points.",
)
Index("ix_volunteer_tasks_region_code_id", volunteer_tasks.c.region_code, volunteer_tasks.c.id)

volunteer_participants = Table(
    "volunteer_participants",
    metadata,
    Column("task_id", String(36), ForeignKey("volunteer_tasks.id"), primary_key=True),
    Column("worker_id", String(36), ForeignKey("workers.id"), primary_key=True),
    Column("status", String(16), nullable=False),  # signed_up | withdrawn | attended | absent
    Column("signed_up_at", UTCDateTime(), nullable=False),
    Column("withdrawn_at", UTCDateTime()),
    Column("attendance_at", UTCDateTime()),
    Column("score", Integer()),
    Column("comment", Text()),
    Column("rated_at", UTCDateTime()),
    Column("transaction_id", String(36)),
    comment="Each worker's sign-up for a volunteer task, attendance and rating.",
)
Index("ix_volunteer_participants_worker_id", volunteer_participants.c.worker_id)

audit_log = audit_table(metadata)

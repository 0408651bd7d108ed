"""SQL for the coverage projection: organisations' facts, what links to them, and the roll-ups.

Every method works on a whole batch: one SELECT for the rows it needs, one executemany to write.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.calendar import local_today
from libs.common.db import (
    Repository,
    bind_processed,
    copy_records,
    dialect_insert,
    one_of,
    one_of_hashed,
    upsert_many,
)
from libs.common.tables import utcnow
from libs.common.tracing import current_traceparent
from services.coverage.domain.facts import CoverageFacts, size_band
from services.coverage.domain.links import BranchLink, Links, covering_branch
from services.coverage.domain.rollups import COUNTERS, RollupKey
from services.coverage.domain.routine import last_full_quarter
from services.coverage.store import bulk_writes
from services.coverage.store.bulk_writes import rollup_sums
from services.coverage.store.tables import (
    branch_organizations,
    branches,
    calendar,
    instructor_assignments,
    mass_organizations,
    organization_facts,
    rate_changes,
    rollups,
    routine_lapses,
)

#: The tables a rebuild empties and fills again (targets, snapshots and history stay).
PROJECTION_TABLES: tuple[Table, ...] = (
    organization_facts,
    branches,
    branch_organizations,
    instructor_assignments,
    mass_organizations,
    rollups,
    rate_changes,
    routine_lapses,
)


# The hot path's upserts are built once and reused: building an upsert of 26 columns costs more
# than running it. Key lists go as ONE parameter (`one_of`): an IN list of a thousand
# parameters is rendered afresh for every statement.


def counts_on(day: date) -> dict[Table, ColumnElement[bool]]:
    """What counts on `day` (Asia/Shanghai): a branch from formed_on, until a temporary one's
    ends_on (inclusive) and before it is dissolved; an assignment from starts_on, until its
    planned ends_on and before it ended; a mass organisation from established_on and before it
    is dissolved. A missing start date (a row from before dates were kept) counts as started;
    an end recorded without a date (likewise) as ended."""
    on = bindparam("day", day, type_=branches.c.formed_on.type)
    return {
        branches: and_(
            or_(branches.c.formed_on.is_(None), branches.c.formed_on <= on),
            or_(branches.c.ends_on.is_(None), branches.c.ends_on >= on),
            or_(branches.c.active, branches.c.dissolved_on > on),
        ),
        instructor_assignments: and_(
            or_(
                instructor_assignments.c.starts_on.is_(None),
                instructor_assignments.c.starts_on <= on,
            ),
            or_(instructor_assignments.c.ends_on.is_(None), instructor_assignments.c.ends_on >= on),
            or_(instructor_assignments.c.active, instructor_assignments.c.ended_on > on),
        ),
        mass_organizations: and_(
            or_(
                mass_organizations.c.established_on.is_(None),
                mass_organizations.c.established_on <= on,
            ),
            or_(mass_organizations.c.active, mass_organizations.c.dissolved_on > on),
        ),
    }


#: The date columns where something starts or ends, per table.
_BOUNDARIES: dict[Table, tuple[str, ...]] = {
    branches: ("formed_on", "ends_on", "dissolved_on"),
    instructor_assignments: ("starts_on", "ends_on", "ended_on"),
    mass_organizations: ("established_on", "dissolved_on"),
}


def _links_query(session: AsyncSession, ids: list[str], day: date) -> Any:
    """Each organisation's branches that count on `day`, and how many instructors and mass
    organisations count then, as rows (what, organization_id, branch_id, kind, formed_on,
    count). The three tables are small beside the facts and often scanned: `one_of_hashed`."""
    counted = counts_on(day)
    return union_all(
        select(
            literal("branch").label("what"),
            branch_organizations.c.organization_id,
            branches.c.branch_id,
            branches.c.kind,
            branches.c.formed_on,
            literal(0).label("count"),
        )
        .join(branches, branches.c.branch_id == branch_organizations.c.branch_id)
        .where(
            one_of_hashed(session, branch_organizations.c.organization_id, ids),
            counted[branches],
        ),
        *[
            select(literal(what), table.c.organization_id, null(), null(), null(), func.count())
            .where(one_of_hashed(session, table.c.organization_id, ids), counted[table])
            .group_by(table.c.organization_id)
            for what, table in (
                ("instructors", instructor_assignments),
                ("mass", mass_organizations),
            )
        ],
    )


def _upsert(dialect: str, table: Table, set_: Callable[[Any], dict[str, Any]]) -> Any:
    insert_ = pg.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert_.on_conflict_do_update(
        index_elements=list(table.primary_key.columns), set_=set_(insert_.excluded)
    )


@cache
def _statement(dialect: str, name: str) -> Any:
    """The dialect's upserts of the hot path (ON CONFLICT is spelled per dialect)."""
    if name == "facts":
        return _upsert(
            dialect,
            organization_facts,
            lambda new: {
                c.name: new[c.name] for c in organization_facts.columns if not c.primary_key
            },
        )
    if name == "rollups":
        return _upsert(dialect, rollups, rollup_sums)
    if name == "rate_changes":
        return _upsert(
            dialect,
            rate_changes,
            lambda new: {
                "changed_at": new.changed_at,
                "traceparent": func.coalesce(new.traceparent, rate_changes.c.traceparent),
            },
        )
    raise KeyError(name)


#: The columns each hot-path upsert is handed, by its name in `_statement`.
_UPSERT_COLUMNS: dict[str, tuple[str, ...]] = {
    "facts": tuple(c.name for c in organization_facts.columns),
    "rollups": (*RollupKey._fields, *COUNTERS, "updated_at"),
}
_UPSERT_TABLES: dict[str, Table] = {"facts": organization_facts, "rollups": rollups}


_DriverUpsert = tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]
_driver_upserts: dict[tuple[str, str], _DriverUpsert] = {}


def _driver_upsert(dialect: Any, name: str) -> _DriverUpsert:
    """A hot-path upsert as the driver's SQL, its parameters' names in order, and the bind
    processor of each (None where it has none, as SQLAlchemy would apply them); built once per
    dialect."""
    found = _driver_upserts.get((dialect.name, name))
    if found is None:
        found = _driver_upserts[(dialect.name, name)] = _compile_upsert(dialect, name)
    return found


def _compile_upsert(dialect: Any, name: str) -> _DriverUpsert:
    table = _UPSERT_TABLES[name]
    compiled = _statement(dialect.name, name).compile(
        dialect=dialect, column_keys=list(_UPSERT_COLUMNS[name])
    )
    names = tuple(compiled.positiontup or ())
    if names != _UPSERT_COLUMNS[name]:
        raise RuntimeError(f"the {name} upsert takes {names}, not {_UPSERT_COLUMNS[name]}")
    processors = tuple(table.c[column].type._cached_bind_processor(dialect) for column in names)
    return str(compiled), names, processors


async def _write_many(
    session: AsyncSession, name: str, records: list[list[Any]], *, new: bool = False
) -> None:
    """Write `records` (as `_execute_many` takes them) with the hot-path upsert `name`; on
    PostgreSQL, roll-ups through their temporary table and rows known to be `new` with COPY
    (`bulk_writes`)."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or not (new or name == "rollups"):
        await _execute_many(session, name, records)
        return
    _, names, processors = _driver_upsert(connection.dialect, name)
    processed = bind_processed(records, processors)
    if name == "rollups":
        await bulk_writes.add_to_rollups(connection, names, processed)
    else:
        await copy_records(connection, _UPSERT_TABLES[name], names, processed)


async def _execute_many(session: AsyncSession, name: str, records: list[list[Any]]) -> None:
    """Run a hot-path upsert over `records`, each a row's values in `_UPSERT_COLUMNS[name]`
    order. They go to the driver's executemany as they are (both drivers take positional
    parameters, as `execute_many` in libs/common/db.py relies on), each value through its
    column's bind processor (`bind_processed`): SQLAlchemy's per-row parameter building cost more
    than SQLite's insert (a rebuild writes a whole province's facts; a live batch some thousand
    organisations and some 1,700 roll-up rows) and about 12 % of the live worker's CPU on
    PostgreSQL, and a dict per row for `driver_records` to take apart again cost about 13 us
    per event of a live batch on SQLite."""
    connection = await session.connection()
    sql, _, processors = _driver_upsert(connection.dialect, name)
    await connection.exec_driver_sql(sql, bind_processed(records, processors))


@dataclass(frozen=True)
class StoredOrganization:
    """One row of `organization_facts`: the facts, and the version they are at."""

    facts: CoverageFacts
    version: int
    registered_at: datetime
    deregistered_at: datetime | None = None


@dataclass(frozen=True)
class BranchRow:
    """A branch at one version, with the organisations it covers (none once dissolved)."""

    branch_id: str
    version: int
    kind: str
    region_code: str
    active: bool
    formed_on: date | None
    organization_ids: frozenset[str]
    ends_on: date | None = None
    dissolved_on: date | None = None


_NO_LINKS = Links()


def _date(value: Any) -> date | None:
    """A date read through a UNION, where SQLite hands back its text form."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _facts(row: Any) -> StoredOrganization:
    facts = CoverageFacts(
        organization_id=row.organization_id,
        region_code=row.region_code,
        kind=row.kind,
        industry_code=row.industry_code,
        staff_count=row.staff_count,
        area_ids=tuple(json.loads(row.area_ids or "[]")),
        managed=bool(row.managed),
        three_haves=None if row.three_haves is None else bool(row.three_haves),
        operating_status=row.operating_status,
        no_branch_reason=row.no_branch_reason,
        full_members=row.full_members,
        probationary_members=row.probationary_members,
        ledger_complete=bool(row.ledger_complete),
        branch_id=row.branch_id,
        branch_kind=row.branch_kind,
        instructor_count=row.instructor_count,
        mass_organization_count=row.mass_organization_count,
        name=row.name,
        credit_code=row.credit_code,
        latitude=row.latitude,
        longitude=row.longitude,
        branch_formed_on=row.branch_formed_on,
        branch_kept=bool(row.branch_kept),
    )
    return StoredOrganization(facts, row.version, row.registered_at, row.deregistered_at)


def _record(stored: StoredOrganization, now: datetime) -> list[Any]:
    """One row of `organization_facts`, its values in `_UPSERT_COLUMNS["facts"]` order."""
    f = stored.facts
    return [
        f.organization_id,
        stored.version,
        f.credit_code,
        f.name,
        f.region_code,
        f.region_code[:9] if len(f.region_code) >= 9 else "",  # township_code
        f.kind,
        f.industry_code,
        f.staff_count,
        size_band(f.staff_count),
        json.dumps(sorted(set(f.area_ids)), ensure_ascii=False) if f.area_ids else "[]",
        f.managed,
        f.three_haves,
        f.operating_status,
        f.no_branch_reason,
        f.full_members,
        f.probationary_members,
        f.ledger_complete,
        f.latitude,
        f.longitude,
        f.branch_id,
        f.branch_kind,
        f.branch_formed_on,
        f.branch_kept,
        f.instructor_count,
        f.mass_organization_count,
        stored.registered_at,
        stored.deregistered_at,
        now,  # updated_at
    ]


class ProjectionRepository(Repository):
    def _statement(self, name: str) -> Any:
        bind = self.session.bind
        return _statement(bind.dialect.name if bind is not None else "sqlite", name)

    # --- organisations -------------------------------------------------------------------

    async def organization(self, organization_id: str) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    select(organization_facts).where(
                        organization_facts.c.organization_id == organization_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def organizations(self, ids: Iterable[str]) -> dict[str, StoredOrganization]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(organization_facts).where(
                one_of(self.session, organization_facts.c.organization_id, wanted)
            )
        )
        return {row.organization_id: _facts(row) for row in rows}

    async def write_organizations(
        self, stored: Sequence[StoredOrganization], *, new: AbstractSet[str] = frozenset()
    ) -> None:
        """Write the organisations' facts; `new`: those with no row yet (the batch read them and
        found none), inserted rather than upserted."""
        if not stored:
            return
        now = utcnow()
        latest = {s.facts.organization_id: s for s in stored}
        inserted = [_record(s, now) for org_id, s in latest.items() if org_id in new]
        updated = [_record(s, now) for org_id, s in latest.items() if org_id not in new]
        if inserted:
            await _write_many(self.session, "facts", inserted, new=True)
        if updated:
            await _write_many(self.session, "facts", updated)

    async def links(self, ids: Iterable[str], day: date) -> dict[str, Links]:
        """Branch, instructors and mass organisations of each organisation that count on `day`,
        from the projection's own tables, in one query (organisations with none get an empty
        `Links`)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        found: defaultdict[str, list[BranchLink]] = defaultdict(list)
        counts: dict[tuple[str, str], int] = {}
        rows = await self.session.execute(_links_query(self.session, wanted, day))
        branch_rows = []
        for what, org_id, branch_id, kind, formed_on, count in rows:
            if what == "branch":
                branch_rows.append((org_id, branch_id, kind, _date(formed_on)))
            else:
                counts[(what, org_id)] = int(count)
        lapsed = await self.lapsed_branches({row[1] for row in branch_rows}, day)
        for org_id, branch_id, kind, formed_on in branch_rows:
            found[org_id].append(BranchLink(branch_id, kind, formed_on, branch_id not in lapsed))
        linked = found.keys() | {org_id for _, org_id in counts}
        return {
            org_id: Links(
                branch=covering_branch(found.get(org_id, ())),
                instructor_count=counts.get(("instructors", org_id), 0),
                mass_organization_count=counts.get(("mass", org_id), 0),
            )
            if org_id in linked
            else _NO_LINKS
            for org_id in wanted
        }

    # --- branches ------------------------------------------------------------------------

    async def branches(self, ids: Iterable[str]) -> dict[str, BranchRow]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        members: defaultdict[str, set[str]] = defaultdict(set)
        for branch_id, org_id in await self.session.execute(
            select(branch_organizations.c.branch_id, branch_organizations.c.organization_id).where(
                one_of_hashed(self.session, branch_organizations.c.branch_id, wanted)
            )
        ):
            members[branch_id].add(org_id)
        rows = await self.session.execute(
            select(branches).where(one_of_hashed(self.session, branches.c.branch_id, wanted))
        )
        return {
            r.branch_id: BranchRow(
                r.branch_id,
                r.version,
                r.kind,
                r.region_code,
                bool(r.active),
                r.formed_on,
                frozenset(members.get(r.branch_id, ())),
                ends_on=r.ends_on,
                dissolved_on=r.dissolved_on,
            )
            for r in rows
        }

    async def write_branches(self, rows: Sequence[BranchRow]) -> None:
        """Store the branches at their new versions and the organisations each now covers."""
        if not rows:
            return
        now = utcnow()
        await upsert_many(
            self.session,
            branches,
            [
                {
                    "branch_id": b.branch_id,
                    "version": b.version,
                    "kind": b.kind,
                    "region_code": b.region_code,
                    "active": b.active,
                    "formed_on": b.formed_on,
                    "ends_on": b.ends_on,
                    "dissolved_on": b.dissolved_on,
                    "updated_at": now,
                }
                for b in rows
            ],
            key="branch_id",
        )
        await self.session.execute(
            delete(branch_organizations).where(
                one_of_hashed(
                    self.session, branch_organizations.c.branch_id, [b.branch_id for b in rows]
                )
            )
        )
        members = [
            {"branch_id": b.branch_id, "organization_id": org_id}
            for b in rows
            for org_id in sorted(b.organization_ids)
        ]
        if members:
            await self.session.execute(insert(branch_organizations), members)

    # --- the branches' routine (effective coverage) --------------------------------------

    async def lapsed_branches(self, ids: Iterable[str], day: date) -> set[str]:
        """The branches among `ids` with a period of their routine inside the last full
        quarter before `day` that lapsed and was not met after all."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        first, last = last_full_quarter(day)
        query = (
            select(routine_lapses.c.branch_id)
            .where(
                one_of_hashed(self.session, routine_lapses.c.branch_id, wanted),
                routine_lapses.c.period_starts_on >= first,
                routine_lapses.c.period_ends_on <= last,
                routine_lapses.c.met == false(),
            )
            .distinct()
        )
        return set((await self.session.execute(query)).scalars())

    async def write_lapses(self, rows: list[dict[str, Any]]) -> None:
        """Record lapsed periods (branch_id, obligation, period, its dates, met). A period once
        met stays met, whatever order its events arrive in: `met` only ever turns true."""
        if not rows:
            return
        merged: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["branch_id"], row["obligation"], row["period"])
            met = row["met"] or (key in merged and merged[key]["met"])
            merged[key] = {**row, "met": met, "updated_at": utcnow()}
        statement = dialect_insert(self.session, routine_lapses)
        statement = statement.on_conflict_do_update(
            index_elements=list(routine_lapses.primary_key.columns),
            set_={
                "met": or_(routine_lapses.c.met, statement.excluded.met),
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self.session.execute(statement, [merged[key] for key in sorted(merged)])

    async def organizations_of_branches(self, ids: Iterable[str]) -> set[str]:
        """The organisations the branches name (as the projection holds them)."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        query = select(branch_organizations.c.organization_id).where(
            one_of_hashed(self.session, branch_organizations.c.branch_id, wanted)
        )
        return set((await self.session.execute(query)).scalars())

    async def organizations_with_lapses(self, first: date, last: date) -> set[str]:
        """Organisations named by a branch with an unmet lapsed period from `first` to `last`
        (the quarters a day's move takes out of and into the last full quarter)."""
        query = (
            select(branch_organizations.c.organization_id)
            .join(routine_lapses, routine_lapses.c.branch_id == branch_organizations.c.branch_id)
            .where(
                routine_lapses.c.period_starts_on >= first,
                routine_lapses.c.period_ends_on <= last,
                routine_lapses.c.met == false(),
            )
            .distinct()
        )
        return set((await self.session.execute(query)).scalars())

    # --- instructors and mass organisations ----------------------------------------------

    async def start_assignments(self, rows: list[dict[str, Any]]) -> None:
        await self._start_links(instructor_assignments, rows)

    async def end_assignments(self, rows: list[dict[str, Any]]) -> None:
        await self._end_links(instructor_assignments, rows)

    async def start_mass_organizations(self, rows: list[dict[str, Any]]) -> None:
        await self._start_links(mass_organizations, rows)

    async def end_mass_organizations(self, rows: list[dict[str, Any]]) -> None:
        await self._end_links(mass_organizations, rows)

    async def _start_links(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Record assignments or mass organisations as active with their dates; one already
        known keeps its state (an ended one stays ended whatever order its events arrive in)
        and takes the dates of its start."""
        await self._write_links(table, rows, active=True)

    async def _end_links(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Record assignments or mass organisations as ended, with the day they ended (kept, so
        a late start is ignored)."""
        await self._write_links(table, rows, active=False)

    async def _write_links(self, table: Table, rows: list[dict[str, Any]], *, active: bool) -> None:
        if not rows:
            return
        key = table.primary_key.columns.values()[0].name
        unique = list({r[key]: r for r in rows}.values())
        dated = sorted(set(unique[0]) - {key, "organization_id", "instructor_id", "kind"})
        statement = dialect_insert(self.session, table)
        updated = {name: statement.excluded[name] for name in dated}
        if not active:
            updated["active"] = statement.excluded.active
        statement = statement.on_conflict_do_update(index_elements=[table.c[key]], set_=updated)
        await self.session.execute(statement, [{**r, "active": active} for r in unique])

    # --- the calendar: the day dated facts are evaluated at ------------------------------

    async def projection_day(self, *, lock: bool = True, exclusive: bool = False) -> date:
        """The day the projection's dated facts are evaluated at (the offices' today until
        the day worker has stored one). In a writer, read with a shared lock on PostgreSQL, so
        the worker moving the day on waits for the batches evaluating at the old one;
        `exclusive` (a second consumer's batches) waits for them all and they for it."""
        query = select(calendar.c.day).where(calendar.c.name == "projection")
        if not lock:
            stored = (await self.session.execute(query)).scalar_one_or_none()
            return stored if stored is not None else local_today()
        query = query.with_for_update(read=not exclusive)
        stored = (await self.session.execute(query)).scalar_one_or_none()
        if stored is None:
            # No row yet, so nothing to lock: a day worker starting now would move the day on
            # without waiting for this batch, and recount before the batch's facts commit.
            # Storing the day first makes the two take turns on the row.
            await self.start_calendar(local_today())
            stored = (await self.session.execute(query)).scalar_one()
        day: date = stored
        return day

    async def stored_projection_day(self) -> date | None:
        return (
            await self.session.execute(
                select(calendar.c.day).where(calendar.c.name == "projection").with_for_update()
            )
        ).scalar_one_or_none()

    async def start_calendar(self, day: date) -> None:
        """Store `day` as the projection's day unless one is stored already."""
        statement = dialect_insert(self.session, calendar).on_conflict_do_nothing()
        await self.session.execute(
            statement, [{"name": "projection", "day": day, "updated_at": utcnow()}]
        )

    async def set_projection_day(self, day: date) -> None:
        await upsert_many(
            self.session,
            calendar,
            [{"name": "projection", "day": day, "updated_at": utcnow()}],
            key="name",
        )

    async def organizations_with_boundaries(self, first: date, last: date) -> set[str]:
        """Organisations a branch, an assignment or a mass organisation names that starts or
        ends on a day from `first` to `last` (inclusive)."""
        low = bindparam("first", first, type_=branches.c.formed_on.type)
        high = bindparam("last", last, type_=branches.c.formed_on.type)

        def between(table: Table) -> ColumnElement[bool]:
            return or_(*(table.c[name].between(low, high) for name in _BOUNDARIES[table]))

        query = union(
            select(branch_organizations.c.organization_id)
            .join(branches, branches.c.branch_id == branch_organizations.c.branch_id)
            .where(between(branches)),
            select(instructor_assignments.c.organization_id).where(between(instructor_assignments)),
            select(mass_organizations.c.organization_id).where(between(mass_organizations)),
        )
        return {org_id for (org_id,) in await self.session.execute(query)}

    # --- roll-ups --------------------------------------------------------------------------

    async def add_to_rollups(self, delta: dict[RollupKey, tuple[int, ...]]) -> None:
        """Add a batch's summed changes to the counters, in one statement."""
        if not delta:
            return
        now = utcnow()
        records = [[*key, *values, now] for key, values in delta.items()]
        await _write_many(self.session, "rollups", records)

    async def mark_changed(self, areas: Iterable[tuple[str, str]]) -> None:
        """Note regions whose figures changed, for the debounced pb.coverage.rates.changed
        (`changed_at` moves on, so a change made while the announcer reads is not lost)."""
        now = utcnow()
        cause, _ = current_traceparent()  # the consumed batch's span: the producers' trace
        rows = [
            {"region_code": r, "area_id": a, "changed_at": now, "traceparent": cause}
            for r, a in sorted(set(areas))
        ]
        if rows:
            await self.session.execute(self._statement("rate_changes"), rows)

    # --- rebuilds ---------------------------------------------------------------------------

    async def clear(self) -> None:
        """Empty the projection (before a rebuild from the stream)."""
        for table in PROJECTION_TABLES:
            await self.session.execute(delete(table))

    async def stored_rollups(self) -> dict[RollupKey, tuple[int, ...]]:
        """The stored roll-ups, non-zero rows only (to compare a projection with another)."""
        rows = await self.session.execute(select(rollups))
        result: dict[RollupKey, tuple[int, ...]] = {}
        for row in rows.mappings():
            values = tuple(int(row[name]) for name in COUNTERS)
            if any(values):
                key = RollupKey(
                    row["region_code"],
                    row["area_id"],
                    row["kind"],
                    row["section"],
                    row["size_band"],
                )
                result[key] = values
        return result

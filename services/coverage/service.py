"""Use cases of the coverage service: apply registry facts to the projection and its roll-ups,
read rates, take snapshots, set targets and announce crossings and changed rates.

They take the unit of work (or a read session) and never commit: the inbox, the request or the
worker that calls them owns the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db import UnitOfWork
from libs.common.tables import utcnow
from services.coverage.domain.facts import (
    DEFAULT_ORGANIZATION_SCOPE,
    DEFAULT_WORK_SCOPE,
    CoverageFacts,
    Scope,
)
from services.coverage.domain.links import with_links
from services.coverage.domain.rates import Counts, Coverage, announced, breakdown
from services.coverage.domain.rollups import RollupDelta
from services.coverage.domain.targets import Standing, Target, crossing, standing
from services.coverage.events import (
    RatesChangedV1,
    TargetMissedV1,
    TargetOverdueV1,
    TargetReachedV1,
)
from services.coverage.store.projection import BranchRow, ProjectionRepository, StoredOrganization
from services.coverage.store.rollups import Area, RollupRepository, Snapshot
from services.coverage.store.targets import TargetRepository

# --------------------------------------------------------------------------------------------
# What the projection learns from registry events (decoded by handlers.py)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationFiled:
    """An organisation's file at a version: registered or updated."""

    facts: CoverageFacts  # its own facts; branch, instructors and mass organisations come later
    version: int
    seen_at: datetime
    registered_at: datetime | None = None

    @property
    def organization_id(self) -> str:
        return self.facts.organization_id


@dataclass(frozen=True)
class OrganizationLeft:
    """An organisation deregistered at a version."""

    organization_id: str
    region_code: str
    version: int
    left_at: datetime


@dataclass(frozen=True)
class BranchChanged:
    """A branch at a version: formed, reorganised or dissolved."""

    branch_id: str
    version: int
    kind: str
    region_code: str
    organization_ids: frozenset[str]
    formed_on: date | None = None
    dissolved: bool = False


@dataclass(frozen=True)
class LinkChanged:
    """An instructor assignment or a mass organisation started or ended in an organisation."""

    link_id: str
    organization_id: str
    detail: str  # the instructor's id, or the mass organisation's kind


@dataclass
class _Noted:
    """What the events of a batch said, in stream order, until the batch is applied."""

    files: list[OrganizationFiled | OrganizationLeft] = field(default_factory=list)
    branches: list[BranchChanged] = field(default_factory=list)
    assignments_started: list[LinkChanged] = field(default_factory=list)
    assignments_ended: list[LinkChanged] = field(default_factory=list)
    mass_organizations_started: list[LinkChanged] = field(default_factory=list)
    mass_organizations_ended: list[LinkChanged] = field(default_factory=list)

    def links(self) -> Iterator[LinkChanged]:
        yield from self.assignments_started
        yield from self.assignments_ended
        yield from self.mass_organizations_started
        yield from self.mass_organizations_ended


class Projector:
    """Applies one batch of registry facts to the projection's tables, the organisations' facts
    and the roll-ups, in the caller's transaction.

    The handlers note what each event says, in stream order (`organizations_filed`,
    `branches_changed`, ...); `flush` then applies the whole batch with a fixed handful of
    statements however its event types interleave: it reads the branches and organisations the
    batch names once, folds the events over them in memory (a newer version wins, as one event at
    a time would), writes the branches and links, reads what now links to each organisation once,
    and writes the organisations, the roll-up delta (new minus stored, summed) and, for `live`
    projectors (the inbox), the changed regions for pb.coverage.rates.changed and the target
    crossings; a rebuild from the stream does neither while it refills.
    """

    def __init__(self, uow: UnitOfWork, *, live: bool = True) -> None:
        self.uow = uow
        self.live = live
        self.store = ProjectionRepository(uow.session)
        self._noted = _Noted()

    # --- what the batch's events say, in stream order ---------------------------------------

    def organizations_filed(self, filed: Iterable[OrganizationFiled]) -> None:
        self._noted.files.extend(filed)

    def organizations_left(self, left: Iterable[OrganizationLeft]) -> None:
        self._noted.files.extend(left)

    def branches_changed(self, changed: Iterable[BranchChanged]) -> None:
        self._noted.branches.extend(changed)

    def instructors_assigned(self, links: Iterable[LinkChanged]) -> None:
        self._noted.assignments_started.extend(links)

    def instructors_unassigned(self, links: Iterable[LinkChanged]) -> None:
        self._noted.assignments_ended.extend(links)

    def mass_organizations_established(self, links: Iterable[LinkChanged]) -> None:
        self._noted.mass_organizations_started.extend(links)

    def mass_organizations_dissolved(self, links: Iterable[LinkChanged]) -> None:
        self._noted.mass_organizations_ended.extend(links)

    # --- the batch applied at once ------------------------------------------------------------

    async def flush(self) -> None:
        """Apply everything noted since the last flush."""
        noted, self._noted = self._noted, _Noted()
        affected = await self._write_branches(noted.branches)
        affected |= await self._write_links(noted)
        files = noted.files
        stored = await self.store.organizations(affected | {f.organization_id for f in files})
        filed = _fold_files(stored, files)
        changes = []
        if filed or stored:
            current = {**stored, **filed}
            linked = await self.store.links(current)
            for org_id, now in current.items():
                facts = with_links(now.facts, linked[org_id])
                new = now if facts is now.facts else dataclasses.replace(now, facts=facts)
                old = stored.get(org_id)
                if old is None or new != old or _formed_on(new) != _formed_on(old):
                    changes.append((old, new))
        await self._save(changes)

    async def _write_branches(self, changed: list[BranchChanged]) -> set[str]:
        """Store each branch at its newest version; the organisations whose branch may change."""
        if not changed:
            return set()
        stored = await self.store.branches(b.branch_id for b in changed)
        newer = _fold_branches(stored, changed)
        await self.store.write_branches(list(newer.values()))
        # those the branches named before and those any event names (one in between, too)
        affected = {org_id for b in changed for org_id in b.organization_ids}
        for branch_id in newer.keys() & stored.keys():
            affected |= stored[branch_id].organization_ids
        return affected

    async def _write_links(self, noted: _Noted) -> set[str]:
        """Start and end instructor assignments and mass organisations: every start first, then
        every end, so an ended one stays ended whatever order its events came in."""
        store = self.store
        await store.start_assignments([_assignment(x) for x in noted.assignments_started])
        await store.end_assignments([_assignment(x) for x in noted.assignments_ended])
        await store.start_mass_organizations(
            [_mass_organization(x) for x in noted.mass_organizations_started]
        )
        await store.end_mass_organizations(
            [_mass_organization(x) for x in noted.mass_organizations_ended]
        )
        return {x.organization_id for x in noted.links()}

    async def _save(
        self, changes: Sequence[tuple[StoredOrganization | None, StoredOrganization]]
    ) -> None:
        if not changes:
            return
        delta = RollupDelta()
        for old, new in changes:
            delta.change(old.facts if old else None, new.facts)
        await self.store.write_organizations([new for _, new in changes])
        rows = delta.rows()
        await self.store.add_to_rollups(rows)
        if self.live and rows:
            areas = {(key.region_code, key.area_id) for key in rows}
            await self.store.mark_changed(a for a in areas if announced(a[0]))
            await evaluate_targets(self.uow, {region for region, area in areas if not area})


def _formed_on(stored: StoredOrganization) -> date | None:
    return stored.facts.branch_formed_on


def _fold_files(
    stored: dict[str, StoredOrganization], files: Sequence[OrganizationFiled | OrganizationLeft]
) -> dict[str, StoredOrganization]:
    """The organisations' own files after the batch's events, in stream order: an event applies
    only over an older version (so duplicates and late copies change nothing). Returns those
    that changed, without links (the caller adds them)."""
    current: dict[str, StoredOrganization | None] = dict(stored)
    changed: dict[str, StoredOrganization] = {}
    for event in files:
        org_id = event.organization_id
        old = current.get(org_id)
        if old is not None and event.version <= old.version:
            continue
        if isinstance(event, OrganizationFiled):
            registered_at = event.registered_at or (old.registered_at if old else event.seen_at)
            new = StoredOrganization(event.facts, event.version, registered_at)
        elif old is None:  # remembered, so the older registration arriving later is ignored
            facts = CoverageFacts(org_id, event.region_code, kind="", managed=False)
            new = StoredOrganization(facts, event.version, event.left_at, event.left_at)
        else:
            facts = dataclasses.replace(old.facts, managed=False)
            new = StoredOrganization(facts, event.version, old.registered_at, event.left_at)
        current[org_id] = changed[org_id] = new
    return changed


def _fold_branches(
    stored: dict[str, BranchRow], changed: Sequence[BranchChanged]
) -> dict[str, BranchRow]:
    """The branches at their newest versions after the batch's events, in stream order;
    returns those that changed."""
    current: dict[str, BranchRow] = dict(stored)
    newer: dict[str, BranchRow] = {}
    for b in changed:
        old = current.get(b.branch_id)
        if old is not None and b.version <= old.version:
            continue
        current[b.branch_id] = newer[b.branch_id] = BranchRow(
            b.branch_id,
            b.version,
            b.kind,
            b.region_code,
            not b.dissolved,
            b.formed_on or (old.formed_on if old else None),
            frozenset() if b.dissolved else b.organization_ids,
        )
    return newer


def _assignment(link: LinkChanged) -> dict[str, str]:
    return {
        "assignment_id": link.link_id,
        "organization_id": link.organization_id,
        "instructor_id": link.detail,
    }


def _mass_organization(link: LinkChanged) -> dict[str, str]:
    return {
        "mass_organization_id": link.link_id,
        "organization_id": link.organization_id,
        "kind": link.detail,
    }


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A region's rates as the API answers them."""

    region_code: str
    area_id: str
    as_of: datetime
    organization: Coverage
    standalone: Coverage
    work: Coverage
    breakdown: dict[str, dict[str, dict[str, dict[str, object]]]]


async def figures(
    session: AsyncSession,
    area: Area,
    organization_scope: Scope = DEFAULT_ORGANIZATION_SCOPE,
    work_scope: Scope = DEFAULT_WORK_SCOPE,
) -> Figures:
    """A region's figures, from its roll-up rows only (never from the organisations)."""
    rows, as_of = await RollupRepository(session).breakdown(area)
    total = Counts.total(row.counts.values for row in rows)
    return Figures(
        region_code=area[0],
        area_id=area[1],
        as_of=as_of or utcnow(),
        organization=total.coverage("organization", organization_scope),
        standalone=total.coverage("standalone", organization_scope),
        work=total.coverage("work", work_scope),
        breakdown=breakdown(rows, organization_scope, work_scope),
    )


async def history(session: AsyncSession, area: Area, start: date, end: date) -> list[Snapshot]:
    return await RollupRepository(session).history(area, start, end)


# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------


def local_today(utc_offset_hours: float, now: datetime | None = None) -> date:
    """The calendar day in the offices' time zone (China: UTC+8)."""
    return ((now or datetime.now(UTC)) + timedelta(hours=utc_offset_hours)).date()


async def take_snapshot(uow: UnitOfWork, taken_on: date) -> int:
    """Store every region's counters as the day's snapshot (replacing one taken earlier that
    day); a past day's snapshot is never touched, so history answers the same way every time."""
    return await RollupRepository(uow.session).take_snapshot(taken_on, utcnow())


async def take_daily_snapshot(uow: UnitOfWork, taken_on: date) -> int | None:
    """The day's snapshot, unless one was already taken; None when there was one."""
    store = RollupRepository(uow.session)
    if await store.has_snapshot(taken_on):
        return None
    return await store.take_snapshot(taken_on, utcnow())


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def target_id(target: Target) -> str:
    return f"{target.region_code}/{target.metric}/{target.scope}/{target.due_on.isoformat()}"


def target_figures(target: Target, current: Coverage) -> dict[str, Any]:
    """The fields every target event carries (`TargetFigures`)."""
    return {
        "target_id": target_id(target),
        "region_code": target.region_code,
        "metric": target.metric,
        "scope": target.scope,
        "target_rate": target.rate,
        "due_on": target.due_on,
        "covered": current.covered,
        "in_scope": current.in_scope,
        "rate": current.rate,
    }


async def put_target(uow: UnitOfWork, target: Target, set_by: str) -> tuple[Standing, Coverage]:
    """Set (or change) a target; where the region stands now is recorded without an event:
    events announce crossings that happen after."""
    counts = (await RollupRepository(uow.session).totals([(target.region_code, "")]))[
        (target.region_code, "")
    ]
    now = counts.coverage(target.metric, target.scope)
    now_standing = standing(target, now.covered, now.in_scope)
    await TargetRepository(uow.session).put(target, now_standing, set_by)
    return now_standing, now


async def targets_of(session: AsyncSession, region_code: str) -> list[tuple[Target, Standing]]:
    return await TargetRepository(session).in_regions([region_code])


_TARGET_REGIONS = "coverage.target_regions"


async def evaluate_targets(uow: UnitOfWork, regions: set[str]) -> None:
    """After a batch: record pb.coverage.target.reached / .missed for each target whose region
    crossed it, and remember where each now stands."""
    store = TargetRepository(uow.session)
    # The regions with targets are few and change rarely: read once per transaction, so a
    # batch's runs of events cost no query when none of their regions has a target.
    info = uow.session.info
    if _TARGET_REGIONS not in info:
        info[_TARGET_REGIONS] = await store.regions()
    regions = regions & info[_TARGET_REGIONS]
    if not regions:
        return
    found = await store.in_regions(regions)
    totals = await RollupRepository(uow.session).totals((t.region_code, "") for t, _ in found)
    changed: list[tuple[Target, Standing]] = []
    now = utcnow()
    for target, before in found:
        current = totals[(target.region_code, "")].coverage(target.metric, target.scope)
        after = standing(target, current.covered, current.in_scope)
        if after == before:
            continue
        changed.append((target, after))
        news = crossing(before, after)
        if news is not None:
            event = TargetReachedV1 if news == "reached" else TargetMissedV1
            uow.record(event(**target_figures(target, current), crossed_at=now))
    await store.set_standings(changed)


async def judge_due_targets(uow: UnitOfWork, today: date) -> int:
    """Once per target, after its due date: pb.coverage.target.overdue when the region is still
    below it (a target met by then needs no news: `reached` was said when it was). Returns how
    many targets were judged; setting a target again makes it due for judging again."""
    store = TargetRepository(uow.session)
    due = await store.due_unjudged(today)
    if not due:
        return 0
    totals = await RollupRepository(uow.session).totals((t.region_code, "") for t in due)
    for target in due:
        current = totals[(target.region_code, "")].coverage(target.metric, target.scope)
        if standing(target, current.covered, current.in_scope) == "below":
            uow.record(TargetOverdueV1(**target_figures(target, current), judged_on=today))
    await store.mark_judged(due, today)
    return len(due)


# --------------------------------------------------------------------------------------------
# pb.coverage.rates.changed, debounced
# --------------------------------------------------------------------------------------------


async def announce_changed_rates(uow: UnitOfWork, limit: int = 5_000) -> int:
    """One pb.coverage.rates.changed per region whose figures changed since the last round;
    the worker calls this once per window, so a region is announced at most once per window."""
    store = RollupRepository(uow.session)
    pending = await store.pending_changes(limit)
    if not pending:
        return 0
    totals = await store.totals(pending)
    now = utcnow()
    uow.record_many(_rates_changed(area, counts, now) for area, counts in totals.items())
    await store.forget_changes(pending)
    return len(pending)


def _rates_changed(area: Area, counts: Counts, now: datetime) -> RatesChangedV1:
    organization = counts.coverage("organization", DEFAULT_ORGANIZATION_SCOPE)
    standalone = counts.coverage("standalone", DEFAULT_ORGANIZATION_SCOPE)
    work = counts.coverage("work", DEFAULT_WORK_SCOPE)
    return RatesChangedV1(
        region_code=area[0],
        area_id=area[1],
        as_of=now,
        organization_scope=organization.scope,
        organization_covered=organization.covered,
        organization_in_scope=organization.in_scope,
        organization_rate=organization.rate,
        standalone_covered=standalone.covered,
        standalone_rate=standalone.rate,
        work_scope=work.scope,
        work_covered=work.covered,
        work_in_scope=work.in_scope,
        work_rate=work.rate,
    )

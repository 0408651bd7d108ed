"""Use cases of the coverage service: apply registry facts to the projection and its roll-ups,
read rates, take snapshots, set targets and announce crossings and changed rates.

They take the unit of work (or a read session) and never commit: the inbox, the request or the
worker that calls them owns the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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
from services.coverage.domain.rates import Counts, Coverage, breakdown
from services.coverage.domain.rollups import RollupDelta
from services.coverage.domain.targets import Standing, Target, crossing, standing
from services.coverage.events import RatesChangedV1, TargetMissedV1, TargetReachedV1
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


def _latest(items: Iterable[tuple[str, int, object]]) -> dict[str, int]:
    """Index of the highest version per id (the last one on a tie)."""
    best: dict[str, tuple[int, int]] = {}
    for index, (key, version, _) in enumerate(items):
        if key not in best or version >= best[key][0]:
            best[key] = (version, index)
    return {key: index for key, (_, index) in best.items()}


class Projector:
    """Applies one batch of registry facts: the projection's tables, the organisations' facts
    and the roll-ups, in the caller's transaction.

    `live` projectors (the inbox) also note changed regions for pb.coverage.rates.changed and
    record target crossings; a rebuild from the stream does neither while it refills.
    """

    def __init__(self, uow: UnitOfWork, *, live: bool = True) -> None:
        self.uow = uow
        self.live = live
        self.store = ProjectionRepository(uow.session)

    async def organizations_filed(self, filed: Sequence[OrganizationFiled]) -> None:
        latest = [
            filed[i]
            for i in _latest((f.facts.organization_id, f.version, f) for f in filed).values()
        ]
        stored = await self.store.organizations(f.facts.organization_id for f in latest)
        newer = [
            f
            for f in latest
            if (s := stored.get(f.facts.organization_id)) is None or f.version > s.version
        ]
        links = await self.store.links(f.facts.organization_id for f in newer)
        changes = []
        for f in newer:
            old = stored.get(f.facts.organization_id)
            registered_at = f.registered_at or (old.registered_at if old else f.seen_at)
            new = StoredOrganization(
                with_links(f.facts, links[f.facts.organization_id]), f.version, registered_at
            )
            changes.append((old, new))
        await self._save(changes)

    async def organizations_left(self, left: Sequence[OrganizationLeft]) -> None:
        latest = [
            left[i] for i in _latest((e.organization_id, e.version, e) for e in left).values()
        ]
        stored = await self.store.organizations(e.organization_id for e in latest)
        changes = []
        for e in latest:
            old = stored.get(e.organization_id)
            if old is not None and e.version <= old.version:
                continue
            if old is None:  # remembered, so the older registration arriving later is ignored
                facts = CoverageFacts(e.organization_id, e.region_code, kind="", managed=False)
                new = StoredOrganization(facts, e.version, e.left_at, e.left_at)
            else:
                facts = dataclasses.replace(old.facts, managed=False)
                new = StoredOrganization(facts, e.version, old.registered_at, e.left_at)
            changes.append((old, new))
        await self._save(changes)

    async def branches_changed(self, changed: Sequence[BranchChanged]) -> None:
        latest = [
            changed[i] for i in _latest((b.branch_id, b.version, b) for b in changed).values()
        ]
        stored = await self.store.branches(b.branch_id for b in latest)
        rows: list[BranchRow] = []
        affected: set[str] = set()
        for b in latest:
            old = stored.get(b.branch_id)
            if old is not None and b.version <= old.version:
                continue
            members = frozenset() if b.dissolved else b.organization_ids
            formed_on = b.formed_on or (old.formed_on if old else None)
            rows.append(
                BranchRow(
                    b.branch_id,
                    b.version,
                    b.kind,
                    b.region_code,
                    not b.dissolved,
                    formed_on,
                    members,
                )
            )
            affected |= members | (old.organization_ids if old else frozenset())
        await self.store.write_branches(rows)
        await self.refresh(affected)

    async def instructors_assigned(self, links: Sequence[LinkChanged]) -> None:
        await self.store.start_assignments([_assignment(link) for link in links])
        await self.refresh(link.organization_id for link in links)

    async def instructors_unassigned(self, links: Sequence[LinkChanged]) -> None:
        await self.store.end_assignments([_assignment(link) for link in links])
        await self.refresh(link.organization_id for link in links)

    async def mass_organizations_established(self, links: Sequence[LinkChanged]) -> None:
        await self.store.start_mass_organizations([_mass_organization(link) for link in links])
        await self.refresh(link.organization_id for link in links)

    async def mass_organizations_dissolved(self, links: Sequence[LinkChanged]) -> None:
        await self.store.end_mass_organizations([_mass_organization(link) for link in links])
        await self.refresh(link.organization_id for link in links)

    async def refresh(self, organization_ids: Iterable[str]) -> None:
        """Bring the facts of known organisations in line with what links to them."""
        stored = await self.store.organizations(organization_ids)
        links = await self.store.links(stored)
        changes = []
        for org_id, old in stored.items():
            facts = with_links(old.facts, links[org_id])
            if facts != old.facts or facts.branch_formed_on != old.facts.branch_formed_on:
                changes.append((old, dataclasses.replace(old, facts=facts)))
        await self._save(changes)

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
            await self.store.mark_changed(areas)
            await evaluate_targets(self.uow, {region for region, area in areas if not area})


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
            uow.record(
                event(
                    target_id=target_id(target),
                    region_code=target.region_code,
                    metric=target.metric,
                    scope=target.scope,
                    target_rate=target.rate,
                    due_on=target.due_on,
                    covered=current.covered,
                    in_scope=current.in_scope,
                    rate=current.rate,
                    crossed_at=now,
                )
            )
    await store.set_standings(changed)


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
    for (region_code, area_id), counts in totals.items():
        organization = counts.coverage("organization", DEFAULT_ORGANIZATION_SCOPE)
        standalone = counts.coverage("standalone", DEFAULT_ORGANIZATION_SCOPE)
        work = counts.coverage("work", DEFAULT_WORK_SCOPE)
        uow.record(
            RatesChangedV1(
                region_code=region_code,
                area_id=area_id,
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
        )
    await store.forget_changes(pending)
    return len(pending)

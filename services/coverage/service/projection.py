"""Registry facts applied to the projection and its roll-ups (the `Projector`, which the live
consumer and the rebuild both drive), and what coverage knows of one organisation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.coverage.domain.facts import CoverageFacts, UnknownOrganization
from services.coverage.domain.links import with_links
from services.coverage.domain.rates import announced
from services.coverage.domain.rollups import RollupDelta
from services.coverage.service.targets import evaluate_targets
from services.coverage.store.projection import BranchRow, StoredOrganization
from services.coverage.store.uow import CoverageUnitOfWork

# --- what the projection learns from registry events (decoded by handlers.py) -----------------


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
    ends_on: date | None = None  # a temporary branch's last day
    dissolved_on: date | None = None
    dissolved: bool = False


@dataclass(frozen=True)
class LinkChanged:
    """An instructor assignment or a mass organisation started or ended in an organisation."""

    link_id: str
    organization_id: str
    detail: str  # the instructor's id, or the mass organisation's kind
    starts_on: date | None = None  # a start: its first day
    ends_on: date | None = None  # a start: its planned last day; an end: its first day without


@dataclass(frozen=True)
class RoutineJudged:
    """A period of a branch's routine judged by training: lapsed, or restored (met after all
    when the restoring meeting was held inside it)."""

    branch_id: str
    obligation: str
    period: str
    period_starts_on: date
    period_ends_on: date
    organization_ids: frozenset[str]
    met: bool = False


@dataclass
class _Noted:
    """What the events of a batch said, in stream order, until the batch is applied."""

    files: list[OrganizationFiled | OrganizationLeft] = field(default_factory=list)
    branches: list[BranchChanged] = field(default_factory=list)
    assignments_started: list[LinkChanged] = field(default_factory=list)
    assignments_ended: list[LinkChanged] = field(default_factory=list)
    mass_organizations_started: list[LinkChanged] = field(default_factory=list)
    mass_organizations_ended: list[LinkChanged] = field(default_factory=list)
    routines: list[RoutineJudged] = field(default_factory=list)

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

    On PostgreSQL the registry consumer's batches read the day with a shared lock; the training
    consumer's (`exclusive`) and the day worker take it exclusively, so no two of them ever
    fold the same organisation's old facts into the roll-ups (SQLite's writers are serial).
    """

    def __init__(
        self,
        uow: CoverageUnitOfWork,
        *,
        live: bool = True,
        day: date | None = None,
        exclusive: bool = False,
        rollups: bool = True,
    ) -> None:
        self.uow = uow
        self.live = live
        # False: the organisations' facts only (a rebuild adds the roll-ups up once at its end)
        self.rollups = rollups
        self.exclusive = exclusive  # hold the day exclusively (a second consumer's batches)
        self.store = uow.projection
        self.day = day  # the day dated facts are evaluated at; default: the projection's
        self._noted = _Noted()
        self._recount: set[str] = set()

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

    def routines_judged(self, judged: Iterable[RoutineJudged]) -> None:
        self._noted.routines.extend(judged)

    def recount(self, organization_ids: Iterable[str]) -> None:
        """Evaluate these organisations' dated links again (a day boundary passed)."""
        self._recount.update(organization_ids)

    # --- the batch applied at once ------------------------------------------------------------

    async def flush(self) -> None:
        """Apply everything noted since the last flush."""
        noted, self._noted = self._noted, _Noted()
        recount, self._recount = self._recount, set()
        # the day first: on PostgreSQL its shared lock keeps the day worker from moving it (and
        # rewriting these organisations) between this batch's reads and its writes
        day = self.day or await self.store.projection_day(exclusive=self.exclusive)
        affected = await self._write_branches(noted.branches)
        affected |= await self._write_links(noted)
        affected |= await self._write_routines(noted.routines)
        files = noted.files
        wanted = affected | recount | {f.organization_id for f in files}
        if not wanted:
            return
        stored = await self.store.organizations(wanted)
        filed = _fold_files(stored, files)
        changes = []
        if filed or stored:
            current = {**stored, **filed}
            linked = await self.store.links(current, day)
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

    async def _write_routines(self, judged: list[RoutineJudged]) -> set[str]:
        """Record lapsed and restored periods; the organisations whose effective coverage may
        change (those the projection's branches name, and those the events name)."""
        if not judged:
            return set()
        await self.store.write_lapses(
            [
                {
                    "branch_id": j.branch_id,
                    "obligation": j.obligation,
                    "period": j.period,
                    "period_starts_on": j.period_starts_on,
                    "period_ends_on": j.period_ends_on,
                    "met": j.met,
                }
                for j in judged
            ]
        )
        named = {org_id for j in judged for org_id in j.organization_ids}
        return named | await self.store.organizations_of_branches(j.branch_id for j in judged)

    async def _write_links(self, noted: _Noted) -> set[str]:
        """Start and end instructor assignments and mass organisations: every start first, then
        every end, so an ended one stays ended whatever order its events came in."""
        store = self.store
        await store.start_assignments(
            [_assignment(x, start=True) for x in noted.assignments_started]
        )
        await store.end_assignments([_assignment(x, start=False) for x in noted.assignments_ended])
        await store.start_mass_organizations(
            [_mass_organization(x, start=True) for x in noted.mass_organizations_started]
        )
        await store.end_mass_organizations(
            [_mass_organization(x, start=False) for x in noted.mass_organizations_ended]
        )
        return {x.organization_id for x in noted.links()}

    async def _save(
        self, changes: Sequence[tuple[StoredOrganization | None, StoredOrganization]]
    ) -> None:
        if not changes:
            return
        # those the batch found no row for: inserted, not upserted
        unseen = {new.facts.organization_id for old, new in changes if old is None}
        if not self.rollups:
            await self.store.write_organizations([new for _, new in changes], new=unseen)
            return
        delta = RollupDelta()
        for old, new in changes:
            delta.change(old.facts if old else None, new.facts)
        await self.store.write_organizations([new for _, new in changes], new=unseen)
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
            b.organization_ids,
            ends_on=b.ends_on if b.formed_on else (old.ends_on if old else None),
            dissolved_on=b.dissolved_on if b.dissolved else None,
        )
    return newer


def _assignment(link: LinkChanged, *, start: bool) -> dict[str, Any]:
    dates = (
        {"starts_on": link.starts_on, "ends_on": link.ends_on}
        if start
        else {"ended_on": link.ends_on}
    )
    return {
        "assignment_id": link.link_id,
        "organization_id": link.organization_id,
        "instructor_id": link.detail,
        **dates,
    }


def _mass_organization(link: LinkChanged, *, start: bool) -> dict[str, Any]:
    dates = {"established_on": link.starts_on} if start else {"dissolved_on": link.ends_on}
    return {
        "mass_organization_id": link.link_id,
        "organization_id": link.organization_id,
        "kind": link.detail,
        **dates,
    }


# --- what coverage knows of one organisation ------------------------------------------------


async def organization(uow: CoverageUnitOfWork, organization_id: str) -> dict[str, Any]:
    """The organisation's facts as the projection holds them, or UnknownOrganization."""
    facts = await uow.projection.organization(organization_id)
    if facts is None:
        raise UnknownOrganization("organisation not known to coverage")
    return facts

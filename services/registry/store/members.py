"""SQL for staff lists, the member roster and members at organisations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, exists, func, select, update

from libs.common.db import Repository, insert_new, one_of, upsert_many
from libs.common.subtree import within_region
from libs.common.validators import region_ancestors
from services.registry.domain.admissions import CandidateState
from services.registry.domain.identity import Person, mask_name
from services.registry.domain.members import Member, RosterEntry
from services.registry.domain.mobile_members import MobileMember, MobileMemberView
from services.registry.store.intake_tables import mobile_members, pipeline_candidates
from services.registry.store.party_tables import members, roster_entries, staff_entries
from services.registry.store.tables import organizations

#: Hashes per IN (...) list: well under every driver's parameter limit.
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Match:
    """A person on an organisation's staff list who is also on a roster: a member to record."""

    organization_id: str
    region_code: str
    id_hash: str
    name: str
    id_masked: str
    phone_masked: str | None
    membership: str
    registered_with: str | None


@dataclass(frozen=True)
class CandidateRecord:
    """A candidate training develops, as the registry last counted them."""

    candidate_id: str
    organization_id: str
    branch_id: str
    region_code: str
    state: CandidateState
    stepped_on: date
    event_id: str


def member_of(row: Mapping[Any, Any]) -> Member:
    return Member(**dict(row))


def member_row(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "organization_id": member.organization_id,
        "region_code": member.region_code,
        "id_hash": member.id_hash,
        "name": member.name,
        "id_masked": member.id_masked,
        "phone_masked": member.phone_masked,
        "membership": member.membership,
        "registered_with": member.registered_with,
        "status": member.status,
        "discovered_at": member.discovered_at,
        "declared_on": member.declared_on,
        "transferred_on": member.transferred_on,
        "moved_out_on": member.moved_out_on,
        "branch_id": member.branch_id,
        "version": member.version,
    }


class MemberRepository(Repository):
    async def save_staff(
        self, organization_id: str, people: Sequence[tuple[str, Person]], now: datetime
    ) -> int:
        """Insert new staff entries and refresh known ones (two executemany); how many were new."""
        if not people:
            return 0
        rows = [
            {
                "id": entry_id,
                "organization_id": organization_id,
                "id_hash": p.id_hash,
                "name": p.name,
                "id_masked": p.id_masked,
                "phone_hash": p.phone_hash,
                "phone_masked": p.phone_masked,
                "created_at": now,
                "updated_at": now,
            }
            for entry_id, p in people
        ]
        new = await insert_new(
            self.session,
            staff_entries,
            rows,
            returning="id_hash",
            unique=("organization_id", "id_hash"),
        )
        known = [r for r in rows if r["id_hash"] not in new]
        if known:
            await self.session.execute(
                update(staff_entries)
                .where(staff_entries.c.organization_id == organization_id)
                .where(staff_entries.c.id_hash == bindparam("_hash"))
                .values(
                    {
                        c: bindparam(c)
                        for c in ("name", "id_masked", "phone_hash", "phone_masked", "updated_at")
                    }
                ),
                [
                    {
                        "_hash": r["id_hash"],
                        **{
                            c: r[c]
                            for c in (
                                "name",
                                "id_masked",
                                "phone_hash",
                                "phone_masked",
                                "updated_at",
                            )
                        },
                    }
                    for r in known
                ],
            )
        return len(new)

    async def save_roster(
        self,
        region_code: str,
        upload_id: str,
        entries: Sequence[tuple[str, RosterEntry]],
        now: datetime,
    ) -> int:
        """Keep a roster upload for a region (two executemany); how many people were new."""
        if not entries:
            return 0
        rows = [
            {
                "id": entry_id,
                "region_code": region_code,
                "id_hash": e.person.id_hash,
                "name": e.person.name,
                "id_masked": e.person.id_masked,
                "membership": e.membership,
                "registered_with": e.registered_with,
                "upload_id": upload_id,
                "created_at": now,
                "updated_at": now,
            }
            for entry_id, e in entries
        ]
        new = await insert_new(
            self.session,
            roster_entries,
            rows,
            returning="id_hash",
            unique=("region_code", "id_hash"),
        )
        refreshed = (
            "name",
            "id_masked",
            "membership",
            "registered_with",
            "upload_id",
            "updated_at",
        )
        known = [r for r in rows if r["id_hash"] not in new]
        if known:
            await self.session.execute(
                update(roster_entries)
                .where(roster_entries.c.region_code == region_code)
                .where(roster_entries.c.id_hash == bindparam("_hash"))
                .values({c: bindparam(c) for c in refreshed}),
                [{"_hash": r["id_hash"], **{c: r[c] for c in refreshed}} for r in known],
            )
        return len(new)

    async def roster_matches(self, organization_id: str, region_code: str) -> list[Match]:
        """The organisation's staff on a roster of its region or of a region above it."""
        rows = await self.session.execute(
            select(
                staff_entries.c.id_hash,
                staff_entries.c.name,
                staff_entries.c.id_masked,
                staff_entries.c.phone_masked,
                roster_entries.c.membership,
                roster_entries.c.registered_with,
            )
            .join(roster_entries, roster_entries.c.id_hash == staff_entries.c.id_hash)
            .where(staff_entries.c.organization_id == organization_id)
            .where(roster_entries.c.region_code.in_(region_ancestors(region_code)))
            # the nearest office's roster speaks last
            .order_by(roster_entries.c.region_code)
        )
        found: dict[str, Match] = {}
        for row in rows.mappings():
            found[row["id_hash"]] = Match(
                organization_id=organization_id, region_code=region_code, **row
            )
        return list(found.values())

    async def staff_matches(self, region_code: str, upload_id: str) -> list[Match]:
        """People of a roster upload on the staff lists of active organisations in its region."""
        rows = await self.session.execute(
            select(
                staff_entries.c.organization_id,
                organizations.c.region_code,
                staff_entries.c.id_hash,
                staff_entries.c.name,
                staff_entries.c.id_masked,
                staff_entries.c.phone_masked,
                roster_entries.c.membership,
                roster_entries.c.registered_with,
            )
            .select_from(roster_entries)
            .join(staff_entries, staff_entries.c.id_hash == roster_entries.c.id_hash)
            .join(organizations, organizations.c.id == staff_entries.c.organization_id)
            .where(roster_entries.c.upload_id == upload_id)
            .where(roster_entries.c.region_code == region_code)
            .where(within_region(organizations.c.region_code, region_code))
            .where(organizations.c.status == "active")
        )
        return [Match(**row) for row in rows.mappings()]

    async def add_new(self, batch: Sequence[Member]) -> set[str]:
        """Insert members not yet recorded at their organisation; the ids really inserted."""
        inserted: set[str] = set()
        for part in chunks(batch):
            inserted |= await insert_new(
                self.session,
                members,
                [member_row(m) for m in part],
                returning="id",
                unique=("organization_id", "id_hash"),
            )
        return inserted

    async def get(self, member_id: str, *, for_update: bool = False) -> Member | None:
        row = await self.row_by_id(members, member_id, for_update=for_update)
        return member_of(row) if row else None

    async def save(self, member: Member, *, expected_version: int) -> bool:
        row = member_row(member)
        result = await self.session.execute(
            update(members)
            .where(members.c.id == member.id)
            .where(members.c.version == expected_version)
            .values(**{k: v for k, v in row.items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def transferred_at(self, organization_id: str) -> list[Member]:
        """The members whose relationship is at the organisation (locked for a change)."""
        statement = (
            select(members)
            .where(members.c.organization_id == organization_id)
            .where(members.c.status == "transferred")
            .order_by(members.c.id)
            .with_for_update()
        )
        return [member_of(row) for row in (await self.session.execute(statement)).mappings()]

    async def move_out(self, batch: Sequence[Member]) -> None:
        if batch:
            await self.session.execute(
                update(members)
                .where(members.c.id == bindparam("_id"))
                .values(
                    status=bindparam("_status"),
                    moved_out_on=bindparam("_on"),
                    version=bindparam("_version"),
                ),
                [
                    {"_id": m.id, "_status": m.status, "_on": m.moved_out_on, "_version": m.version}
                    for m in batch
                ],
            )

    async def at_organization(
        self,
        organization_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[Member]:
        statement = select(members).where(members.c.organization_id == organization_id)
        if status:
            statement = statement.where(members.c.status == status)
        if after:
            statement = statement.where(members.c.id > after)
        statement = statement.order_by(members.c.id).limit(limit)
        return [member_of(row) for row in (await self.session.execute(statement)).mappings()]

    # Candidates training develops (pipeline_candidates)

    async def candidate_states(self, candidate_ids: Sequence[str]) -> dict[str, CandidateState]:
        """The state last counted of each of these candidates the registry has seen."""
        if not candidate_ids:
            return {}
        rows = await self.session.execute(
            select(pipeline_candidates.c.candidate_id, pipeline_candidates.c.state).where(
                one_of(self.session, pipeline_candidates.c.candidate_id, candidate_ids)
            )
        )
        return {row.candidate_id: cast(CandidateState, row.state) for row in rows}

    async def save_candidates(self, records: Sequence[CandidateRecord], now: datetime) -> None:
        await upsert_many(
            self.session,
            pipeline_candidates,
            [
                {
                    "candidate_id": r.candidate_id,
                    "organization_id": r.organization_id,
                    "branch_id": r.branch_id,
                    "region_code": r.region_code,
                    "state": r.state,
                    "stepped_on": r.stepped_on,
                    "event_id": r.event_id,
                    "updated_at": now,
                }
                for r in records
            ],
            key="candidate_id",
        )

    # Mobile members (流动党员) declared at the stations

    async def mobile_members_by_source(
        self, source: str, refs: Sequence[str]
    ) -> dict[str, MobileMember]:
        if not refs:
            return {}
        rows = await self.session.execute(
            select(mobile_members)
            .where(mobile_members.c.source == source)
            .where(one_of(self.session, mobile_members.c.source_ref, refs))
        )
        return {row["source_ref"]: MobileMember(**dict(row)) for row in rows.mappings()}

    async def save_mobile_members(self, batch: Sequence[MobileMember]) -> None:
        """Insert new declarations and refresh known ones (by id)."""
        await upsert_many(
            self.session,
            mobile_members,
            [{c.name: getattr(m, c.name) for c in mobile_members.columns} for m in batch],
            key="id",
        )

    async def id_hashes_of_phones(self, phone_hashes: Sequence[str]) -> dict[str, str]:
        """The ID-number hash a staff list gives for each of these phone hashes (where one does)."""
        if not phone_hashes:
            return {}
        rows = await self.session.execute(
            select(staff_entries.c.phone_hash, staff_entries.c.id_hash)
            .where(one_of(self.session, staff_entries.c.phone_hash, phone_hashes))
            .order_by(staff_entries.c.updated_at)
        )
        return {row.phone_hash: row.id_hash for row in rows}

    async def learn_mobile_id_hashes(self, people: Sequence[Person], now: datetime) -> None:
        """Give mobile members known by phone only the ID-number hash a staff list shows."""
        pairs = [{"_phone": p.phone_hash, "_id": p.id_hash} for p in people if p.phone_hash]
        if pairs:
            await self.session.execute(
                update(mobile_members)
                .where(mobile_members.c.phone_hash == bindparam("_phone"))
                .where(mobile_members.c.id_hash.is_(None))
                .values(id_hash=bindparam("_id"), updated_at=now),
                pairs,
            )

    async def match_mobile_members(self, id_hashes: Sequence[str], now: datetime) -> int:
        """Match the unmatched mobile members with these ID-number hashes to the member record of
        the same person (the first by id when there are several); how many were matched."""
        if not id_hashes:
            return 0
        record = (
            select(func.min(members.c.id))
            .where(members.c.id_hash == mobile_members.c.id_hash)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(mobile_members)
            .where(mobile_members.c.member_id.is_(None))
            .where(one_of(self.session, mobile_members.c.id_hash, id_hashes))
            .where(exists().where(members.c.id_hash == mobile_members.c.id_hash))
            .values(member_id=record, matched_at=now, updated_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mobile_members_in(
        self, region_code: str, *, after: str | None = None, limit: int = 100
    ) -> list[MobileMemberView]:
        """A page of the mobile members declared in a region's subtree, by id, each with the
        masked identity of the member record it matched."""
        statement = (
            select(
                mobile_members,
                members.c.organization_id,
                members.c.name,
                members.c.id_masked,
                members.c.membership,
            )
            .select_from(mobile_members)
            .outerjoin(members, members.c.id == mobile_members.c.member_id)
            .where(within_region(mobile_members.c.region_code, region_code))
        )
        if after:
            statement = statement.where(mobile_members.c.id > after)
        statement = statement.order_by(mobile_members.c.id).limit(limit)
        views = []
        for row in (await self.session.execute(statement)).mappings():
            values = {c.name: row[c.name] for c in mobile_members.columns}
            views.append(
                MobileMemberView(
                    MobileMember(**values),
                    organization_id=row["organization_id"],
                    name_masked=mask_name(row["name"]) if row["name"] else None,
                    id_masked=row["id_masked"],
                    membership=row["membership"],
                )
            )
        return views

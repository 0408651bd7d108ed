"""SQL for staff lists, the member roster and members at organisations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, update

from libs.common.db import Repository, insert_new
from libs.common.subtree import within_region
from libs.common.validators import region_ancestors
from services.registry.domain.identity import Person
from services.registry.domain.members import Member, RosterEntry
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

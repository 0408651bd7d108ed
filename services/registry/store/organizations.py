"""SQL for organisations: the only place that reads and writes the organisations table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.domain.organizations import LEDGER_POINTS, Ledger, Organization
from services.registry.store.tables import organizations

_LEDGER_COLUMNS = {point: f"ledger_{point}" for point in LEDGER_POINTS}


def to_row(organization: Organization) -> dict[str, Any]:
    row = organization.snapshot()
    ledger = row.pop("ledger")
    row.update({column: ledger[point] for point, column in _LEDGER_COLUMNS.items()})
    row["name_key"] = organization.name_key
    return row


def from_row(row: Mapping[Any, Any]) -> Organization:
    values = dict(row)
    values.pop("name_key", None)
    ledger = Ledger(
        **{point: bool(values.pop(column)) for point, column in _LEDGER_COLUMNS.items()}
    )
    return Organization(**values, ledger=ledger)


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organization_id: str, *, for_update: bool = False) -> Organization | None:
        statement = select(organizations).where(organizations.c.id == organization_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self.session.execute(statement)).mappings().first()
        return from_row(row) if row else None

    async def get_many(
        self, organization_ids: Iterable[str], *, for_update: bool = False
    ) -> dict[str, Organization]:
        ids = sorted(set(organization_ids))  # a fixed order: concurrent lockers cannot deadlock
        if not ids:
            return {}
        statement = select(organizations).where(organizations.c.id.in_(ids))
        if for_update:
            statement = statement.order_by(organizations.c.id).with_for_update()
        rows = (await self.session.execute(statement)).mappings()
        return {row["id"]: from_row(row) for row in rows}

    async def by_credit_codes(self, credit_codes: Iterable[str]) -> dict[str, Organization]:
        codes = list(set(credit_codes))
        if not codes:
            return {}
        rows = (
            await self.session.execute(
                select(organizations).where(organizations.c.credit_code.in_(codes))
            )
        ).mappings()
        return {row["credit_code"]: from_row(row) for row in rows}

    async def id_by_credit_code(self, credit_code: str) -> str | None:
        found: str | None = (
            await self.session.execute(
                select(organizations.c.id).where(organizations.c.credit_code == credit_code)
            )
        ).scalar_one_or_none()
        return found

    async def add(self, organization: Organization) -> None:
        await self.add_many([organization])

    async def add_many(self, batch: Sequence[Organization]) -> None:
        if batch:
            await self.session.execute(insert(organizations), [to_row(o) for o in batch])

    async def save(self, organization: Organization, *, expected_version: int) -> bool:
        """Write a changed file if it is still at `expected_version`; False if it moved on."""
        row = to_row(organization)
        result = await self.session.execute(
            update(organizations)
            .where(organizations.c.id == organization.id)
            .where(organizations.c.version == expected_version)
            .values(**{k: v for k, v in row.items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def save_many(self, batch: Sequence[Organization]) -> None:
        """Write many changed files at once (imports): executemany of one UPDATE by id."""
        if not batch:
            return
        rows = [to_row(o) for o in batch]
        columns = [c for c in rows[0] if c != "id"]
        statement = (
            update(organizations)
            .where(organizations.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
        )
        await self.session.execute(
            statement, [{**{c: r[c] for c in columns}, "_id": r["id"]} for r in rows]
        )

"""SQL for organisations: the only place that reads and writes the organisations table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import Result

from libs.common.db import (
    Repository,
    containing,
    dialect_insert,
    insert_many,
    insert_values,
    starting_with,
    update_many,
)
from libs.common.subtree import within_region
from services.registry.domain.names import name_key
from services.registry.domain.organizations import (
    THREE_HAVES_MIN_STAFF,
    Ledger,
    Organization,
    OrganizationFilter,
    ThreeHavesState,
    organization_of,
)
from services.registry.file_forms import (
    FIELD_COLUMNS,
    LEDGER_COLUMNS,
    ROW_COLUMNS,
    ledger_values,
    row_values,
)
from services.registry.store.tables import organizations

#: `add_if_new`'s statement, per dialect.
_ADD_IF_NEW: dict[str, Any] = {}


_LEDGER_COLUMN_NAMES = tuple(LEDGER_COLUMNS.values())


@lru_cache(maxsize=1 << len(LEDGER_COLUMNS))
def _ledger(points: tuple[bool, ...]) -> Ledger:
    """The ledger with these points clear: one (immutable) object for each of the 64 ways, not
    one per file read (an import reads thousands a chunk)."""
    return Ledger(*points)


def to_row(organization: Organization) -> dict[str, Any]:
    return dict(zip(ROW_COLUMNS, row_values(organization), strict=True))


def from_row(row: Mapping[Any, Any]) -> Organization:
    values = dict(row)
    values.pop("name_key", None)
    values["ledger"] = _ledger(tuple(bool(values.pop(column)) for column in _LEDGER_COLUMN_NAMES))
    return organization_of(values)


def from_rows(result: Result[Any]) -> Iterator[Organization]:
    """The organisations of a result's rows (each row a tuple zipped with the result's keys:
    a row's mapping view cost twice the rest of making the organisation)."""
    keys = list(result.keys())
    return (from_row(dict(zip(keys, row, strict=True))) for row in result)


def _three_haves(state: ThreeHavesState) -> ColumnElement[bool]:
    """The derived 三有 flag as SQL, with the same true/false/unknown logic as the domain."""
    t = organizations.c
    if state == "true":
        return and_(
            t.has_premises == true(),
            t.stable_operations == true(),
            t.staff_count >= THREE_HAVES_MIN_STAFF,
        )
    if state == "false":
        return or_(
            t.has_premises == false(),
            t.stable_operations == false(),
            t.staff_count < THREE_HAVES_MIN_STAFF,
        )
    return and_(
        or_(t.has_premises.is_(None), t.stable_operations.is_(None), t.staff_count.is_(None)),
        func.coalesce(t.has_premises, true()) == true(),
        func.coalesce(t.stable_operations, true()) == true(),
        func.coalesce(t.staff_count, THREE_HAVES_MIN_STAFF) >= THREE_HAVES_MIN_STAFF,
    )


def _conditions(f: OrganizationFilter) -> list[ColumnElement[bool]]:
    t = organizations.c
    conditions = [within_region(t.region_code, f.region_code)]
    if f.kind is not None:
        conditions.append(t.kind == f.kind)
    if f.industry_prefix:
        conditions.append(starting_with(t.industry_code, f.industry_prefix))
    if f.three_haves is not None:
        conditions.append(_three_haves(f.three_haves))
    if f.covered is not None:
        conditions.append(t.branch_id.is_not(None) if f.covered else t.branch_id.is_(None))
    if f.ledger_incomplete is not None:
        columns = [t[column] for column in LEDGER_COLUMNS.values()]
        incomplete = or_(*[c == false() for c in columns])
        conditions.append(
            incomplete if f.ledger_incomplete else and_(*[c == true() for c in columns])
        )
    if f.status is not None:
        conditions.append(t.status == f.status)
    if f.park_id is not None:
        conditions.append(t.park_id == f.park_id)
    if f.district_id is not None:
        conditions.append(t.district_id == f.district_id)
    if f.name_contains:
        # a search made only of what keys drop (% _ spaces, punctuation) matches nothing
        conditions.append(containing(t.name_key, name_key(f.name_contains)))
    return conditions


class OrganizationRepository(Repository):
    async def get(self, organization_id: str, *, for_update: bool = False) -> Organization | None:
        row = await self.row_by_id(organizations, organization_id, for_update=for_update)
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
        return {o.id: o for o in from_rows(await self.session.execute(statement))}

    async def by_credit_codes(self, credit_codes: Iterable[str]) -> dict[str, Organization]:
        codes = list(set(credit_codes))
        if not codes:
            return {}
        result = await self.session.execute(
            select(organizations).where(organizations.c.credit_code.in_(codes))
        )
        return {o.credit_code: o for o in from_rows(result)}

    async def id_by_credit_code(self, credit_code: str) -> str | None:
        found: str | None = (
            await self.session.execute(
                select(organizations.c.id).where(organizations.c.credit_code == credit_code)
            )
        ).scalar_one_or_none()
        return found

    async def add(self, organization: Organization) -> None:
        await self.add_many([organization])

    async def add_if_new(self, organization: Organization) -> bool:
        """Insert unless its credit code is already there (race-safe); False when it was."""
        # The row goes as parameters of one statement per dialect, built once: values inlined
        # in a new statement cost a cache key over every column on each request.
        dialect = self.session.bind.dialect.name if self.session.bind is not None else "sqlite"
        statement = _ADD_IF_NEW.get(dialect)
        if statement is None:
            statement = _ADD_IF_NEW[dialect] = (
                dialect_insert(self.session, organizations)
                .on_conflict_do_nothing(index_elements=[organizations.c.credit_code])
                .returning(organizations.c.id)
            )
        result = await self.session.execute(statement, to_row(organization))
        return result.scalar_one_or_none() is not None

    async def find(
        self,
        where: OrganizationFilter,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Organization]:
        """A page of the organisations matching `where`, in (region_code, id) order after a
        keyset cursor: one range scan of `ix_organizations_region_code_id` at any depth."""
        t = organizations.c
        statement = select(organizations).where(*_conditions(where))
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        statement = statement.order_by(t.region_code, t.id).limit(limit)
        return list(from_rows(await self.session.execute(statement)))

    async def add_many(self, batch: Sequence[Organization]) -> None:
        """Insert new files (COPY on PostgreSQL for a large batch: an import's, checked
        beforehand; a single one is a plain INSERT)."""
        await insert_many(self.session, organizations, [to_row(o) for o in batch])

    async def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert new files given as their rows' values (`file_forms.row_values`: an import's
        drafts, checked beforehand), as `add_many` does."""
        await insert_values(self.session, organizations, ROW_COLUMNS, rows)

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

    async def save_changed(self, changes: Sequence[tuple[Organization, Sequence[str]]]) -> None:
        """Write many changed files at once (imports), each given with the names of the fields
        that changed: one bulk UPDATE by id (`update_many`) per set of changed fields, setting only
        those (with the version, `updated_at`, and what a field is stored as besides: the name's
        key, the ledger's points). Setting every column made SQLite update every index of the
        table for each row, and the columns' values cost more to bind than the change."""
        groups: dict[tuple[str, ...], list[Organization]] = {}
        for organization, changed in changes:
            groups.setdefault(tuple(sorted(changed)), []).append(organization)
        for changed, batch in groups.items():
            columns = _stored_columns(changed)
            take = attrgetter(*columns)  # the version and `updated_at` at least: a tuple
            rows = []
            for organization in batch:
                row = {
                    "_id": organization.id,
                    **dict(zip(columns, take(organization), strict=True)),
                }
                _add_derived(row, organization, changed)
                rows.append(row)
            await update_many(self.session, organizations, rows, key="id")


def _stored_columns(changed: Sequence[str]) -> tuple[str, ...]:
    """The columns of the changed fields that are stored as themselves, with the version and
    `updated_at` (the name's key and the ledger's points: `_add_derived`)."""
    unknown = [name for name in changed if name not in FIELD_COLUMNS and name != "ledger"]
    if unknown:
        raise ValueError(f"not fields of an organisation: {unknown}")
    kept = [name for name in changed if name in FIELD_COLUMNS]
    return tuple(dict.fromkeys([*kept, "version", "updated_at"]))


def _add_derived(row: dict[str, Any], organization: Organization, changed: Sequence[str]) -> None:
    if "name" in changed:
        row["name_key"] = organization.name_key
    if "ledger" in changed:
        row.update(zip(LEDGER_COLUMNS.values(), ledger_values(organization.ledger), strict=True))

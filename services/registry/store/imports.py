"""SQL of imports: jobs and their files, rejected rows, conflicts, provenance, and the bulk
look-ups of organisations by credit code and by normalised name that matching needs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from libs.common.db import Repository, dialect_insert, execute_many, insert_many, one_of
from libs.common.subtree import within_region
from libs.common.tables import utcnow
from services.registry.domain.imports import ConflictRow, ImportJob, Provenance, RowError
from services.registry.domain.organizations import Organization
from services.registry.store.import_tables import (
    import_conflicts,
    import_file_chunks,
    import_jobs,
    import_row_errors,
    organization_sources,
)
from services.registry.store.organizations import from_row, from_rows
from services.registry.store.tables import organizations

_LOOKUP_BATCH = 10_000  # values per look-up query


def _job(row: Mapping[Any, Any]) -> ImportJob:
    return ImportJob(**dict(row))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _LOOKUP_BATCH):
        yield values[start : start + _LOOKUP_BATCH]


class ImportRepository(Repository):
    @property
    def _postgres(self) -> bool:
        bind = self.session.bind
        return bind is not None and bind.dialect.name == "postgresql"

    def _one_of(self, column: ColumnElement[str], values: Sequence[str]) -> Any:
        return one_of(self.session, column, values)

    # -- jobs ------------------------------------------------------------------------------------

    async def find_job(self, source: str, region_code: str, content_hash: str) -> ImportJob | None:
        row = (
            (
                await self.session.execute(
                    select(import_jobs).where(
                        import_jobs.c.source == source,
                        import_jobs.c.region_code == region_code,
                        import_jobs.c.content_hash == content_hash,
                    )
                )
            )
            .mappings()
            .first()
        )
        return _job(row) if row else None

    async def create_job(self, values: dict[str, Any]) -> bool:
        """Insert the job unless the same file from the same source and region is there."""
        statement = (
            dialect_insert(self.session, import_jobs)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[
                    import_jobs.c.source,
                    import_jobs.c.region_code,
                    import_jobs.c.content_hash,
                ]
            )
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_file_chunks(self, job_id: str, chunks: Sequence[tuple[int, bytes]]) -> None:
        if chunks:
            await self.session.execute(
                insert(import_file_chunks),
                [{"job_id": job_id, "seq": seq, "data": data} for seq, data in chunks],
            )

    async def delete_file(self, job_id: str) -> None:
        """Forget the job's stored file (its pieces)."""
        await self.session.execute(
            delete(import_file_chunks).where(import_file_chunks.c.job_id == job_id)
        )

    async def purge_files(self, finished_before: datetime) -> int:
        """Delete the stored files of jobs failed or rejected before `finished_at`, and of any
        job done (a file outlives its done job only if it finished before this was the rule);
        returns how many pieces went."""
        ended = select(import_jobs.c.id).where(
            or_(
                import_jobs.c.status == "done",
                (import_jobs.c.status.in_(("failed", "rejected")))
                & (import_jobs.c.finished_at < finished_before),
            )
        )
        result = await self.session.execute(
            delete(import_file_chunks).where(import_file_chunks.c.job_id.in_(ended))
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def file_chunk(self, job_id: str, seq: int) -> bytes | None:
        data: bytes | None = (
            await self.session.execute(
                select(import_file_chunks.c.data).where(
                    import_file_chunks.c.job_id == job_id, import_file_chunks.c.seq == seq
                )
            )
        ).scalar_one_or_none()
        return data

    async def get_job(self, job_id: str) -> ImportJob | None:
        row = (
            (await self.session.execute(select(import_jobs).where(import_jobs.c.id == job_id)))
            .mappings()
            .first()
        )
        return _job(row) if row else None

    async def find_jobs(
        self,
        region_code: str,
        *,
        status: str | None,
        source: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[ImportJob]:
        """A page of the jobs of a region's subtree, newest first (then by id), after a
        keyset cursor."""
        t = import_jobs.c
        statement = select(import_jobs).where(within_region(t.region_code, region_code))
        if status is not None:
            statement = statement.where(t.status == status)
        if source is not None:
            statement = statement.where(t.source == source)
        if after is not None:
            created, last_id = after
            statement = statement.where(
                or_(t.created_at < created, and_(t.created_at == created, t.id > last_id))
            )
        rows = await self.session.execute(
            statement.order_by(t.created_at.desc(), t.id).limit(limit)
        )
        return [_job(row) for row in rows.mappings()]

    async def claimable_job(self, now: datetime) -> str | None:
        """The oldest job waiting, or running under a lease that ran out (its worker died)."""
        found: str | None = (
            await self.session.execute(
                select(import_jobs.c.id)
                .where(
                    import_jobs.c.status.in_(("queued", "running")),
                    or_(import_jobs.c.lease_until.is_(None), import_jobs.c.lease_until < now),
                )
                .order_by(import_jobs.c.created_at)
                .limit(1)
            )
        ).scalar_one_or_none()
        return found

    async def claim(self, job_id: str, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take the job's lease if nobody holds it (one UPDATE: two replicas cannot both win)."""
        result = await self.session.execute(
            update(import_jobs)
            .where(
                import_jobs.c.id == job_id,
                import_jobs.c.status.in_(("queued", "running")),
                or_(import_jobs.c.lease_until.is_(None), import_jobs.c.lease_until < now),
            )
            .values(
                lease_owner=owner,
                lease_until=now + lease,
                status="running",
                attempts=import_jobs.c.attempts + 1,
                started_at=func.coalesce(import_jobs.c.started_at, now),
                updated_at=now,
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def renew_lease(self, job_id: str, owner: str, until: datetime) -> bool:
        """Extend the lease `owner` holds (False when it holds it no more)."""
        return await self.update_job(job_id, owner, lease_until=until)

    async def update_job(self, job_id: str, owner: str | None, **values: Any) -> bool:
        """Change the job; with `owner`, only while that worker still holds the lease."""
        statement = update(import_jobs).where(import_jobs.c.id == job_id)
        if owner is not None:
            statement = statement.where(import_jobs.c.lease_owner == owner)
        result = await self.session.execute(statement.values(updated_at=utcnow(), **values))
        return bool(getattr(result, "rowcount", 0) == 1)

    # -- the report ------------------------------------------------------------------------------

    async def add_row_errors(self, job_id: str, errors: Sequence[RowError]) -> None:
        if errors:
            await self.session.execute(
                insert(import_row_errors),
                [
                    {
                        "job_id": job_id,
                        "row": e.row,
                        "field": e.field,
                        "reason": e.reason,
                        "rejected": e.rejected,
                    }
                    for e in errors
                ],
            )

    async def add_conflicts(self, job_id: str, conflicts: Sequence[ConflictRow]) -> None:
        if conflicts:
            await self.session.execute(
                insert(import_conflicts),
                [
                    {
                        "job_id": job_id,
                        "row": c.row,
                        "organization_id": c.organization_id,
                        "field": c.field,
                        "ledger_value": _json(c.ledger_value),
                        "incoming_value": _json(c.incoming_value),
                    }
                    for c in conflicts
                ],
            )

    async def row_errors(
        self, job_id: str, after_id: int | None, limit: int, *, rejected: bool = True
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """How many rejected rows' reasons there are (or, `rejected` False, fields left out),
        and a page of them in order after `after_id`, each with its id (the page's key)."""
        t = import_row_errors
        which = (t.c.job_id == job_id, t.c.rejected == rejected)
        total = (await self.session.execute(select(func.count()).where(*which))).scalar_one()
        statement = select(t.c.id, t.c.row, t.c.field, t.c.reason).where(*which)
        if after_id is not None:
            statement = statement.where(t.c.id > after_id)
        rows = (await self.session.execute(statement.order_by(t.c.id).limit(limit))).mappings()
        return int(total), [(r["id"], {k: r[k] for k in ("row", "field", "reason")}) for r in rows]

    async def conflicts(
        self, job_id: str, after_id: int | None, limit: int
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """How many conflicts a job found, and a page of them in order after `after_id`."""
        t = import_conflicts
        total = (
            await self.session.execute(select(func.count()).where(t.c.job_id == job_id))
        ).scalar_one()
        statement = select(
            t.c.id, t.c.row, t.c.organization_id, t.c.field, t.c.ledger_value, t.c.incoming_value
        ).where(t.c.job_id == job_id)
        if after_id is not None:
            statement = statement.where(t.c.id > after_id)
        rows = (await self.session.execute(statement.order_by(t.c.id).limit(limit))).mappings()
        out = []
        for r in rows:
            item = {k: r[k] for k in ("row", "organization_id", "field")}
            item["ledger_value"] = json.loads(r["ledger_value"] or "null")
            item["incoming_value"] = json.loads(r["incoming_value"] or "null")
            out.append((int(r["id"]), item))
        return int(total), out

    # -- provenance ------------------------------------------------------------------------------

    async def said_before(
        self, organization_ids: Iterable[str], source: str
    ) -> dict[str, dict[str, Any]]:
        """What `source` last said about each organisation (field -> value)."""
        ids = sorted(set(organization_ids))
        out: dict[str, dict[str, Any]] = {}
        t = organization_sources
        for part in _chunks(ids):
            rows = await self.session.execute(
                select(t.c.organization_id, t.c["values"]).where(
                    t.c.source == source, self._one_of(t.c.organization_id, part)
                )
            )
            out.update({organization_id: values for organization_id, values in rows})
        return out

    async def record_sources(self, said: Sequence[Provenance]) -> None:
        """What a source said, keyed by organisation+source: inserted in bulk (COPY on
        PostgreSQL) where the source never spoke of the organisation before (`Provenance.first`:
        a file the import registers, or one it matched that the source's earlier word, looked up
        under the file's lock, does not name), upserted (one statement, the driver's
        executemany: `execute_many`) where it did. An import that matched 2,000 files a chunk
        for the first time spent 25 ms a chunk upserting them on PostgreSQL."""
        fresh = _source_rows(p for p in said if p.first)
        await insert_many(self.session, organization_sources, fresh)
        rows = _source_rows(p for p in said if not p.first)
        if not rows:
            return
        statement = dialect_insert(self.session, organization_sources)
        statement = statement.on_conflict_do_update(
            index_elements=[organization_sources.c.organization_id, organization_sources.c.source],
            set_={
                name: statement.excluded[name]
                for name in ("values", "import_id", "row", "matched_by", "said_at")
            },
        )
        await execute_many(self.session, statement, rows)

    async def sources_of(self, organization_id: str) -> list[dict[str, Any]]:
        t = organization_sources
        rows = (
            await self.session.execute(
                select(t).where(t.c.organization_id == organization_id).order_by(t.c.source)
            )
        ).mappings()
        return [dict(r) for r in rows]

    # -- organisations, in bulk ------------------------------------------------------------------

    async def organizations_by_credit_code(
        self, credit_codes: Iterable[str]
    ) -> dict[str, Organization]:
        """The organisations with these codes, locked for the rest of the transaction."""
        codes = sorted(set(credit_codes))
        out: dict[str, Organization] = {}
        for part in _chunks(codes):
            statement = select(organizations).where(self._one_of(organizations.c.credit_code, part))
            if self._postgres:
                statement = statement.order_by(organizations.c.id).with_for_update()
            result = await self.session.execute(statement)
            out.update({o.credit_code: o for o in from_rows(result)})
        return out

    async def organizations_by_name_key(
        self, keys: Iterable[str], region_prefix: str
    ) -> dict[str, list[Organization]]:
        """Active organisations whose `name_key` is one of `keys`, within the importing region
        (the composite index on name_key, region_code serves it), locked like the above."""
        wanted = sorted(set(keys))
        out: dict[str, list[Organization]] = {}
        for part in _chunks(wanted):
            statement = select(organizations).where(
                self._one_of(organizations.c.name_key, part),
                within_region(organizations.c.region_code, region_prefix),
                organizations.c.status == "active",
            )
            if self._postgres:
                statement = statement.order_by(organizations.c.id).with_for_update()
            for row in (await self.session.execute(statement)).mappings():
                out.setdefault(row["name_key"], []).append(from_row(row))
        return out


def _source_rows(said: Iterable[Provenance]) -> list[dict[str, Any]]:
    return [
        {
            "organization_id": p.organization_id,
            "source": p.source,
            "values": p.values,
            "import_id": p.import_id,
            "row": p.row,
            "matched_by": p.matched_by,
            "said_at": p.said_at,
        }
        for p in said
    ]

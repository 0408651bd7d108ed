"""The audit trail: who changed what and when, one row per write, in the service's own store.

Each service that keeps one declares the table on its own metadata with `audit_table(metadata)`
and records through `AuditTrail`. Values are stored as the use case gives them: a use case passes
masked forms of anything sensitive, never a raw ID number or phone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Index, MetaData, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.auth import Principal
from libs.common.db import UnitOfWork, insert_many
from libs.common.events import Envelope, IntegrationEvent
from libs.common.json_text import json_dumps
from libs.common.subtree import within_region
from libs.common.tables import BigIntPK, UTCDateTime, utcnow


def audit_table(metadata: MetaData) -> Table:
    table = Table(
        "audit_log",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("at", UTCDateTime(), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("actor_region", String(12), nullable=False),
        Column("action", String(100), nullable=False),
        Column("entity_type", String(50), nullable=False),
        Column("entity_id", String(64), nullable=False),
        Column("region_code", String(12), nullable=False),
        Column("changes", Text(), nullable=False),
        comment="Who changed what and when: one row per write.",
    )
    Index("ix_audit_log_region_code_id", table.c.region_code, table.c.id)
    Index("ix_audit_log_entity", table.c.entity_type, table.c.entity_id)
    return table


@dataclass(frozen=True)
class Actor:
    """Who made a change: the token's subject and the region it answers for."""

    subject: str
    region_code: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.subject, principal.region_code)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    actor_region: str
    action: str
    entity_type: str
    entity_id: str
    region_code: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a look-up in the trail; `region_code` is a prefix (the caller's subtree)."""

    region_code: str
    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None  # cursor: entries older than this id (newest first)
    limit: int = 100


class AuditTrail:
    """The trail in `table`. Entries are written at once, or, given the unit of work's
    `insert_at_commit`, with its events at commit (nothing reads an entry back in the
    transaction that writes it)."""

    def __init__(
        self,
        session: AsyncSession,
        table: Table,
        at_commit: Callable[[Table, Sequence[Mapping[str, Any]]], None] | None = None,
    ) -> None:
        self.session = session
        self.table = table
        self._at_commit = at_commit

    async def record(
        self,
        actor: Actor,
        action: str,
        *,
        entity_type: str,
        entity_id: str,
        region_code: str,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        await self.record_many(
            actor,
            action,
            entity_type=entity_type,
            entries=[(entity_id, region_code, changes or {})],
        )

    async def record_many(
        self,
        actor: Actor,
        action: str,
        *,
        entity_type: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
    ) -> None:
        """Many entries of one action at once (imports), in one executemany (at commit when
        the unit of work writes them then: `record_at_commit`)."""
        if self._at_commit is not None:
            self.record_at_commit(actor, action, entity_type=entity_type, entries=entries)
            return
        rows = self._rows(actor, action, entity_type, entries)
        if rows:
            await insert_many(self.session, self.table, rows)

    def record_at_commit(
        self,
        actor: Actor,
        action: str,
        *,
        entity_type: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
    ) -> None:
        """`record_many` without touching the session now: the entries are written with the
        transaction's events at commit (a unit of work's `insert_at_commit`), so that they can
        be made while a statement of the same session runs (an import's)."""
        if self._at_commit is None:
            raise RuntimeError("this audit trail writes at once: use record_many")
        rows = self._rows(actor, action, entity_type, entries)
        if rows:
            self._at_commit(self.table, rows)

    @staticmethod
    def _rows(
        actor: Actor,
        action: str,
        entity_type: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
    ) -> list[dict[str, Any]]:
        now = utcnow()
        return [
            {
                "at": now,
                "actor": actor.subject,
                "actor_region": actor.region_code,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "region_code": region_code,
                # a value JSON has no form for as its text, a time in ISO 8601
                "changes": json_dumps(changes, fallback=str),
            }
            for entity_id, region_code, changes in entries
        ]

    async def find(self, query: AuditQuery) -> list[AuditEntry]:
        t = self.table
        conditions = [within_region(t.c.region_code, query.region_code)]
        if query.entity_type:
            conditions.append(t.c.entity_type == query.entity_type)
        if query.entity_id:
            conditions.append(t.c.entity_id == query.entity_id)
        if query.actor:
            conditions.append(t.c.actor == query.actor)
        if query.action:
            conditions.append(t.c.action == query.action)
        if query.since:
            conditions.append(t.c.at >= query.since)
        if query.until:
            conditions.append(t.c.at < query.until)
        if query.after_id is not None:
            conditions.append(t.c.id < query.after_id)
        rows = (
            await self.session.execute(
                select(t).where(*conditions).order_by(t.c.id.desc()).limit(query.limit)
            )
        ).mappings()
        return [AuditEntry(**{**row, "changes": json.loads(row["changes"])}) for row in rows]


class AuditedUnitOfWork(UnitOfWork):
    """A unit of work whose service keeps an audit trail (`audit_log`, on its own metadata).

    `record_and_audit` is the one call for a use case that both announces and audits a change:
    the audit entry is read off the event (action from its type, changes from its fields), so
    the two can never tell different stories."""

    audit_log: ClassVar[Table]

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.session, self.audit_log, self.insert_at_commit)

    async def record_and_audit(
        self,
        actor: Actor,
        event: IntegrationEvent,
        *,
        entity_type: str,
        region_code: str,
        entity_id: str | None = None,
        action: str | None = None,
        changes: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Envelope:
        """Record `event` and its audit entry. Defaults: the entity is the event's aggregate,
        the action is its type without prefix and version (`branch.formed`), the changes are
        its fields but the aggregate id and region; `extra` adds what the event does not carry
        (a reason, a masked name)."""
        envelope = self.record(event)
        recorded = dict(event_changes(event) if changes is None else changes)
        recorded.update(extra or {})
        await self.audit.record(
            actor,
            action or event_action(event),
            entity_type=entity_type,
            entity_id=entity_id or event.aggregate_id(),
            region_code=region_code,
            changes=recorded,
        )
        return envelope


def event_action(event: IntegrationEvent) -> str:
    """`pb.registry.branch.formed` -> `branch.formed`."""
    return ".".join(event.event_type.split(".")[2:])


def event_changes(event: IntegrationEvent) -> dict[str, Any]:
    """An event's fields as an audit entry's changes: all but the aggregate id and region."""
    skip = {event.subject_field, "region_code"}
    return {k: v for k, v in event.model_dump(mode="json").items() if k not in skip}

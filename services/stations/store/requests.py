"""SQL for requests, their history and their SLA timers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update

from libs.common.db import Repository
from libs.common.subtree import within_region
from services.stations.domain.requests import HistoryEntry, Request, RequestFilter
from services.stations.domain.sla import Stage, TimerKind
from services.stations.store.tables import request_history, requests, sla_timers

_COLUMNS = tuple(f.name for f in fields(Request) if f.name != "history")
_ENTRY = tuple(f.name for f in fields(HistoryEntry))
#: The history's columns beside the request's in one joined row, named apart from them.
_HISTORY = tuple(request_history.c[name].label(f"history_{name}") for name in _ENTRY)


def _row(request: Request) -> dict[str, Any]:
    return {name: getattr(request, name) for name in _COLUMNS}


def _request(row: Mapping[Any, Any]) -> Request:
    return Request(**{name: row[name] for name in _COLUMNS})


class RequestRepository(Repository):
    async def get(self, request_id: str, *, for_update: bool = False) -> Request | None:
        row = await self.row_by_id(requests, request_id, for_update=for_update)
        return _request(row) if row else None

    async def get_with_history(
        self, request_id: str, *, for_update: bool = False
    ) -> Request | None:
        """The request and its whole history in one statement: one joined row per entry (every
        request has at least its placing); `for_update` locks the request's row only."""
        h = request_history.c
        statement = (
            select(requests, *_HISTORY)
            .outerjoin(request_history, h.request_id == requests.c.id)
            .where(requests.c.id == request_id)
            .order_by(h.id)
        )
        if for_update:
            statement = statement.with_for_update(of=requests)
        rows = (await self.session.execute(statement)).mappings().all()
        if not rows:
            return None
        entries = tuple(
            HistoryEntry(**{name: row[f"history_{name}"] for name in _ENTRY})
            for row in rows
            if row["history_at"] is not None
        )
        return replace(_request(rows[0]), history=entries)

    async def add(self, request: Request) -> None:
        await self.session.execute(insert(requests), [_row(request)])

    async def save(self, request: Request, *, expected_version: int) -> bool:
        result = await self.session.execute(
            update(requests)
            .where(requests.c.id == request.id, requests.c.version == expected_version)
            .values(**{k: v for k, v in _row(request).items() if k != "id"})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def add_history(self, request_id: str, entry: HistoryEntry) -> None:
        await self.session.execute(
            insert(request_history), [{"request_id": request_id, **asdict(entry)}]
        )

    def _where(self, where: RequestFilter) -> Any:
        t = requests.c
        statement = select(requests).where(within_region(t.region_code, where.region_code))
        if where.state is not None:
            statement = statement.where(t.state == where.state)
        if where.unit is not None:
            statement = statement.where(t.unit == where.unit)
        if where.category is not None:
            statement = statement.where(t.category == where.category)
        if where.requester is not None:
            statement = statement.where(
                t.requester_kind == where.requester[0], t.requester_id == where.requester[1]
            )
        if where.overdue_at is not None:
            statement = statement.where(
                ((t.state == "dispatched") & (t.accept_due_at < where.overdue_at))
                | ((t.state == "accepted") & (t.resolve_due_at < where.overdue_at))
            )
        return statement

    async def find(
        self, where: RequestFilter, *, after: tuple[str, str] | None, limit: int
    ) -> list[Request]:
        t = requests.c
        statement = self._where(where)
        if after is not None:
            statement = statement.where(tuple_(t.region_code, t.id) > after)
        statement = statement.order_by(t.region_code, t.id).limit(limit)
        return [_request(row) for row in (await self.session.execute(statement)).mappings()]

    async def placed_between(
        self, where: RequestFilter, since: datetime | None, until: datetime | None
    ) -> list[Request]:
        """Every request matching `where` placed in [since, until) (the stats' population)."""
        t = requests.c
        statement = self._where(where)
        if since is not None:
            statement = statement.where(t.placed_at >= since)
        if until is not None:
            statement = statement.where(t.placed_at < until)
        return [_request(row) for row in (await self.session.execute(statement)).mappings()]


class TimerRepository(Repository):
    async def schedule(
        self, request_id: str, stage: Stage, timers: Sequence[tuple[TimerKind, datetime]]
    ) -> None:
        if timers:
            await self.session.execute(
                insert(sla_timers),
                [
                    {
                        "request_id": request_id,
                        "stage": stage,
                        "kind": kind,
                        "due_at": due,
                        "done": False,
                    }
                    for kind, due in timers
                ],
            )

    async def cancel(self, request_id: str) -> None:
        """Every pending timer of the request (its stage ended: accepted, returned, closed)."""
        t = sla_timers.c
        await self.session.execute(
            update(sla_timers)
            .where(t.request_id == request_id, t.done.is_(False))
            .values(done=True)
        )

    async def due(self, now: datetime, limit: int) -> list[tuple[int, str, Stage, TimerKind]]:
        """Pending timers due by `now`, oldest first, locked against other workers (skipped by
        them on PostgreSQL; SQLite's writer lock serialises the workers anyway)."""
        t = sla_timers.c
        statement = (
            select(t.id, t.request_id, t.stage, t.kind)
            .where(t.done.is_(False), t.due_at <= now)
            .order_by(t.due_at, t.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self.session.execute(statement)).all()
        return [(row.id, row.request_id, row.stage, row.kind) for row in rows]

    async def fired(self, timer_ids: Sequence[int], at: datetime) -> None:
        if timer_ids:
            t = sla_timers.c
            await self.session.execute(
                update(sla_timers).where(t.id.in_(list(timer_ids))).values(done=True, fired_at=at)
            )

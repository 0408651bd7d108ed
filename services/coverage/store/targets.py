"""SQL for coverage targets and where each region stands against them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update

from libs.common.db import Repository, dialect_insert
from libs.common.tables import utcnow
from services.coverage.domain.targets import Standing, Target
from services.coverage.store.tables import targets

_KEY = ("region_code", "metric", "scope", "due_on")


class TargetRepository(Repository):
    """The targets and their standings. Built once per transaction (`uow.targets`), it reads
    the regions that have targets once in it: they are few and change rarely."""

    _regions: set[str] | None = None

    async def put(self, target: Target, standing: Standing, set_by: str) -> None:
        row = {
            "region_code": target.region_code,
            "metric": target.metric,
            "scope": target.scope,
            "due_on": target.due_on,
            "rate_bp": target.rate_bp,
            "standing": standing,
            "set_by": set_by,
            "updated_at": utcnow(),
            "judged_on": None,
        }
        # upsert_many keys on one column; a target's key is four
        statement = dialect_insert(self.session, targets)
        statement = statement.on_conflict_do_update(
            index_elements=[targets.c[k] for k in _KEY],
            set_={
                k: statement.excluded[k]
                for k in ("rate_bp", "standing", "set_by", "updated_at", "judged_on")
            },
        )
        await self.session.execute(statement, [row])
        if self._regions is not None:
            self._regions.add(target.region_code)

    async def regions(self) -> frozenset[str]:
        """Every region that has a target."""
        if self._regions is None:
            rows = await self.session.execute(select(targets.c.region_code).distinct())
            self._regions = {region for (region,) in rows}
        return frozenset(self._regions)

    async def in_regions(self, regions: Iterable[str]) -> list[tuple[Target, Standing]]:
        wanted = sorted(set(regions))
        if not wanted:
            return []
        rows = await self.session.execute(
            select(targets).where(targets.c.region_code.in_(wanted)).order_by(*_KEY)
        )
        return [(_target(r), r.standing) for r in rows]

    async def due_unjudged(self, today: date) -> list[Target]:
        """Targets whose due date has passed and that have not been judged yet."""
        rows = await self.session.execute(
            select(targets)
            .where(targets.c.due_on < today, targets.c.judged_on.is_(None))
            .order_by(*_KEY)
        )
        return [_target(r) for r in rows]

    async def mark_judged(self, judged: list[Target], today: date) -> None:
        await self._update_each(
            {"judged_on": bindparam("v_judged_on")},
            [(t, {"v_judged_on": today}) for t in judged],
        )

    async def set_standings(self, changed: list[tuple[Target, Standing]]) -> None:
        now = utcnow()
        await self._update_each(
            {"standing": bindparam("v_standing"), "updated_at": bindparam("v_at")},
            [(t, {"v_standing": s, "v_at": now}) for t, s in changed],
        )

    async def _update_each(
        self, values: dict[str, Any], rows: list[tuple[Target, dict[str, Any]]]
    ) -> None:
        """One UPDATE by target key, executed for every (target, its values) at once."""
        if not rows:
            return
        statement = (
            update(targets)
            .where(
                targets.c.region_code == bindparam("k_region"),
                targets.c.metric == bindparam("k_metric"),
                targets.c.scope == bindparam("k_scope"),
                targets.c.due_on == bindparam("k_due"),
            )
            .values(values)
        )
        await self.session.execute(
            statement,
            [
                {
                    "k_region": t.region_code,
                    "k_metric": t.metric,
                    "k_scope": t.scope,
                    "k_due": t.due_on,
                    **params,
                }
                for t, params in rows
            ],
        )


def _target(row: Any) -> Target:
    return Target(row.region_code, row.metric, row.scope, row.due_on, row.rate_bp)

"""Valid inputs for tests: organisations with correct credit codes, areas, and outbox reads."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from libs.common.db import Database
from libs.common.tables import outbox
from libs.common.validators import credit_code_check_char

REGION = "140212"
#: 新荣区's townships as the published division codes hold them (古店镇, 花园屯镇).
TOWNSHIP = "140212101"
OTHER_TOWNSHIP = "140212102"


def credit_code(n: int, *, prefix: str = "91", region: str = REGION) -> str:
    """A valid credit code; prefix 91 is an enterprise, 92 an individual business (个体工商户)."""
    first17 = f"{prefix}{region}{n:09d}"
    return first17 + credit_code_check_char(first17)


def organization(n: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "credit_code": credit_code(n),
        "name": f"大同市新荣区测试企业{n}有限公司",
        "kind": "enterprise",
        "region_code": TOWNSHIP,
        "industry_code": "I6513",
        "staff_count": 12,
    }
    body.update(overrides)
    return body


def area(name: str = "新荣工业园区", **overrides: Any) -> dict[str, Any]:
    body = {"kind": "park", "name": name, "region_code": TOWNSHIP}
    body.update(overrides)
    return body


async def outbox_records(runtime: Any, type_prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of the events in a service's outbox (sent or not), oldest first, whose type
    starts with `type_prefix`."""
    return await stored_events(runtime.db, type_prefix)


async def stored_events(db: Database, type_prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """`outbox_records` of a service's database."""
    statement = select(outbox.c.type, outbox.c.data).order_by(outbox.c.seq)
    if type_prefix:
        statement = statement.where(outbox.c.type.startswith(type_prefix))
    async with db.read() as session:
        rows = (await session.execute(statement)).all()
    return [(str(row.type), json.loads(row.data)) for row in rows]


async def outbox_data(runtime: Any, type_name: str) -> list[dict[str, Any]]:
    """The data of a service's outbox events of one type, oldest first."""
    return [data for t, data in await outbox_records(runtime, type_name) if t == type_name]


async def announced(db: Database, kind: str) -> list[dict[str, Any]]:
    """The organisation states the registry's outbox (in `db`) announced as `kind`
    (`registered` or `updated`), oldest first: one event per file, or an import's files in its
    `organization.imported` events."""
    states: list[dict[str, Any]] = []
    for type_name, data in await stored_events(db, "pb.registry.organization."):
        if type_name == f"pb.registry.organization.{kind}.v1":
            states.append(data)
        elif type_name == "pb.registry.organization.imported.v1":
            states.extend(data[kind])
    return states


async def outbox_events(runtime: Any, type_name: str | None = None) -> list[dict[str, Any]]:
    """The events in a service's outbox (sent or not), oldest first, as `{"type", **data}`."""
    return [
        {"type": t, **data}
        for t, data in await outbox_records(runtime, type_name or "")
        if type_name is None or t == type_name
    ]

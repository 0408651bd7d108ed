"""What the coverage routes share: callers by scope, a read-only session, region parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.problems import FieldError, InvalidInput
from libs.common.service import RuntimeDep
from libs.common.validators import InvalidCode, canonical_region_code

Reader = Annotated[Principal, Depends(Scope("coverage:read"))]
Writer = Annotated[Principal, Depends(Scope("coverage:write"))]
Admin = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]


async def read_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """Reads do not take the writer's lock (SQLite) nor a transaction of their own for long."""
    async with runtime.db.read() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(read_session)]

AreaQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A park or commercial district id: its figures within the region",
    ),
]


def region_in_scope(region_code: str, principal: Principal) -> str:
    """The canonical region code, if the caller may read it (422 if not a code, 403 if not its)."""
    try:
        canonical = canonical_region_code(region_code)
    except InvalidCode as exc:
        raise InvalidInput(
            "not a division code", errors=[FieldError("region_code", exc.reason)]
        ) from None
    principal.ensure_covers(canonical)
    return canonical

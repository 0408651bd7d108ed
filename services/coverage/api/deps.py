"""What the coverage routes share: callers by scope, the unit of work (read-only for GETs), the
typed settings, region parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.service import settings_of, transaction
from libs.common.text import Text
from services.coverage.domain.regions import region_code as canonical_region
from services.coverage.service import CoverageUnitOfWork
from services.coverage.settings import CoverageSettings

Reader = Annotated[Principal, Depends(Scope("coverage:read"))]
Writer = Annotated[Principal, Depends(Scope("coverage:write"))]
Admin = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]

# scope="function": the transaction commits before the response leaves, so a failed commit is
# an error response, never a 2xx for something that was not stored.
UnitOfWorkDep = Annotated[
    CoverageUnitOfWork, Depends(transaction(CoverageUnitOfWork), scope="function")
]
#: Reads do not take the writer's lock (SQLite) nor a transaction of their own for long.
ReadUnitOfWorkDep = Annotated[
    CoverageUnitOfWork, Depends(transaction(CoverageUnitOfWork, readonly=True))
]
#: A GET that reads with one query (a region's live figures): on PostgreSQL no transaction
#: around it, one round trip where BEGIN and COMMIT made three (each a wait for the server on
#: cores the projection keeps busy). A second query would read another snapshot.
StatementUnitOfWorkDep = Annotated[
    CoverageUnitOfWork, Depends(transaction(CoverageUnitOfWork, one_statement=True))
]
Settings = Annotated[CoverageSettings, Depends(settings_of(CoverageSettings))]

AreaQuery = Annotated[
    Text | None,
    Query(
        max_length=64,
        description="A park or commercial district id: its figures within the region",
    ),
]


def region_in_scope(region_code: str, principal: Principal) -> str:
    """The canonical region code, if the caller may read it (422 if not a code, 403 if not its)."""
    canonical = canonical_region(region_code)
    principal.ensure_covers(canonical)
    return canonical

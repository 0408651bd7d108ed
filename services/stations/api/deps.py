"""What the stations routes take from a request: the caller, a unit of work, the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from libs.common.auth import Principal, Scope
from libs.common.service import settings_of, transaction
from services.stations.service import StationsUnitOfWork
from services.stations.settings import StationsSettings

Reader = Annotated[Principal, Depends(Scope("stations:read"))]
Writer = Annotated[Principal, Depends(Scope("stations:write"))]

# scope="function": the transaction commits before the response leaves, so a failed commit is
# an error response, never a 201 for something that was not stored.
Transaction = Annotated[
    StationsUnitOfWork, Depends(transaction(StationsUnitOfWork), scope="function")
]
#: For GETs: a read session (no writer lock on SQLite), nothing recorded, nothing committed.
ReadSession = Annotated[StationsUnitOfWork, Depends(transaction(StationsUnitOfWork, readonly=True))]

SettingsDep = Annotated[StationsSettings, Depends(settings_of(StationsSettings))]

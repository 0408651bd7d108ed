"""What the registry's routes take from a request: the caller, a unit of work, settings, rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.audit import Actor
from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.service import settings_of, transaction
from services.registry.domain.organizations import Rules
from services.registry.service import RegistryUnitOfWork
from services.registry.settings import RegistrySettings

Reader = Annotated[Principal, Depends(Scope("registry:read"))]
Writer = Annotated[Principal, Depends(Scope("registry:write"))]
Administrator = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]

# scope="function": the transaction commits before the response leaves, so a failed commit is
# an error response, never a 201 for something that was not stored.
Transaction = Annotated[
    RegistryUnitOfWork, Depends(transaction(RegistryUnitOfWork), scope="function")
]
#: For GETs: a read session (no writer lock on SQLite), nothing recorded, nothing committed.
ReadSession = Annotated[RegistryUnitOfWork, Depends(transaction(RegistryUnitOfWork, readonly=True))]

registry_settings = settings_of(RegistrySettings)
SettingsDep = Annotated[RegistrySettings, Depends(registry_settings)]


async def rules(request: Request) -> Rules:
    """Async, as every dependency on the write path: a plain `def` is run in the thread pool.
    It reads the settings itself rather than through `SettingsDep`: FastAPI's solving of each
    dependency costs a write ~30-50 µs of CPU."""
    return (await registry_settings(request)).rules()


RulesDep = Annotated[Rules, Depends(rules)]


def actor_of(principal: Principal) -> Actor:
    return Actor.of(principal)

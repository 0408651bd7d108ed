"""What the stations routes take from a request: the caller, a unit of work, the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from libs.common.auth import Principal, Scope, current_principal
from libs.common.problems import Forbidden
from libs.common.service import settings_of, transaction
from services.stations.domain.requests import Party
from services.stations.domain.sla import LoopRules
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


def loop_rules(settings: SettingsDep) -> LoopRules:
    return settings.loop_rules()


RulesDep = Annotated[LoopRules, Depends(loop_rules)]


#: A unit's token carries `stations:unit:<unit>`: it sees and moves only what is dispatched to
#: that unit. A requester's token carries `stations:request`, its subject `<kind>:<id>`
#: (`worker:7f3c...`): it places requests and rates its own.
UNIT_SCOPE_PREFIX = "stations:unit:"
REQUESTER_SCOPE = "stations:request"


def party_of(principal: Principal, *, moving: bool) -> Party:
    """Who the caller is in the request loop: the office (`stations:write`, or `stations:read`
    for reading), a unit, or a requester; 403 for a token that is none of them."""
    scopes = principal.scopes
    if "stations:write" in scopes:
        return Party("office", principal.subject)
    units = sorted(
        s.removeprefix(UNIT_SCOPE_PREFIX) for s in scopes if s.startswith(UNIT_SCOPE_PREFIX)
    )
    if units:
        return Party("unit", principal.subject, unit=units[0])
    if REQUESTER_SCOPE in scopes:
        return Party("requester", principal.subject)
    if not moving and "stations:read" in scopes:
        return Party("office", principal.subject)
    raise Forbidden("the token has no part in the request loop (office, unit or requester)")


#: Any authenticated caller; the route asks `party_of` what part it has.
Caller = Annotated[Principal, Depends(current_principal)]

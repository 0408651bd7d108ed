"""What the registry's routes take from a request: the caller, its scopes, the rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.common.audit import Actor
from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from services.registry.domain.organizations import Rules
from services.registry.settings import RegistrySettings

Reader = Annotated[Principal, Depends(Scope("registry:read"))]
Writer = Annotated[Principal, Depends(Scope("registry:write"))]
Administrator = Annotated[Principal, Depends(Scope(ADMIN_SCOPE))]


def registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.runtime.settings
    return settings


def rules(request: Request) -> Rules:
    return registry_settings(request).rules()


SettingsDep = Annotated[RegistrySettings, Depends(registry_settings)]
RulesDep = Annotated[Rules, Depends(rules)]


def actor_of(principal: Principal) -> Actor:
    return Actor.of(principal)

"""What the registry's routes take from a request: the caller, its scopes, the rules; the HTTP
helpers (If-Match, cursors, subtree) come from `libs.common.http`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from libs.common.audit import Actor
from libs.common.auth import ADMIN_SCOPE, Principal, Scope
from libs.common.problems import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from services.registry.domain.organizations import (
    DuplicateCreditCode,
    NotActive,
    OrganizationNotFound,
    Rules,
    StaleVersion,
)
from services.registry.domain.regions import AreaMisplaced, UnknownRegion
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


@contextmanager
def refusals() -> Iterator[None]:
    """The registry's domain exceptions as problem+json, in one place for every route."""
    try:
        yield
    except DuplicateCreditCode as exc:
        raise Conflict(
            str(exc),
            errors=[FieldError("credit_code", "already registered")],
            extra={"existing_id": exc.existing_id},
        ) from exc
    except OrganizationNotFound as exc:
        raise NotFound("organisation not found") from exc
    except StaleVersion as exc:
        raise PreconditionFailed(
            f"the organisation is at version {exc.current}, not {exc.expected}: read it again",
            extra={"current_version": exc.current},
        ) from exc
    except NotActive as exc:
        raise Conflict(
            "the organisation is deregistered; its file is closed",
            extra={"organization_id": exc.organization_id},
        ) from exc
    except (UnknownRegion, AreaMisplaced) as exc:
        raise InvalidInput(
            f"invalid {exc.field}: {exc.reason}", errors=[FieldError(exc.field, exc.reason)]
        ) from exc

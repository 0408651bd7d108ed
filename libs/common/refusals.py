"""The plain bases of every domain refusal: not found, stale, rule broken, conflict, invalid.

Domain code raises subclasses of these (`OrganizationNotFound(NotFound)`, ...) without knowing
about HTTP; `libs.common.problems` maps each base to one problem+json shape, once for every
service. Plain Python only: `services.*.domain` may import this module and nothing else of ours
but `libs.common.validators`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Refusal(Exception):
    """A refusal the caller can understand and act on.

    `message` is the sentence a caller reads; `fields` names the inputs at fault (field, reason);
    `context` holds the machine-readable facts (the rule, the ids concerned) the response carries.
    """

    def __init__(
        self,
        message: str,
        *,
        fields: Sequence[tuple[str, str]] = (),
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)
        self.context = dict(context or {})


class NotFound(Refusal):
    """What was asked for does not exist, or not for this caller (outside its region)."""


class Stale(Refusal):
    """The caller changed a version it no longer holds: `current` is the version now stored."""

    def __init__(self, message: str, *, expected: int | None, current: int) -> None:
        super().__init__(message, context={"current_version": current})
        self.expected = expected
        self.current = current


class RuleBroken(Refusal):
    """A domain rule refused the change: `rule` names it (e.g. `standalone_min_full_members`),
    `organization_ids` the organisations it concerns (each once, sorted)."""

    def __init__(
        self,
        rule: str,
        message: str,
        organization_ids: Sequence[str] = (),
        *,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        concerned = sorted(set(organization_ids))
        super().__init__(
            message, context={"rule": rule, "organization_ids": concerned, **(context or {})}
        )
        self.rule = rule
        self.organization_ids = concerned


class Conflict(Refusal):
    """The change clashes with what is stored (a duplicate, a closed file, a job running)."""


class Invalid(Refusal):
    """An input the rules cannot accept, named by its field."""

    def __init__(self, field: str, reason: str, *, message: str | None = None) -> None:
        super().__init__(message or f"invalid {field}: {reason}", fields=[(field, reason)])
        self.field = field
        self.reason = reason

"""Domain errors and their one mapping to RFC 9457 problem+json responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common.logging import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://pb.example.org/problems/"

log = get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One rejected input: where it is (`field`, dotted) and why."""

    field: str
    reason: str


class DomainError(Exception):
    """A refusal the caller can understand. Subclasses set status, type and title."""

    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}


class InvalidInput(DomainError):
    status = 422
    type = "validation-error"
    title = "The request is not valid"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class RuleViolation(DomainError):
    """A domain rule refused the change; `extra` names the rule and the objects involved."""

    status = 422
    type = "rule-violation"
    title = "A domain rule refused the change"


class PreconditionFailed(DomainError):
    status = 412
    type = "precondition-failed"
    title = "The resource changed since it was read"


class Unauthorized(DomainError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


@dataclass
class Problem:
    status: int
    type: str
    title: str
    detail: str
    instance: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": self.instance,
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "reason": e.reason} for e in self.errors]
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "credit_code") -> "credit_code"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_reason(err: dict[str, Any]) -> str:
    message = str(err.get("msg", "is not valid"))
    # pydantic prefixes custom ValueError messages with "Value error, "
    return message.removeprefix("Value error, ")


def install_problem_handlers(app: FastAPI) -> None:
    """Every failure, validation included, leaves as problem+json."""

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return Problem(
            exc.status, exc.type, exc.title, exc.detail, request.url.path, exc.errors, exc.extra
        ).response(headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(_field_path(e.get("loc", ())), _validation_reason(e)) for e in exc.errors()
        ]
        fields = ", ".join(sorted({e.field for e in errors}))
        return Problem(
            422,
            InvalidInput.type,
            InvalidInput.title,
            f"invalid input: {fields}",
            request.url.path,
            errors,
        ).response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return Problem(
            exc.status_code, f"http-{exc.status_code}", title, str(exc.detail), request.url.path
        ).response(dict(exc.headers) if exc.headers else None)

    @app.exception_handler(IntegrityError)
    async def on_integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Use cases check uniqueness first; this is the race two requests can still run into
        # (both passed the check, the store's unique index refused the second). The driver's
        # message can quote stored values, so only the constraint's kind is logged.
        log.warning("write refused by a store constraint", path=request.url.path)
        return Problem(
            409,
            Conflict.type,
            Conflict.title,
            "a concurrent change conflicted with this one: read the resource again and retry",
            request.url.path,
        ).response()

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return Problem(
            500,
            "internal-error",
            "Internal error",
            "the service failed to handle the request; it has been logged",
            request.url.path,
        ).response()

"""RFC 9457 problem+json: the HTTP problems a route can raise, and the one mapping of every
domain refusal (`libs.common.refusals`) and failure to a problem response."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common import refusals
from libs.common.logging import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://pb.example.org/problems/"

log = get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One rejected input: where it is (`field`, dotted) and why."""

    field: str
    reason: str


class HttpProblem(Exception):
    """An HTTP problem response raised as an exception. Subclasses set status, type and title.

    Routes raise these only for what is about HTTP itself (a header, a cursor, a token); the
    domain raises `refusals.*`, which `problem_of` maps."""

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


class InvalidInput(HttpProblem):
    status = 422
    type = "validation-error"
    title = "The request is not valid"


class NotFound(HttpProblem):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(HttpProblem):
    status = 409
    type = "conflict"
    title = "Conflict"


class RuleViolation(HttpProblem):
    """A domain rule refused the change; `extra` names the rule and the objects involved."""

    status = 422
    type = "rule-violation"
    title = "A domain rule refused the change"


class PreconditionFailed(HttpProblem):
    status = 412
    type = "precondition-failed"
    title = "The resource changed since it was read"


class PreconditionRequired(HttpProblem):
    """A change to a versioned resource came without `If-Match`."""

    status = 428
    type = "precondition-required"
    title = "If-Match is required"


class UnsupportedMediaType(HttpProblem):
    """A body in a media type the operation does not take; `extra["accepted"]` lists them."""

    status = 415
    type = "unsupported-media-type"
    title = "The body's media type is not supported"


class Unauthorized(HttpProblem):
    """No token (`invalid_token=False`: the challenge names no error), or one refused: then the
    challenge says `error="invalid_token"` with the detail as its description (RFC 6750)."""

    status = 401
    type = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, *, invalid_token: bool = True) -> None:
        super().__init__(detail)
        self.invalid_token = invalid_token

    def challenge(self) -> str:
        if not self.invalid_token:
            return "Bearer"
        description = self.detail.replace("\\", "").replace('"', "'")
        return f'Bearer error="invalid_token", error_description="{description}"'


class Forbidden(HttpProblem):
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


ProblemMap = Mapping[type[refusals.Refusal], Callable[[Any], HttpProblem]]
"""Service-specific shapes for some refusals (by class, most specific first in the MRO)."""


def _field_errors(refusal: refusals.Refusal) -> list[FieldError]:
    return [FieldError(name, reason) for name, reason in refusal.fields]


def problem_of(refusal: refusals.Refusal, overrides: ProblemMap | None = None) -> HttpProblem:
    """The one mapping of a domain refusal to problem+json: a service's override for its class
    (or a base of it), else by its base: not found 404, stale 412, rule broken 422
    `rule-violation`, conflict 409, invalid 422 `validation-error`."""
    for cls in type(refusal).__mro__:
        make = (overrides or {}).get(cls)
        if make is not None:
            return make(refusal)
    kind: type[HttpProblem] = HttpProblem
    if isinstance(refusal, refusals.NotFound):
        kind = NotFound
    elif isinstance(refusal, refusals.Stale):
        kind = PreconditionFailed
    elif isinstance(refusal, refusals.RuleBroken):
        kind = RuleViolation
    elif isinstance(refusal, refusals.Conflict):
        kind = Conflict
    elif isinstance(refusal, refusals.Invalid):
        kind = InvalidInput
    return kind(refusal.message, errors=_field_errors(refusal), extra=refusal.context)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "credit_code") -> "credit_code"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def malformed_json(document: str | bytes, position: int, message: str) -> FieldError:
    """The `body` error of a document that is not JSON, where the parser stopped."""
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return FieldError("body", f"malformed JSON at line {line} column {column}: {message}")


def _field_errors_of(exc: RequestValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid" and len(loc) == 2 and isinstance(loc[1], int):
            message = str(err.get("ctx", {}).get("error", "not JSON")).lower()
            errors.append(malformed_json(exc.body or "", loc[1], message))
        else:
            errors.append(FieldError(_field_path(loc), _validation_reason(err)))
    return errors


def _validation_reason(err: dict[str, Any]) -> str:
    message = str(err.get("msg", "is not valid"))
    # pydantic prefixes custom ValueError messages with "Value error, "
    return message.removeprefix("Value error, ")


def _respond(request: Request, exc: HttpProblem) -> JSONResponse:
    headers = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": exc.challenge()}
    elif exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return Problem(
        exc.status, exc.type, exc.title, exc.detail, request.url.path, exc.errors, exc.extra
    ).response(headers)


#: What a 503 for an unreachable store asks the client to wait before retrying.
STORE_RETRY_AFTER_SECONDS = 1


def install_problem_handlers(app: FastAPI, overrides: ProblemMap | None = None) -> None:
    """Every failure, validation included, leaves as problem+json; domain refusals through
    `problem_of` with the service's `overrides`."""

    @app.exception_handler(HttpProblem)
    async def on_http_problem(request: Request, exc: HttpProblem) -> JSONResponse:
        return _respond(request, exc)

    @app.exception_handler(refusals.Refusal)
    async def on_refusal(request: Request, exc: refusals.Refusal) -> JSONResponse:
        return _respond(request, problem_of(exc, overrides))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors_of(exc)
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

    @app.exception_handler(DBAPIError)
    async def on_store_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # A lost or refused connection (PostgreSQL restarted, a connection cut, SQLite's lock
        # held too long) is not the request's fault and nothing was committed: 503, retry.
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            log.warning("store unavailable", path=request.url.path, error=type(exc.orig).__name__)
            return Problem(
                503,
                "store-unavailable",
                "The store is unavailable",
                "the service could not reach its database; nothing was changed: retry shortly",
                request.url.path,
            ).response({"Retry-After": str(STORE_RETRY_AFTER_SECONDS)})
        return await on_unexpected(request, exc)

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

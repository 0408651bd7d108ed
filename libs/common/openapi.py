"""The OpenAPI document of a service, completed so that it says what the service answers.

FastAPI documents what it can see in a route's signature; the rest is added here, in one place,
from what every route shares (`libs.common.service.build_app`): every problem is
`application/problem+json` with the `Problem` schema (`ValidationProblem` for 422, naming each
field); 401/403 on every operation that takes a token; 404 where the path names a resource;
409 on every write; 412/428 and a required `If-Match` where the route takes one; 304 and
`If-None-Match` on a GET that sends an `ETag`; 415 where there is a request body; operation ids
`<service>_<route function>`; the servers from the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from libs.common.auth import current_principal
from libs.common.pagination import LINK_HEADER, paging
from libs.common.problems import PROBLEM_BASE, PROBLEM_JSON

#: Methods that change something: the store can refuse them with a conflict (409).
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "description": "One rejected input: where it is and why.",
    "properties": {
        "field": {
            "type": "string",
            "description": "Dotted path of the field (`people.3.phone`), a query parameter's "
            "name, or `body` for the whole body",
        },
        "reason": {"type": "string", "description": "Why it was refused"},
    },
    "required": ["field", "reason"],
    "example": {"field": "credit_code", "reason": "check character does not match"},
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem. Further members (`current_version`, `max_bytes`, "
    "`rule`, ...) may say more for some problem types.",
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"What kind of problem: {PROBLEM_BASE}<kind>",
        },
        "title": {"type": "string", "description": "The kind in words; the same for every one"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "This occurrence, in words"},
        "instance": {"type": "string", "description": "The path of the request"},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
    "example": {
        "type": f"{PROBLEM_BASE}not-found",
        "title": "Not found",
        "status": 404,
        "detail": "organisation not found",
        "instance": "/v1/organizations/0b7d6c1e-3f0a-4d8e-9a51-2c7f4e1b9d20",
    },
}

VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A problem naming each rejected field (`validation-error`), or a domain "
    "rule that refused the change (`rule-violation`).",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
            },
        },
    ],
    "example": {
        "type": f"{PROBLEM_BASE}validation-error",
        "title": "The request is not valid",
        "status": 422,
        "detail": "invalid input: body",
        "instance": "/v1/organizations",
        "errors": [{"field": "body", "reason": "malformed JSON at line 1 column 12"}],
    },
}

BEARER_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A signed token naming the caller (`sub`), the region it answers for "
    "(`region`, a division code: it sees and changes only that subtree) and its scopes "
    "(`scope`, e.g. `registry:read registry:write`); it lives at most PB_AUTH_TOKEN_MAX_HOURS.",
}

#: What a tag groups, where the routes do not say.
TAG_DESCRIPTIONS: dict[str, str] = {
    "operations": "Health, readiness and metrics of the process (no token)",
}

_STANDARD: dict[int, str] = {
    304: "Not modified: the ETag in If-None-Match is the current one (no body)",
    401: "No bearer token, or one refused (the WWW-Authenticate challenge says why)",
    403: "The token lacks the scope, or the region named is outside the caller's",
    404: "Not found, or outside the caller's region",
    409: "Conflicts with the current state (a duplicate, or a concurrent change)",
    412: "If-Match names a version that is no longer current (weak tags never match)",
    415: "The body's media type is not one the operation takes",
    422: "The request is not valid (each field named) or a domain rule refused it",
    428: "If-Match is required: send the ETag of the version read",
}

_HEADER_DOCS: dict[str, dict[str, Any]] = {
    "WWW-Authenticate": {
        "description": 'The Bearer challenge (RFC 6750); error="invalid_token" when a token '
        "was sent and refused",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": 'The version of the resource as a strong entity tag, e.g. "3"',
        "schema": {"type": "string"},
    },
}


def operation_ids(service: str) -> Callable[[APIRoute], str]:
    """`generate_unique_id_function` of a service: `<service>_<route function>`, e.g.
    `registry_read_organization` (stable while the function keeps its name)."""

    def generate(route: APIRoute) -> str:
        return f"{service}_{route.name}"

    return generate


def servers(public_url: str) -> list[dict[str, str]]:
    """The relative `/` (wherever the document was fetched from), then the public URL if set."""
    found = [{"url": "/", "description": "The host this document was served from"}]
    if public_url:
        found.append({"url": public_url.rstrip("/") or "/", "description": "Public URL"})
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    schema = "ValidationProblem" if status == 422 else "Problem"
    return {
        "description": description or _STANDARD.get(status, "A problem"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _add(responses: dict[str, Any], status: int) -> None:
    """Documents `status` as a problem unless the route documented it itself (then only the
    problem schema is filled in where the route left it out)."""
    key = str(status)
    if key not in responses:
        responses[key] = _problem(status)
        return
    content = responses[key].setdefault("content", {})
    content.pop("application/json", None)
    content.setdefault(PROBLEM_JSON, {}).setdefault(
        "schema", _problem(status)["content"][PROBLEM_JSON]["schema"]
    )


def _complete_operation(
    operation: dict[str, Any], method: str, dependant: Dependant, path_params: bool
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    calls = list(_calls(dependant))
    authenticated = any(call is current_principal for call in calls)
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    if_match = next((p for p in parameters if p["name"].lower() == "if-match"), None)

    # A query string or body can always be refused (the hostile-text guard runs everywhere).
    described = responses.get("422", {}).get("description")
    responses["422"] = _problem(422, None if described == "Validation Error" else described)
    if "requestBody" in operation:
        _add(responses, 415)
    if authenticated:
        _add(responses, 401)
        responses["401"]["headers"] = {"WWW-Authenticate": _HEADER_DOCS["WWW-Authenticate"]}
        _add(responses, 403)
        operation["security"] = [{"HTTPBearer": []}]
    else:
        operation["security"] = []  # public (health, metrics), said so explicitly
    if path_params:
        _add(responses, 404)
    if authenticated and method in WRITES:
        _add(responses, 409)
    if if_match is not None:
        if_match["name"] = "If-Match"
        if_match["required"] = True
        if_match["schema"] = {"type": "string", "example": '"3"'}
        _add(responses, 412)
        _add(responses, 428)
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response.get("content", {}).pop("application/json", None)
    success = responses.get("200", {})
    if any(call is paging for call in calls) and success:
        success.setdefault("headers", {})["Link"] = LINK_HEADER
    if method == "GET" and "ETag" in success.get("headers", {}):
        parameters.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "ETags already held: 304 without a body when one is current",
                "schema": {"type": "string", "example": '"3"'},
            }
        )
        operation["parameters"] = parameters
        responses["304"] = {
            "description": _STANDARD[304],
            "headers": {"ETag": _HEADER_DOCS["ETag"]},
        }
    operation["responses"] = dict(sorted(responses.items()))


def _models_in(annotation: Any, found: dict[str, type[BaseModel]]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if found.setdefault(annotation.__name__, annotation) is annotation:
            for model_field in annotation.model_fields.values():
                _models_in(model_field.annotation, found)
        return
    for argument in get_args(annotation):
        _models_in(argument, found)


def _restore_examples(document: dict[str, Any], routes: list[APIRoute]) -> None:
    """Puts back the models' examples as written: FastAPI drops every null from the document,
    examples included, which would leave an example missing its required-but-null fields."""
    models: dict[str, type[BaseModel]] = {}
    for route in routes:
        _models_in(route.response_model, models)
        if route.body_field is not None:
            _models_in(route.body_field.field_info.annotation, models)
        for response in route.responses.values():
            _models_in(response.get("model"), models)
    schemas = document["components"]["schemas"]
    for name, model in models.items():
        extra = model.model_config.get("json_schema_extra")
        if name in schemas and isinstance(extra, dict) and "examples" in extra:
            schemas[name]["examples"] = extra["examples"]


def complete(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The document with the shared problem schemas and what every route can answer."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    document["components"].setdefault("securitySchemes", {})["HTTPBearer"] = BEARER_SCHEME
    seen: dict[str, str] = {}
    documented: list[APIRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        documented.append(route)
        path = context.path_format
        for method in sorted(context.methods or ()):
            operation = document["paths"][path][method.lower()]
            where = f"{method} {path}"
            if operation["operationId"] in seen:
                raise ValueError(
                    f"operation id {operation['operationId']} of {where} is also "
                    f"{seen[operation['operationId']]}'s: rename one route function"
                )
            seen[operation["operationId"]] = where
            _complete_operation(
                operation, method, context.dependant, bool(context.dependant.path_params)
            )
    _restore_examples(document, documented)
    used = {
        tag
        for item in document["paths"].values()
        for op in item.values()
        for tag in op.get("tags", [])
    }
    declared = {tag["name"] for tag in document.get("tags", [])}
    document["tags"] = document.get("tags", []) + [
        {"name": tag, "description": TAG_DESCRIPTIONS.get(tag, f"The {tag} of the service")}
        for tag in sorted(used - declared)
    ]
    return document


def document_of(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document of `app`, completed."""
    return complete(
        get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            servers=app.servers,
        ),
        app,
    )


class ServiceApp(FastAPI):
    """A service's FastAPI application: its OpenAPI document is the completed one."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            self.openapi_schema = document_of(self)
        return self.openapi_schema

"""Each service's OpenAPI document tells the truth: served on real HTTP, every documented
operation is called with the error cases any client can produce (no token, a token without the
scope, an id that does not exist, a body that is not JSON, a body of another media type, no
If-Match), and the status and media type of each answer must be the ones the document lists for
that operation. The document itself must be valid OpenAPI (openapi-spec-validator)."""

from __future__ import annotations

import importlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from libs.common.problems import PROBLEM_JSON
from libs.common.service import ServiceDefinition
from libs.common.settings import ServiceSettings
from tests.harness import SQLITE_ONLY, NatsServer, RunningService, ServiceDatabases, serve, token

SERVICES = ("registry", "coverage", "stations", "training")
REGION = "140212"
PUBLIC_URL = "https://pb.example.org/api"
METHODS = ("get", "put", "post", "patch", "delete")


def _definition(service: str, settings: dict[str, Any]) -> ServiceDefinition:
    settings_module = importlib.import_module(f"services.{service}.settings")
    cls: type[ServiceSettings] = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings")
        and isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.model_fields["service_name"].default == service
    )
    app = importlib.import_module(f"services.{service}.app")
    definition: ServiceDefinition = app.definition(cls(**settings))
    return definition


@pytest.fixture(params=SERVICES)
async def running(
    request: pytest.FixtureRequest, nats_server: NatsServer, service_databases: ServiceDatabases
) -> AsyncIterator[RunningService]:
    service: str = request.param
    settings = {
        "database_url": await service_databases.url(service),
        "nats_url": nats_server.url,
        "public_url": PUBLIC_URL,
    }
    async with serve(_definition(service, settings)) as running:
        yield running


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.spec.get('operationId')})"

    @property
    def secured(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = self.spec.get("parameters", [])
        return parameters

    @property
    def takes_if_match(self) -> bool:
        return any(p["in"] == "header" and p["name"].lower() == "if-match" for p in self.parameters)

    @property
    def body_types(self) -> set[str]:
        return set(self.spec.get("requestBody", {}).get("content", {}))

    def url(self) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.endswith("_id"):
                return str(uuid.uuid4())
            if name in {"region_code", "code"}:
                return REGION
            if name == "day":
                return "2026-11-30"
            return "x"

        return re.sub(r"\{([^}]+)\}", value, self.path)

    @property
    def body_required(self) -> bool:
        return bool(self.spec.get("requestBody", {}).get("required"))

    @property
    def looks_up_ids_only(self) -> bool:
        """A GET whose only required inputs are ids in its path: a random one is a 404."""
        path_params = [p for p in self.parameters if p["in"] == "path"]
        others = [p for p in self.parameters if p["in"] != "path" and p.get("required")]
        return (
            self.method == "get"
            and bool(path_params)
            and all(p["name"].endswith("_id") for p in path_params)
            and not others
        )


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    calls: int = 0

    def check(
        self, operation: Operation, case: str, response: httpx.Response, expected: int | None
    ) -> None:
        """The answer's status is `expected` (when given) and documented for the operation,
        with the media type the document gives it."""
        self.calls += 1
        where = f"{operation.name} [{case}]"
        status = response.status_code
        if expected is not None and status != expected:
            self.problems.append(f"{where}: {status}, expected {expected}: {response.text[:200]}")
            return
        documented = operation.spec["responses"].get(str(status))
        if documented is None:
            self.problems.append(f"{where}: {status} is not documented")
            return
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        content = documented.get("content", {})
        if media_type not in content:
            self.problems.append(
                f"{where}: {status} answered {media_type!r}, documented {sorted(content)}"
            )


#: The main create and read operations of each service: their request and response bodies
#: carry an example (`request`: the JSON body's; every documented 2xx JSON answer's).
WITH_EXAMPLES: dict[str, dict[str, tuple[str, ...]]] = {
    "registry": {
        "register_organization": ("request", "response"),
        "read_organization": ("response",),
        "change_organization": ("request", "response"),
        "form_branch": ("request", "response"),
        "read_branch": ("response",),
        "submit_import": ("response",),
        "read_import": ("response",),
    },
    "coverage": {"read_rates": ("response",), "list_gaps": ("response",)},
    "stations": {
        "open_station": ("request", "response"),
        "read_station": ("response",),
        "place_request": ("request", "response"),
        "read_request": ("response",),
    },
    "training": {
        "apply_candidate": ("request", "response"),
        "read_candidate": ("response",),
        "add_course": ("request", "response"),
    },
}


def _schema_of(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _example_faults(document: dict[str, Any], service: str) -> list[str]:
    """Every example in the document's schemas is valid against its schema, and the main
    operations' bodies have one."""
    faults: list[str] = []
    for name, schema in document["components"]["schemas"].items():
        validator = Draft202012Validator({**schema, "components": document["components"]})
        for example in schema.get("examples", []):
            for error in validator.iter_errors(example):
                faults.append(f"example of {name} at {list(error.path)}: {error.message}")
    by_id = {o.spec["operationId"]: o for o in _operations(document)}
    for function, bodies in WITH_EXAMPLES[service].items():
        operation = by_id[f"{service}_{function}"].spec
        schemas = []
        if "request" in bodies:
            content = operation["requestBody"]["content"]
            schemas.append(("request", content["application/json"]["schema"]))
        if "response" in bodies:
            schemas += [
                (f"response {status}", answer["content"]["application/json"]["schema"])
                for status, answer in operation["responses"].items()
                if status.startswith("2") and "application/json" in answer.get("content", {})
            ]
        for where, schema in schemas:
            if not _schema_of(document, schema).get("examples"):
                faults.append(f"{service}_{function}: the {where} body has no example")
    return faults


def _operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


@SQLITE_ONLY
async def test_every_documented_error_case_is_answered_as_documented(
    running: RunningService,
) -> None:
    service = running.runtime.settings.service_name
    served = await running.client.get("/openapi.json")
    assert served.status_code == 200
    document = served.json()
    validate(document)  # valid OpenAPI 3.1 (raises, naming the first fault)

    assert document["servers"] == [
        {"url": "/", "description": "The host this document was served from"},
        {"url": PUBLIC_URL, "description": "Public URL"},
    ]
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert set(document["components"]["schemas"]) >= {"Problem", "ValidationProblem"}

    assert not _example_faults(document, service), "\n".join(_example_faults(document, service))

    operations = _operations(document)
    ids = [o.spec["operationId"] for o in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(rf"{service}_[a-z][a-z0-9_]*", i) for i in ids), ids

    everything = {"Authorization": f"Bearer {token(REGION)}"}
    nothing = {"Authorization": f"Bearer {token(REGION, scopes=())}"}
    findings = Findings()
    for op in operations:
        url = op.url()
        precondition = {"If-Match": "*"} if op.takes_if_match else {}
        for status in ("401", "403", "404", "409", "412", "415", "422", "428"):
            documented = op.spec["responses"].get(status)
            if documented is not None and PROBLEM_JSON not in documented.get("content", {}):
                findings.problems.append(f"{op.name}: {status} is not documented as a problem")

        if op.secured:
            answer = await running.client.request(op.method, url, headers=precondition)
            findings.check(op, "no token", answer, 401)
            if not answer.headers.get("www-authenticate", "").startswith("Bearer"):
                findings.problems.append(f"{op.name} [no token]: no Bearer challenge")
            answer = await running.client.request(
                op.method, url, headers={**nothing, **precondition}
            )
            # A route that asks the token for its part itself (stations' request loop) does so
            # after FastAPI has checked the body, which this call does not send: 422 then.
            body_first = op.body_required and answer.status_code == 422
            findings.check(op, "no scope", answer, None if body_first else 403)

        if "{" in op.path:
            answer = await running.client.request(
                op.method, url, headers={**everything, **precondition}
            )
            findings.check(op, "random id", answer, 404 if op.looks_up_ids_only else None)

        if "application/json" in op.body_types:
            answer = await running.client.request(
                op.method,
                url,
                content=b'{\n  "name": ',
                headers={**everything, **precondition, "Content-Type": "application/json"},
            )
            # A route reading its body by hand may first find the random id in its path gone.
            gone = "{" in op.path and answer.status_code == 404
            findings.check(op, "malformed JSON", answer, None if gone else 422)
            if answer.status_code == 422:
                errors = answer.json().get("errors", [])
                if not errors or errors[0]["field"] != "body":
                    findings.problems.append(f"{op.name} [malformed JSON]: errors {errors}")
                elif not errors[0]["reason"].startswith("malformed JSON at line 2 column"):
                    findings.problems.append(f"{op.name} [malformed JSON]: {errors[0]}")

        if op.body_types:
            answer = await running.client.request(
                op.method,
                url,
                content=b"plain words",
                headers={**everything, **precondition, "Content-Type": "text/plain"},
            )
            findings.check(op, "text/plain body", answer, 415)

        if op.takes_if_match:
            answer = await running.client.request(op.method, url, headers=everything)
            findings.check(op, "no If-Match", answer, 428)

    assert not findings.problems, "\n".join(findings.problems)
    assert findings.calls > len(operations)  # the cases ran

"""The generated event documentation: current, deterministic, valid AsyncAPI and JSON Schema."""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from libs.common.events import Envelope
from libs.common.inbox import Subscription
from tests.contracts.examples import example_event
from tools import docs
from tools.docs.schemas import inline_refs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "events"
EVENTS = docs.discover()

JSONSCHEMA: Any = (
    importlib.import_module("jsonschema") if importlib.util.find_spec("jsonschema") else None
)
needs_jsonschema = pytest.mark.skipif(JSONSCHEMA is None, reason="jsonschema is not installed")

HEADERS = [
    "ce-specversion",
    "ce-id",
    "ce-source",
    "ce-type",
    "ce-subject",
    "ce-time",
    "ce-datacontenttype",
    "ce-dataschema",
    "content-type",
    "Nats-Msg-Id",
    "traceparent",
]


@functools.cache
def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text("utf-8"))
    return document


def load_asyncapi() -> dict[str, Any]:
    """docs/events/asyncapi.yaml, parsed once per session (each test gets its own copy)."""
    return copy.deepcopy(_asyncapi())


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


# --------------------------------------------------------------------------------------------
# The folder is what the catalogue produces
# --------------------------------------------------------------------------------------------


def test_generated_files_are_current() -> None:
    diff = docs.check(DOCS, EVENTS)
    assert diff.ok, diff.describe(DOCS)


def test_generation_is_deterministic() -> None:
    assert docs.generate(EVENTS) == docs.generate(docs.discover())


def test_check_names_stale_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs.main([str(tmp_path)]) == 0
    assert docs.main([str(tmp_path), "--check"]) == 0
    schema = docs.schema_path(EVENTS.events[0].type_name)
    (tmp_path / "README.md").write_text("edited by hand\n")
    (tmp_path / schema).unlink()
    (tmp_path / "schemas" / "pb.registry.thing.retired.v1.json").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("not generated\n")

    diff = docs.check(tmp_path, EVENTS)
    assert diff.stale == ("README.md",)
    assert diff.missing == (schema,)
    assert diff.extra == ("notes.txt", "schemas/pb.registry.thing.retired.v1.json")

    capsys.readouterr()
    assert docs.main([str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err
    assert "make docs" in err
    assert "stale (differs): README.md" in err
    assert f"missing: {schema}" in err
    assert "extra (not generated): notes.txt" in err

    # Writing repairs everything but the file it did not make, which it leaves to a person.
    assert docs.main([str(tmp_path)]) == 1
    assert not (tmp_path / "schemas" / "pb.registry.thing.retired.v1.json").exists()
    assert docs.check(tmp_path, EVENTS) == docs.DocsDiff(extra=("notes.txt",))
    (tmp_path / "notes.txt").unlink()
    assert docs.main([str(tmp_path), "--check"]) == 0


def test_a_subscription_to_an_uncatalogued_type_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [
        spec
        for service in EVENTS.services
        for spec in importlib.import_module(f"services.{service}.app").definition().consumers
    ]
    if not specs:
        pytest.skip("no service consumes anything yet")
    spec = specs[0]
    ghost = Subscription("pb.nobody.thing.happened.v1", BaseModel, spec.subscriptions[0].handler)
    monkeypatch.setattr(spec, "subscriptions", [*spec.subscriptions, ghost])
    with pytest.raises(docs.DocsError, match=r"pb\.nobody\.thing\.happened\.v1"):
        docs.discover()
    assert docs.main([str(DOCS), "--check"]) == 2
    assert "cannot document the events" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# AsyncAPI
# --------------------------------------------------------------------------------------------


def test_asyncapi_yaml_and_json_are_the_same_document() -> None:
    assert load_asyncapi() == json.loads((DOCS / "asyncapi.json").read_text("utf-8"))


def test_asyncapi_document_shape() -> None:
    document = load_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["servers"]["local"] == {
        **document["servers"]["local"],
        "host": "127.0.0.1:4222",
        "protocol": "nats",
    }
    for ref in refs(document):
        resolve(document, ref)  # every reference points at something


def test_asyncapi_servers_are_real_and_secured() -> None:
    document = load_asyncapi()
    servers = document["servers"]
    production = servers["production"]
    assert production["host"] == "nats.partybuilding.svc.cluster.local:4222"
    assert production["x-tls"] == "required"
    assert "tls://" in production["description"]
    schemes = document["components"]["securitySchemes"]
    for name in ("production", "compose"):
        [scheme] = servers[name]["security"]
        assert resolve(document, scheme["$ref"]) == schemes["natsUserPassword"]
    assert schemes["natsUserPassword"]["type"] == "userPassword"
    # The hosts are those of the manifests, not invented here.
    service = (ROOT / "deploy" / "kubernetes" / "nats" / "service.yaml").read_text("utf-8")
    assert "name: nats\n  namespace: partybuilding" in service
    assert "port: 4222" in service


def _titled(node: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(title, path, schema as JSON) of every titled schema in a node."""
    found: list[tuple[str, str, str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("title"), str) and ("enum" in node or node.get("type") == "object"):
            found.append((node["title"], path, json.dumps(node, sort_keys=True)))
        for key, value in node.items():
            if key not in ("examples", "example"):
                found.extend(_titled(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_titled(value, f"{path}/{index}"))
    return found


def test_every_named_schema_has_a_title_unique_in_the_document() -> None:
    document = load_asyncapi()
    schemas: dict[str, set[str]] = {}
    for title, _path, schema in _titled(document["components"]):
        schemas.setdefault(title, set()).add(schema)
    repeated = sorted(title for title, found in schemas.items() if len(found) > 1)
    assert not repeated, f"titles naming different schemas: {repeated}"

    def untitled_enums(node: Any) -> int:
        if isinstance(node, dict):
            own = 1 if "enum" in node and "title" not in node else 0
            return own + sum(untitled_enums(v) for k, v in node.items() if k != "headers")
        if isinstance(node, list):
            return sum(untitled_enums(v) for v in node)
        return 0

    assert untitled_enums(document["components"]["schemas"]) == 0
    assert "BranchFormedKind" in schemas
    assert "OrganizationRegisteredKind" in schemas


@needs_jsonschema
@pytest.mark.parametrize("event", EVENTS.events, ids=lambda e: e.type_name)
def test_every_message_has_an_example_true_to_its_schemas(event: docs.EventDoc) -> None:
    validator = JSONSCHEMA.Draft202012Validator
    document = load_asyncapi()
    message = document["components"]["messages"][event.type_name]
    [example] = message["examples"]
    assert example["payload"] == event.entry.model.example()
    checker = validator.FORMAT_CHECKER
    validator(message["headers"], format_checker=checker).validate(example["headers"])
    payload = resolve(document, message["payload"]["$ref"])
    validator(payload, format_checker=checker).validate(example["payload"])
    assert example["headers"]["ce-subject"] == str(
        example["payload"][event.entry.model.subject_field]
    )


def test_asyncapi_names_every_catalogue_entry() -> None:
    document = load_asyncapi()
    assert EVENTS.events, "the catalogue is empty"
    assert sorted(document["channels"]) == sorted(e.type_name for e in EVENTS.events)
    for event in EVENTS.events:
        name = event.type_name
        channel = document["channels"][name]
        assert channel["address"] == name
        assert channel["x-jetstream"]["stream"] == event.stream == f"PB_{event.producer.upper()}"
        [message_ref] = channel["messages"].values()
        message = resolve(document, message_ref["$ref"])
        assert message["name"] == event.entry.model.__name__
        assert message["contentType"] == "application/json"
        assert set(HEADERS) <= set(message["headers"]["properties"])
        assert message["headers"]["properties"]["ce-type"]["const"] == name
        payload = resolve(document, message["payload"]["$ref"])
        exported = inline_refs(json.loads((DOCS / docs.schema_path(name)).read_text("utf-8")))
        assert payload["properties"] == exported["properties"]
        assert payload["required"] == exported["required"]

        operations = document["operations"]
        send = operations[f"{event.producer}.send.{name}"]
        assert send["action"] == "send"
        assert send["channel"] == {"$ref": f"#/channels/{name}"}
        assert event.stream in send["description"]
        receivers = {
            op["x-jetstream"]["durable"]: op
            for op in operations.values()
            if op["action"] == "receive" and op["channel"] == {"$ref": f"#/channels/{name}"}
        }
        assert sorted(receivers) == sorted(c.durable for c in event.consumers)
        for consumer in event.consumers:
            receive = receivers[consumer.durable]
            assert receive["x-jetstream"]["stream"] == consumer.stream
            assert consumer.durable in receive["description"]
            assert receive["messages"] == send["messages"]


def test_readme_lists_every_event() -> None:
    readme = (DOCS / "README.md").read_text("utf-8")
    for event in EVENTS.events:
        row = next(line for line in readme.splitlines() if f"| `{event.type_name}` |" in line)
        assert event.producer in row
        assert event.stream in row
        assert f"({docs.schema_path(event.type_name)})" in row
        assert event.entry.summary in row
        for consumer in event.consumers:
            assert f"{consumer.service}/`{consumer.durable}`" in row
    for needle in ("binary content", "Nats-Msg-Id", "vN+1", "nats.connect", "pull_subscribe"):
        assert needle in readme


# --------------------------------------------------------------------------------------------
# JSON Schemas
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS.events, ids=lambda e: e.type_name)
def test_schema_file_describes_the_event(event: docs.EventDoc) -> None:
    schema = json.loads((DOCS / docs.schema_path(event.type_name)).read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{event.type_name}.json")
    assert schema["title"] == event.message_name  # what code generators name the type
    # The summary is the docstring's whole first paragraph, never cut at a line break.
    assert " ".join(schema["description"].split("\n\n")[0].split()) == event.entry.summary
    assert event.entry.summary.endswith((".", ")"))
    assert schema["type"] == "object"
    assert schema["x-producer"] == event.producer
    assert event.entry.model.subject_field in schema["required"]
    assert schema.get("additionalProperties") is not False  # readers must tolerate additions


@needs_jsonschema
@pytest.mark.parametrize("optional", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("event", EVENTS.events, ids=lambda e: e.type_name)
def test_schema_is_valid_and_accepts_a_real_event(event: docs.EventDoc, optional: bool) -> None:
    validator = JSONSCHEMA.Draft202012Validator
    schema = json.loads((DOCS / docs.schema_path(event.type_name)).read_text("utf-8"))
    validator.check_schema(schema)
    instance = json.loads(example_event(event.entry.model, optional=optional).model_dump_json())
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(instance)
    broken = {k: v for k, v in instance.items() if k != event.entry.model.subject_field}
    assert not validator(schema).is_valid(broken)


@needs_jsonschema
@pytest.mark.parametrize("event", EVENTS.events, ids=lambda e: e.type_name)
def test_headers_schema_accepts_a_real_envelope(event: docs.EventDoc) -> None:
    validator = JSONSCHEMA.Draft202012Validator
    document = load_asyncapi()
    message = document["components"]["messages"][event.type_name]
    validator.check_schema(message["headers"])
    envelope = Envelope.wrap(example_event(event.entry.model), source=f"/pb/{event.producer}")
    traced = Envelope(
        **{**envelope.__dict__, "traceparent": f"00-{'1' * 32}-{'2' * 16}-01"},
    )
    for headers in (envelope.headers(), traced.headers()):
        validator(message["headers"], format_checker=validator.FORMAT_CHECKER).validate(headers)
    assert not validator(message["headers"]).is_valid(
        {**envelope.headers(), "ce-type": "pb.other.thing.happened.v1"}
    )

"""Consumer-driven contracts: each consumer's model against the producer's EXPORTED schema.

The producer's side is read from docs/events/schemas (what other teams and tools see), never
from the producer's Python class, so a service cannot import another to pass these tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel, ConfigDict

from tests.contracts.examples import example_event
from tools import docs
from tools.docs import ConsumerRef, EventDoc, EventMap

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
SCHEMAS = DOCS / "schemas"

JSON = dict[str, Any]

EVENTS: EventMap = docs.discover()

#: jsonschema is there as a dependency of kubernetes-validate; without it those checks are skipped.
JSONSCHEMA: Any = (
    importlib.import_module("jsonschema") if importlib.util.find_spec("jsonschema") else None
)


class Contract(NamedTuple):
    event: EventDoc
    consumer: ConsumerRef


CONTRACTS = [Contract(e, c) for e in EVENTS.events for c in e.consumers]


def exported_schema(type_name: str) -> JSON:
    path = DOCS / docs.schema_path(type_name)
    assert path.is_file(), f"{type_name} has no exported schema at {path}; run `make docs`"
    schema: JSON = json.loads(path.read_text(encoding="utf-8"))
    return schema


# --------------------------------------------------------------------------------------------
# Reading JSON Schemas: which JSON types, formats and values a property admits
# --------------------------------------------------------------------------------------------

_JSON_TYPE_OF: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is an int in Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return next(name for kind, name in _JSON_TYPE_OF if isinstance(value, kind))


def _resolve(node: JSON, root: JSON) -> JSON:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: JSON = root["$defs"][ref.removeprefix("#/$defs/")]
        return _resolve(target, root)
    return node


def _branches(node: JSON, root: JSON) -> Iterator[JSON]:
    """The alternatives a property may take (anyOf/oneOf flattened), references resolved."""
    node = _resolve(node, root)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            yield from _branches(alternative, root)
    else:
        yield node


def json_types(node: JSON, root: JSON) -> set[str] | None:
    """The JSON types `node` admits; None when it admits anything."""
    types: set[str] = set()
    for branch in _branches(node, root):
        if "const" in branch:
            types.add(_json_type(branch["const"]))
        elif "enum" in branch:
            types.update(_json_type(v) for v in branch["enum"])
        elif isinstance(branch.get("type"), str):
            types.add(branch["type"])
        elif isinstance(branch.get("type"), list):
            types.update(branch["type"])
        else:
            return None
    return types


def formats(node: JSON, root: JSON) -> set[str]:
    return {b["format"] for b in _branches(node, root) if "format" in b}


def values(node: JSON, root: JSON) -> set[Any] | None:
    """The values `node` is limited to (enum/const, null included); None when open."""
    allowed: set[Any] = set()
    for branch in _branches(node, root):
        if "const" in branch:
            allowed.add(branch["const"])
        elif "enum" in branch:
            allowed.update(branch["enum"])
        elif branch.get("type") == "null":
            allowed.add(None)
        else:
            return None
    return allowed


def _accepts(consumer: set[str] | None, producer: set[str] | None) -> bool:
    if consumer is None:
        return True
    if producer is None:
        return False
    return all(t in consumer or (t == "integer" and "number" in consumer) for t in producer)


def contract_problems(consumer_model: type[BaseModel], producer_schema: JSON) -> list[str]:
    """Why `consumer_model` cannot read every event valid under `producer_schema` (none: it can).

    Each field the consumer requires must be required by the producer; for each field both
    know, every JSON type the producer may send must be one the consumer accepts, with the
    formats the consumer expects and no value outside an enumeration the consumer declares.
    """
    consumer = consumer_model.model_json_schema(mode="validation")
    produced: JSON = producer_schema.get("properties", {})
    produced_required = set(producer_schema.get("required", []))
    problems: list[str] = []
    for name in consumer.get("required", []):
        if name not in produced:
            problems.append(f"{name}: required by the consumer, not in the producer's schema")
        elif name not in produced_required:
            problems.append(f"{name}: required by the consumer, optional in the producer's schema")
    for name, wanted in consumer.get("properties", {}).items():
        if name not in produced:
            continue
        sent = produced[name]
        sent_types = json_types(sent, producer_schema)
        read_types = json_types(wanted, consumer)
        if not _accepts(read_types, sent_types):
            problems.append(
                f"{name}: the producer sends {sorted(sent_types or ['anything'])}, "
                f"the consumer accepts {sorted(read_types or [])}"
            )
        missing_formats = formats(wanted, consumer) - formats(sent, producer_schema)
        if missing_formats:
            problems.append(
                f"{name}: the consumer expects format {sorted(missing_formats)}, "
                "the producer does not promise it"
            )
        read_values = values(wanted, consumer)
        sent_values = values(sent, producer_schema)
        if read_values is not None and (
            sent_values is None or not sent_values <= read_values | {None}
        ):
            may_send = "any value" if sent_values is None else sorted(map(str, sent_values))
            problems.append(
                f"{name}: the consumer accepts only {sorted(map(str, read_values))}, "
                f"the producer may send {may_send}"
            )
    return problems


# --------------------------------------------------------------------------------------------
# The contracts
# --------------------------------------------------------------------------------------------


def _contract_id(contract: Contract) -> str:
    return f"{contract.consumer.service}/{contract.consumer.durable}:{contract.event.type_name}"


def test_there_are_contracts_to_check() -> None:
    assert CONTRACTS, "no consumer subscribes to any catalogued event"


@pytest.mark.parametrize("contract", CONTRACTS, ids=_contract_id)
def test_consumer_reads_what_the_producer_exports(contract: Contract) -> None:
    schema = exported_schema(contract.event.type_name)
    problems = contract_problems(contract.consumer.model, schema)
    assert not problems, (
        f"{contract.consumer.model.__name__} of {contract.consumer.service} does not match "
        f"{contract.event.type_name}:\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize("optional", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("contract", CONTRACTS, ids=_contract_id)
def test_consumer_parses_an_event_the_producer_makes(contract: Contract, optional: bool) -> None:
    event = example_event(contract.event.entry.model, optional=optional)
    data = event.model_dump_json()
    if JSONSCHEMA is not None:
        validator = JSONSCHEMA.Draft202012Validator
        schema = exported_schema(contract.event.type_name)
        validator(schema, format_checker=validator.FORMAT_CHECKER).validate(json.loads(data))
    parsed = contract.consumer.model.model_validate_json(data)
    assert_read_as_made(parsed, event)


def assert_read_as_made(parsed: Any, made: Any, path: str = "") -> None:
    """What the consumer read is what the producer made, field by field (into nested models
    and lists of them: the consumer's model of a nested part is its own class)."""
    if isinstance(parsed, BaseModel):
        for name in parsed.model_fields_set:
            assert_read_as_made(
                getattr(parsed, name), getattr(made, name, getattr(parsed, name)), f"{path}.{name}"
            )
    elif isinstance(parsed, list) and isinstance(made, list):
        assert len(parsed) == len(made), path
        for index, (one, other) in enumerate(zip(parsed, made, strict=True)):
            assert_read_as_made(one, other, f"{path}[{index}]")
    else:
        assert parsed == made, path


@pytest.mark.parametrize("contract", CONTRACTS, ids=_contract_id)
def test_consumer_subscribes_on_the_producers_stream(contract: Contract) -> None:
    assert contract.consumer.stream == contract.event.stream, (
        f"{contract.consumer.durable} reads {contract.event.type_name} from "
        f"{contract.consumer.stream}, but {contract.event.producer} publishes into "
        f"{contract.event.stream}"
    )


@pytest.mark.parametrize("contract", CONTRACTS, ids=_contract_id)
def test_consumer_tolerates_fields_added_within_the_version(contract: Contract) -> None:
    data = example_event(contract.event.entry.model).model_dump(mode="json")
    data["a_field_added_later"] = {"nested": [1, 2]}
    contract.consumer.model.model_validate(data)


# --------------------------------------------------------------------------------------------
# The checker itself catches broken contracts
# --------------------------------------------------------------------------------------------

PRODUCED: JSON = {
    "type": "object",
    "properties": {
        "organization_id": {"type": "string"},
        "kind": {"type": "string", "enum": ["enterprise", "social_organization"]},
        "staff_count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "note": {"type": "string"},
        "registered_at": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
    },
    "required": ["organization_id", "kind", "registered_at"],
    "$defs": {"Tag": {"type": "string"}},
}


def test_checker_accepts_a_tolerant_reader() -> None:
    from datetime import datetime

    class Reader(BaseModel):
        model_config = ConfigDict(extra="ignore")
        organization_id: str
        kind: str
        staff_count: float | None = None
        registered_at: datetime
        tags: list[str] = []

    assert contract_problems(Reader, PRODUCED) == []


def test_checker_reports_each_kind_of_mismatch() -> None:
    from datetime import date
    from typing import Literal

    class Reader(BaseModel):
        organization_id: int  # the producer sends a string
        note: str  # optional in the producer
        missing: str  # not produced at all
        staff_count: int  # the producer may send null
        kind: Literal["enterprise"]  # the producer has another value
        registered_at: date  # the producer promises a date-time, not a date

    problems = "\n".join(contract_problems(Reader, PRODUCED))
    assert "organization_id: the producer sends ['string']" in problems
    assert "note: required by the consumer, optional" in problems
    assert "missing: required by the consumer, not in the producer's schema" in problems
    assert "staff_count: the producer sends ['integer', 'null']" in problems
    assert "kind: the consumer accepts only ['enterprise']" in problems
    assert "registered_at: the consumer expects format ['date']" in problems


# --------------------------------------------------------------------------------------------
# No personal data in any event
# --------------------------------------------------------------------------------------------

#: A person's ID number, phone or name, as a field name (snake_case, after camelCase split).
SENSITIVE_FIELD = re.compile(
    r"(^|_)("
    r"id_?(number|no|card)|identity_?(number|no|card)|citizen_?id|id_?card_?no"
    r"|phone|mobile|tel|telephone|cellphone|phone_?number|mobile_?number"
    r"|(person|real|full|contact|member|legal_person|legal_representative)_?name"
    r")(_|$)"
    r"|身份证|手机|电话|联系方式|姓名"
)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def is_sensitive(field_name: str) -> bool:
    return SENSITIVE_FIELD.search(_snake(field_name)) is not None


def property_names(node: Any) -> Iterator[str]:
    """Every property name anywhere in a schema, nested objects and `$defs` included."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            yield from properties
        for value in node.values():
            yield from property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from property_names(value)


@pytest.mark.parametrize(
    "name",
    [
        "id_number",
        "idNumber",
        "id_card",
        "phone",
        "contact_phone",
        "mobile",
        "mobile_number",
        "tel",
        "person_name",
        "contactName",
        "身份证号",
        "手机号",
        "姓名",
    ],
)
def test_sensitive_names_are_recognised(name: str) -> None:
    assert is_sensitive(name)


@pytest.mark.parametrize(
    "name",
    ["name", "organization_id", "region_code", "staff_count", "telemetry", "hotel", "kind"],
)
def test_ordinary_names_pass(name: str) -> None:
    assert not is_sensitive(name)


def test_exported_schemas_exist_for_every_event() -> None:
    files = sorted(p.name for p in SCHEMAS.glob("*.json"))
    assert files == sorted(Path(docs.schema_path(e.type_name)).name for e in EVENTS.events)


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_no_event_carries_personal_data(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    found = sorted({n for n in property_names(schema) if is_sensitive(n)})
    assert not found, (
        f"{path.name} has fields that look like a person's ID number, phone or name: {found}; "
        "events carry ids and facts only"
    )

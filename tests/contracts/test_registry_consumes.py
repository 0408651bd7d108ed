"""The registry's tolerant models of training's and stations' events against those producers'
EXPORTED schemas (docs/events/schemas), never their Python classes.

The schemas arrive with the producers' branches; until they are in docs/events/schemas these
tests are skipped, each saying which file it waits for. Once the producers are merged,
`tests/contracts/test_event_contracts.py` checks the same consumers generically as well; these
add events made from the schema alone, required fields only and all fields, and a hash check.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from libs.common.identity import IdentityKey
from services.registry.handlers import (
    CANDIDATE_STEPS,
    MEMBER_DECLARED,
    WorkerMemberDeclared,
    consumers,
)
from services.registry.settings import RegistrySettings
from tests.registry.producers import SHARED_KEY, keyed_hash

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events" / "schemas"

JSON = dict[str, Any]

CONSUMED: dict[str, type[BaseModel]] = {
    **{event_type: model for event_type, (model, _, _) in CANDIDATE_STEPS.items()},
    MEMBER_DECLARED: WorkerMemberDeclared,
}
STREAMS = {"pb.training.": "PB_TRAINING", "pb.stations.": "PB_STATIONS"}
#: Values of the code patterns the schemas give (libs/common/events.py, CODE_PATTERNS).
CODE_SAMPLES = ("140212101001", "91140212MA0L1B2C3G", "I6513")

JSONSCHEMA: Any = (
    importlib.import_module("jsonschema") if importlib.util.find_spec("jsonschema") else None
)


def producer_schema(event_type: str) -> JSON:
    path = SCHEMAS / f"{event_type}.json"
    if not path.is_file():
        pytest.skip(
            f"{path.relative_to(SCHEMAS.parents[2])} is not here yet: it comes with the "
            f"{event_type.split('.')[1]} service's branch (merge it, then this test runs)"
        )
    schema: JSON = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _sample(node: JSON, root: JSON) -> Any:
    """A value the producer's schema admits for one property (never null when it may be set)."""
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    if "$ref" in node:
        return _sample(root["$defs"][node["$ref"].removeprefix("#/$defs/")], root)
    for alternative in node.get("anyOf", []):
        if alternative.get("type") != "null":
            return _sample(alternative, root)
    kind = str(node.get("type", ""))
    if node.get("format") == "date":
        return "2026-11-30"
    if node.get("format") == "date-time":
        return "2026-11-30T08:00:00+00:00"
    if node.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000001"
    if "pattern" in node:  # a code: a division code, credit code or industry code
        return next(c for c in CODE_SAMPLES if re.search(node["pattern"], c))
    samples = {"string": "0" * 64, "integer": 1, "number": 1.5, "boolean": True, "array": []}
    return samples.get(kind, {})


def produced_event(schema: JSON, *, optional: bool) -> JSON:
    """An event the producer may send: its required fields, and the optional ones if asked."""
    required = set(schema.get("required", []))
    data = {
        name: _sample(node, schema)
        for name, node in schema.get("properties", {}).items()
        if optional or name in required
    }
    if JSONSCHEMA is not None:
        validator = JSONSCHEMA.Draft202012Validator
        validator(schema, format_checker=validator.FORMAT_CHECKER).validate(data)
    return data


@pytest.mark.parametrize("event_type", sorted(CONSUMED))
def test_the_model_reads_what_the_producer_exports(event_type: str) -> None:
    schema = producer_schema(event_type)
    checks = importlib.import_module("tests.contracts.test_event_contracts")
    problems = checks.contract_problems(CONSUMED[event_type], schema)
    assert not problems, f"{CONSUMED[event_type].__name__}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("optional", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("event_type", sorted(CONSUMED))
def test_the_model_parses_an_event_made_from_the_schema(event_type: str, optional: bool) -> None:
    data = produced_event(producer_schema(event_type), optional=optional)
    data["a_field_added_later"] = {"nested": [1]}
    parsed = CONSUMED[event_type].model_validate(data)
    for name in parsed.model_fields_set:
        assert json.loads(parsed.model_dump_json())[name] == data[name], name


@pytest.mark.parametrize("event_type", sorted(CONSUMED))
def test_the_registry_subscribes_on_the_producers_stream(event_type: str) -> None:
    streams = {
        s.event_type: spec.stream
        for spec in consumers(RegistrySettings())
        for s in spec.subscriptions
    }
    expected = next(stream for prefix, stream in STREAMS.items() if event_type.startswith(prefix))
    assert streams[event_type] == expected


def test_the_declared_keys_are_described_as_the_registrys_hashes() -> None:
    """Stations' `match_key` is the registry's keyed hash of the phone (label 'phone'),
    `id_match_key` that of the ID number (label 'id_number'), under the shared key."""
    schema = producer_schema(MEMBER_DECLARED)
    described = schema["properties"]["match_key"]["description"]
    assert "HMAC-SHA256" in described
    assert "'phone'" in described
    assert "'id_number'" in schema["properties"]["id_match_key"]["description"]


def test_the_registrys_hashes_are_the_contracts() -> None:
    """HMAC-SHA256 of `label NUL value`, hex: the registry's IdentityKey gives what the contract
    (written out in tests/registry/producers.py) says stations sends."""
    key = IdentityKey(RegistrySettings().identity_key.get_secret_value().encode())
    assert key.phone("13900000001") == keyed_hash("phone", "13900000001", SHARED_KEY)
    assert key.id_number("14021219900101001X") == keyed_hash(
        "id_number", "14021219900101001X", SHARED_KEY
    )

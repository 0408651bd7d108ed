"""Every catalogued event carries one realistic example, true to its model and its schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from libs.common.events import CatalogueEntry
from tools import docs

ENTRIES = [event.entry for event in docs.discover().events]


def _id(entry: CatalogueEntry) -> str:
    return entry.type_name


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_the_example_is_what_the_producer_would_send(entry: CatalogueEntry) -> None:
    example = entry.model.example()
    assert example is not None, (
        f"{entry.model.__name__} has no example: add `model_config = example({{...}})`"
    )
    event = entry.model.model_validate(example)
    # Every field written out, as the producer serialises it: nothing left to a default.
    assert json.loads(event.model_dump_json()) == example


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_the_example_is_valid_against_the_published_schema(entry: CatalogueEntry) -> None:
    schema: dict[str, Any] = docs.event_schema(entry)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(entry.model.example())
    assert schema["examples"] == [entry.model.example()]

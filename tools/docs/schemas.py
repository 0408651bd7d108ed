"""The JSON Schema (draft 2020-12) of each event's data, as its producer serialises it."""

from __future__ import annotations

import copy
from typing import Any

from libs.common.events import DEFAULT_SCHEMA_BASE_URL, CatalogueEntry, schema_url
from tools.docs.model import DocsError, docstring

JSON = dict[str, Any]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Where the schemas are published: each `$id`, and each event's `ce-dataschema` by default.
SCHEMA_BASE_URI = DEFAULT_SCHEMA_BASE_URL
SCHEMAS_DIR = "schemas"


def schema_path(type_name: str) -> str:
    """Where the schema of a versioned type lives, relative to the docs folder."""
    return f"{SCHEMAS_DIR}/{type_name}.json"


def _open_content(node: Any) -> Any:
    """Drop `additionalProperties: false`: within a version, events may gain optional fields."""
    if isinstance(node, dict):
        return {
            k: _open_content(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_open_content(v) for v in node]
    return node


def event_schema(entry: CatalogueEntry) -> JSON:
    """The JSON Schema (draft 2020-12) of an event's data, as its producer serialises it.

    Its title is the model's name (`BranchFormedV1`), which code generators name the type
    after; each enumeration in it has a title of its own (`BranchFormedKind`).
    """
    model = entry.model
    generated = _open_content(model.model_json_schema(mode="serialization"))
    generated.pop("title", None)
    generated.pop("description", None)
    schema: JSON = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_url(entry.type_name, SCHEMA_BASE_URI),
        "title": model.__name__,
        "description": docstring(model),
        "x-event-type": model.event_type,
        "x-event-version": model.event_version,
        "x-producer": entry.producer,
        "x-subject-field": model.subject_field,
    }
    schema.update(generated)
    return schema


def inline_refs(schema: JSON) -> JSON:
    """The schema without `$defs`: every local `#/$defs/X` reference replaced by X itself."""
    defs: JSON = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    raise DocsError(f"recursive schema {name!r} cannot be inlined")
                target = {k: v for k, v in node.items() if k != "$ref"}
                target.update(resolve(defs[name], (*seen, name)))
                return target
            return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, seen) for v in node]
        return node

    inlined: JSON = resolve(copy.deepcopy(schema), ())
    return inlined

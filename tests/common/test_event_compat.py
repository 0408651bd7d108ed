"""The compatibility check of published event schemas (tools/docs/compat.py)."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.docs import compat

JSON = dict[str, Any]

BEFORE: JSON = {
    "type": "object",
    "properties": {
        "organization_id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": ["enterprise", "social_organization"]},
        "staff_count": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "rate": {"type": "number"},
        "name": {"type": "string"},
        "area_ids": {"type": "array", "items": {"type": "string"}},
        "status": {"const": "discovered", "type": "string"},
        "place": {
            "type": "object",
            "properties": {"latitude": {"type": "number"}},
            "required": ["latitude"],
        },
    },
    "required": ["organization_id", "kind", "rate", "place"],
}


def changed(edit: Callable[[JSON], None]) -> JSON:
    after = copy.deepcopy(BEFORE)
    edit(after)
    return after


def test_an_identical_schema_is_compatible() -> None:
    assert compat.breaking_changes(BEFORE, copy.deepcopy(BEFORE)) == []


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda s: s["properties"].update(note={"type": "string"}), id="new optional field"
        ),
        pytest.param(
            lambda s: s["properties"]["kind"]["enum"].append("individual"), id="new enum value"
        ),
        pytest.param(
            lambda s: s["properties"]["name"].update(description="The registered name"),
            id="new description",
        ),
        pytest.param(
            lambda s: s["properties"]["name"].update(pattern="^.+$"), id="a pattern (review)"
        ),
        pytest.param(lambda s: s.update(examples=[{"kind": "enterprise"}]), id="an example"),
        pytest.param(lambda s: s["required"].remove("kind"), id="required made optional"),
    ],
)
def test_additive_changes_are_compatible(edit: Callable[[JSON], None]) -> None:
    assert compat.breaking_changes(BEFORE, changed(edit)) == []


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(
            lambda s: s["properties"].pop("name"), "name: field removed", id="removed field"
        ),
        pytest.param(
            lambda s: (
                s["properties"].update(branch_id={"type": "string"}),
                s["required"].append("branch_id"),
            ),
            "branch_id: new required field",
            id="new required field",
        ),
        pytest.param(
            lambda s: s["required"].append("name"),
            "name: optional field made required",
            id="optional made required",
        ),
        pytest.param(
            lambda s: s["properties"]["rate"].update(type="integer"),
            "rate: type narrowed, number no longer admitted",
            id="number narrowed to integer",
        ),
        pytest.param(
            lambda s: s["properties"].update(staff_count={"type": "integer"}),
            "staff_count: type narrowed, null no longer admitted",
            id="null no longer admitted",
        ),
        pytest.param(
            lambda s: s["properties"]["kind"]["enum"].remove("social_organization"),
            'kind: enum values removed: "social_organization"',
            id="removed enum value",
        ),
        pytest.param(
            lambda s: s["properties"]["name"].update(enum=["a", "b"]),
            "name: type narrowed, limited to an enumeration",
            id="limited to an enumeration",
        ),
        pytest.param(
            lambda s: s["properties"]["status"].update(const="declared"),
            'status: enum values removed: "discovered"',
            id="changed const",
        ),
        pytest.param(
            lambda s: s["properties"]["area_ids"].update(items={"type": "integer"}),
            "area_ids[]: type narrowed, string no longer admitted",
            id="array items narrowed",
        ),
        pytest.param(
            lambda s: s["properties"]["place"]["properties"].pop("latitude"),
            "place.latitude: field removed",
            id="nested field removed",
        ),
        pytest.param(
            lambda s: s["properties"].update(
                organization_id={"anyOf": [{"type": "string"}, {"type": "null"}]}
            ),
            "organization_id: type widened, now also admits null",
            id="null newly admitted",
        ),
        pytest.param(
            lambda s: s["properties"]["kind"].pop("enum"),
            "kind: type widened, no longer limited to its enumeration",
            id="enumeration opened",
        ),
    ],
)
def test_breaking_changes_are_found(edit: Callable[[JSON], None], reason: str) -> None:
    assert reason in compat.breaking_changes(BEFORE, changed(edit))


def test_references_to_defs_are_followed() -> None:
    before: JSON = {
        "type": "object",
        "properties": {"kind": {"$ref": "#/$defs/Kind"}},
        "$defs": {"Kind": {"type": "string", "enum": ["a", "b"]}},
    }
    after = copy.deepcopy(before)
    after["$defs"]["Kind"]["enum"] = ["a"]
    assert compat.breaking_changes(before, after) == ['kind: enum values removed: "b"']


def test_a_type_no_longer_published_is_breaking_and_a_new_one_is_not() -> None:
    problems = compat.compare(
        {"pb.x.y.z.v1.json": BEFORE}, {"pb.x.y.z.v2.json": BEFORE, "pb.x.y.w.v1.json": BEFORE}
    )
    assert problems == ["pb.x.y.z.v1: no longer published"]


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_the_committed_schemas_are_read_from_git(tmp_path: Path) -> None:
    schemas = tmp_path / "docs" / "events" / "schemas"
    schemas.mkdir(parents=True)
    (schemas / "pb.x.y.z.v1.json").write_text(json.dumps(BEFORE))
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "published")
    (schemas / "pb.x.y.z.v1.json").write_text("{}")  # not committed: not what was published

    assert compat.default_ref(tmp_path) is not None
    assert compat.committed_schemas("HEAD", cwd=tmp_path) == {"pb.x.y.z.v1.json": BEFORE}
    assert compat.committed_schemas("HEAD", folder="elsewhere", cwd=tmp_path) == {}

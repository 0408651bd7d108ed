"""The compatibility check: a published event schema never changes in a breaking way.

`python -m tools.docs.compat` (part of `make lint`) compares the JSON Schemas the catalogue
generates now with those committed at a git ref and exits 1 on a breaking change to a type
published there. The ref is `--against`, by default where this branch left `main` (their merge
base: a branch is judged against what was published when it started, not against later work
on `main`), or `HEAD` where there is no `main`.

* the type is no longer published (retire a `vN` only beside its `vN+1`, by hand);
* a field is removed;
* a field becomes required (a new required field, or an optional one made required);
* a field's type is narrowed: a JSON type it admitted is gone (`number` to `integer` too), an
  enumerated value is removed, or a field that took any value is limited to an enumeration;
* a field's type is widened beyond what readers were told: it admits a JSON type it did not
  (null where it could not be, `number` where it was `integer`), or an enumerated field takes
  any value, which a reader generated from the old schema would refuse.

Allowed within a version: new optional fields, new event types, new enumerated values (readers
are told to expect more), descriptions and examples. Formats, patterns and bounds describe
values and are left to review. A breaking change is a new version beside the old one
(docs/events/README.md, "Versioning").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.docs.folder import generate
from tools.docs.schemas import JSON, SCHEMAS_DIR

DOCS_FOLDER = "docs/events"
BASE_BRANCH = "main"


def _resolve(node: JSON, root: JSON) -> JSON:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return node


def _branches(node: JSON, root: JSON) -> Iterator[JSON]:
    """The alternatives a schema admits (`anyOf`/`oneOf` flattened), references resolved."""
    node = _resolve(node, root)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if isinstance(alternatives, list):
        for alternative in alternatives:
            yield from _branches(alternative, root)
    else:
        yield node


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(branch: JSON) -> set[str]:
    if "const" in branch:
        return {_json_type(branch["const"])}
    if "enum" in branch:
        return {_json_type(v) for v in branch["enum"]}
    kind = branch.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    return {"null", "boolean", "integer", "number", "string", "array", "object"}


def _admitted(branches: list[JSON]) -> set[str]:
    return set().union(*(_types(b) for b in branches)) if branches else set()


def _values(branches: list[JSON]) -> set[str] | None:
    """The values the branches are limited to (as JSON text), None when any value goes."""
    values: set[str] = set()
    for branch in branches:
        if "const" in branch:
            values.add(json.dumps(branch["const"]))
        elif "enum" in branch:
            values.update(json.dumps(v) for v in branch["enum"])
        elif branch.get("type") == "null":
            values.add("null")
        else:
            return None
    return values


def _first(kind: str, branches: list[JSON]) -> JSON | None:
    return next((b for b in branches if kind in _types(b)), None)


def _field_changes(where: str, old: JSON, old_root: JSON, new: JSON, new_root: JSON) -> list[str]:
    old_branches = list(_branches(old, old_root))
    new_branches = list(_branches(new, new_root))
    old_types, new_types = _admitted(old_branches), _admitted(new_branches)
    problems = [
        f"{where}: type narrowed, {kind} no longer admitted"
        for kind in sorted(old_types - new_types)
    ]
    problems.extend(
        f"{where}: type widened, now also admits {kind}" for kind in sorted(new_types - old_types)
    )
    old_values, new_values = _values(old_branches), _values(new_branches)
    if old_values is None and new_values is not None:
        problems.append(f"{where}: type narrowed, limited to an enumeration")
    elif old_values is not None and new_values is None:
        problems.append(f"{where}: type widened, no longer limited to its enumeration")
    elif old_values is not None and new_values is not None and old_values - new_values:
        gone = ", ".join(sorted(old_values - new_values))
        problems.append(f"{where}: enum values removed: {gone}")
    old_array, new_array = _first("array", old_branches), _first("array", new_branches)
    if old_array and new_array and isinstance(old_array.get("items"), dict):
        new_items = new_array.get("items")
        if isinstance(new_items, dict):
            problems.extend(
                _field_changes(f"{where}[]", old_array["items"], old_root, new_items, new_root)
            )
    old_object, new_object = _first("object", old_branches), _first("object", new_branches)
    if old_object and new_object and "properties" in old_object:
        problems.extend(_object_changes(where, old_object, old_root, new_object, new_root))
    return problems


def _object_changes(where: str, old: JSON, old_root: JSON, new: JSON, new_root: JSON) -> list[str]:
    prefix = f"{where}." if where else ""
    old_properties: JSON = old.get("properties", {})
    new_properties: JSON = new.get("properties", {})
    old_required = set(old.get("required", []))
    problems: list[str] = []
    for name, schema in old_properties.items():
        if name not in new_properties:
            problems.append(f"{prefix}{name}: field removed")
            continue
        problems.extend(
            _field_changes(f"{prefix}{name}", schema, old_root, new_properties[name], new_root)
        )
    for name in new.get("required", []):
        if name not in old_required:
            known = (
                "optional field made required" if name in old_properties else "new required field"
            )
            problems.append(f"{prefix}{name}: {known}")
    return problems


def breaking_changes(before: JSON, after: JSON) -> list[str]:
    """Why `after` breaks readers or writers of events valid under `before` (none: it does not)."""
    return _object_changes("", before, before, after, after)


def compare(before: Mapping[str, JSON], after: Mapping[str, JSON]) -> list[str]:
    """Breaking changes between two sets of schemas, keyed by file name (`<type>.json`)."""
    problems: list[str] = []
    for name, schema in sorted(before.items()):
        type_name = name.removesuffix(".json")
        if name not in after:
            problems.append(f"{type_name}: no longer published")
            continue
        problems.extend(f"{type_name}: {p}" for p in breaking_changes(schema, after[name]))
    return problems


def generated_schemas() -> dict[str, JSON]:
    """The schemas the catalogue produces now, by file name."""
    prefix = f"{SCHEMAS_DIR}/"
    return {
        rel.removeprefix(prefix): json.loads(text)
        for rel, text in generate().items()
        if rel.startswith(prefix) and rel.endswith(".json")
    }


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def committed_schemas(
    ref: str, folder: str = DOCS_FOLDER, cwd: Path | None = None
) -> dict[str, JSON]:
    """The schemas committed at `ref` (empty when it has none), by file name."""
    root = cwd or Path.cwd()
    path = f"{folder}/{SCHEMAS_DIR}"
    listing = _git("ls-tree", "--name-only", f"{ref}:{path}", cwd=root)
    if listing.returncode != 0:
        return {}
    schemas: dict[str, JSON] = {}
    for name in listing.stdout.split():
        if name.endswith(".json"):
            shown = _git("show", f"{ref}:{path}/{name}", cwd=root)
            shown.check_returncode()
            schemas[name] = json.loads(shown.stdout)
    return schemas


def default_ref(cwd: Path | None = None) -> str | None:
    """The merge base of `HEAD` and `main`; `HEAD` without a `main`; None outside git."""
    root = cwd or Path.cwd()
    base = _git("merge-base", "HEAD", BASE_BRANCH, cwd=root)
    if base.returncode == 0 and base.stdout.strip():
        return base.stdout.strip()
    head = _git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=root)
    return "HEAD" if head.returncode == 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docs.compat",
        description="Fail when an event schema changes incompatibly against a committed version.",
    )
    parser.add_argument(
        "--against",
        help="the git ref to compare with (default: the merge base of HEAD and main, else HEAD)",
    )
    args = parser.parse_args(argv)
    ref: str | None = args.against or default_ref()
    if ref is None:
        print("compat: skipped, not in a git repository")
        return 0
    problems = compare(committed_schemas(ref), generated_schemas())
    if problems:
        print(
            f"compat: breaking changes to published event schemas (against {ref}); publish a "
            "new version beside the old one instead (docs/events/README.md, 'Versioning'):",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"compat: no breaking change to the published event schemas (against {ref})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

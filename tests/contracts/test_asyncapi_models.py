"""The AsyncAPI document as an outside team uses it: validated and turned into Python models by
the AsyncAPI CLI (`asyncapi validate`, `asyncapi generate models python --pyDantic`), which then
load one real event of every type.

The CLI runs through `npx --yes` at a pinned version (npm caches it under the user's npm cache,
so only the first run needs the network, about a minute). Without npx the test is skipped, with
the reason, except under CI=true, where it must run.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from libs.common.events import CatalogueEntry, Envelope
from tools import docs

# One worker generates the models once for every test of the module (`--dist loadgroup`).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("asyncapi-cli")]

ASYNCAPI_CLI = "@asyncapi/cli@6.2.0"
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "events" / "asyncapi.yaml"
PACKAGE = "pb_generated_events"
ENTRIES = [event.entry for event in docs.discover().events]


def _npx() -> str:
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("npx is required under CI=true: install Node.js to run the AsyncAPI CLI")
        pytest.skip("npx is not installed (Node.js provides it): the AsyncAPI CLI cannot run")
    return npx


def _asyncapi(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The CLI reports anonymous usage unless its config says no: give it a config that does.
    config = tmp / "asyncapi-analytics.json"
    config.write_text(
        json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "tests"})
    )
    env = {**os.environ, "ASYNCAPI_METRICS_CONFIG_PATH": str(config), "NODE_NO_WARNINGS": "1"}
    return subprocess.run(
        [_npx(), "--yes", ASYNCAPI_CLI, *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, type[BaseModel]]]:
    """The classes the AsyncAPI generator makes of docs/events/asyncapi.yaml, by name."""
    tmp = tmp_path_factory.mktemp("asyncapi")
    package = tmp / PACKAGE
    done = _asyncapi(
        tmp,
        "generate",
        "models",
        "python",
        str(DOCUMENT),
        "--output",
        str(package),
        f"--packageName={PACKAGE}",
        "--pyDantic",
        "--no-interactive",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(tmp))
    try:
        classes: dict[str, type[BaseModel]] = {}
        for path in sorted(package.glob("*.py")):
            module = importlib.import_module(f"{PACKAGE}.{path.stem}")
            for name, value in vars(module).items():
                if isinstance(value, type) and value.__module__ == module.__name__:
                    classes[name] = value
        yield classes
    finally:
        sys.path.remove(str(tmp))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_document_is_valid_asyncapi(tmp_path: Path) -> None:
    done = _asyncapi(tmp_path, "validate", str(DOCUMENT), "--fail-severity", "error")
    assert done.returncode == 0, done.stdout + done.stderr


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.type_name)
def test_a_generated_model_loads_a_real_event(
    generated: dict[str, type[BaseModel]], entry: CatalogueEntry
) -> None:
    model = generated.get(entry.model.__name__)
    assert model is not None, f"the generator made no {entry.model.__name__}"
    example = entry.model.example()
    assert example is not None
    # The event as the producer sends it: the body of the message its outbox relays.
    envelope = Envelope.wrap(entry.model.model_validate(example), source=f"/pb/{entry.producer}")
    data = json.loads(envelope.data)
    loaded = model.model_validate(data)
    _assert_loaded(loaded, data, entry.model.__name__)


def _assert_loaded(loaded: Any, value: Any, path: str) -> None:
    """What the generated model loaded is the event's data, field by field (into the models it
    generated for nested objects, such as the files of `organization.imported`)."""
    if isinstance(value, dict):
        for name, item in value.items():
            _assert_loaded(getattr(loaded, name), item, f"{path}.{name}")
    elif isinstance(value, list) and isinstance(loaded, list):
        assert len(loaded) == len(value), path
        for index, (one, item) in enumerate(zip(loaded, value, strict=True)):
            _assert_loaded(one, item, f"{path}[{index}]")
    else:
        assert _plain(loaded) == value, path


def test_each_event_has_enumerations_of_its_own(generated: dict[str, type[BaseModel]]) -> None:
    # One `Kind` for every event made a real branch.formed ("standalone") fail to load.
    branch_kind: Any = generated["BranchFormedKind"]
    organization_kind: Any = generated["OrganizationRegisteredKind"]
    assert issubclass(branch_kind, enum.Enum)
    assert issubclass(organization_kind, enum.Enum)
    assert {k.value for k in branch_kind} == {"standalone", "joint", "temporary"}
    assert {k.value for k in organization_kind} == {"enterprise", "social_organization"}

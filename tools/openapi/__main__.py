"""`python -m tools.openapi` (`make lint-openapi`, part of `make lint`): every service's
OpenAPI document, as it serves it, through Redocly's recommended rules and Spectral's `oas`
ruleset, and the events' AsyncAPI document (docs/events/asyncapi.yaml) through `asyncapi
validate`, the three side by side.

Both run with `npx --yes` at pinned versions (npm fetches them once into its cache, so the
first run needs the network). Without `npx` the check is skipped with a message saying so,
except under `CI=true`, where it fails; `--write DIR` only writes the documents
(`<service>.json`) for other tools.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SERVICES = ("registry", "coverage", "stations", "training")
REDOCLY = "@redocly/cli@2.77.0"
SPECTRAL = "@stoplight/spectral-cli@6.16.3"
ASYNCAPI = "@asyncapi/cli@6.2.0"  # as tests/contracts/test_asyncapi_models.py
HERE = Path(__file__).parent
ASYNCAPI_DOCUMENT = HERE.parent.parent / "docs" / "events" / "asyncapi.yaml"


def write_documents(folder: Path) -> list[Path]:
    """Each service's document, built as `build_app` serves it, into `folder`."""
    from libs.common.service import ServiceDefinition, build_app

    written = []
    for service in SERVICES:
        app_module = importlib.import_module(f"services.{service}.app")
        definition: ServiceDefinition = app_module.definition()
        definition.settings.database_url = "sqlite+aiosqlite://"  # never opened
        definition.settings.log_level = "WARNING"
        document = build_app(definition).openapi()
        path = folder / f"{service}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="only write the documents into this folder")
    args = parser.parse_args()
    if args.write is not None:
        args.write.mkdir(parents=True, exist_ok=True)
        for path in write_documents(args.write):
            print(path)
        return 0
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("CI") == "true":
            print("lint-openapi: npx is required under CI=true (install Node.js)")
            return 1
        print("lint-openapi: skipped, npx is not installed (Node.js provides it)")
        return 0
    with tempfile.TemporaryDirectory(prefix="pb-openapi-") as tmp:
        documents = [str(p) for p in write_documents(Path(tmp))]
        checks = [
            [npx, "--yes", REDOCLY, "lint", "--config", str(HERE / "redocly.yaml"), *documents],
            [
                npx,
                "--yes",
                SPECTRAL,
                "lint",
                "--ruleset",
                str(HERE / "spectral.yaml"),
                "--fail-severity",
                "warn",
                *documents,
            ],
        ]
        checks.append([npx, "--yes", ASYNCAPI, "validate", str(ASYNCAPI_DOCUMENT)])
        # the AsyncAPI CLI reports anonymous usage unless its config says no
        config = Path(tmp) / "asyncapi-analytics.json"
        config.write_text(
            json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "ci"})
        )
        env = {
            **os.environ,
            "ASYNCAPI_METRICS_CONFIG_PATH": str(config),
            "NODE_NO_WARNINGS": "1",
            "SUPPRESS_NO_CONFIG_WARNING": "1",
        }
        running = []
        for command in checks:  # side by side, each printing when it is done
            running.append(
                (
                    " ".join(command[1:4]),
                    subprocess.Popen(
                        command,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        env=env,
                        cwd=tmp,
                    ),
                )
            )
        failed = 0
        for name, process in running:
            output, _ = process.communicate(timeout=600)
            print(f"$ {name} ...\n{output}", flush=True)
            failed |= process.returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tools.docs docs/events [--check]`: write or check the event documentation."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.docs.folder import check, write
from tools.docs.model import DocsError


def _names(paths: Iterable[str]) -> str:
    return ", ".join(paths) or "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docs",
        description="Write (or check) the AsyncAPI document and JSON Schemas of every event.",
    )
    parser.add_argument("folder", type=Path, help="the docs folder, e.g. docs/events")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the folder differs from what would be written",
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    try:
        if args.check:
            diff = check(folder)
            if not diff.ok:
                print(diff.describe(folder), file=sys.stderr)
                return 1
            print(diff.describe(folder))
            return 0
        done = write(folder)
    except DocsError as exc:
        print(f"cannot document the events: {exc}", file=sys.stderr)
        return 2
    print(f"{folder}: {len(done.written)} file(s) written: {_names(done.written)}")
    if done.removed:
        print(f"{folder}: removed schemas of events no longer catalogued: {_names(done.removed)}")
    if done.left:
        print(f"{folder}: not generated, remove by hand: {_names(done.left)}", file=sys.stderr)
        return 1
    return 0

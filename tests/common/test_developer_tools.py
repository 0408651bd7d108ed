"""The Makefile's targets and the pre-commit hooks: what they name exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")


def phony() -> list[str]:
    (line,) = re.findall(r"^\.PHONY:(.*)$", MAKEFILE, re.MULTILINE)
    return str(line).split()


def rules() -> dict[str, str]:
    """target -> its `## ` description ("" when it has none)."""
    found = re.findall(r"^([a-z-]+):[^=\n]*?(?:## (.*))?$", MAKEFILE, re.MULTILINE)
    return {target: description for target, description in found}


def test_every_phony_target_has_a_rule_and_a_description() -> None:
    targets = rules()
    for name in phony():
        assert name in targets, f".PHONY names {name} but no rule makes it"
        assert targets[name], f"{name} has no `## ` description, so `make help` leaves it out"
    assert {"help", "unit", "integration", "lint", "typecheck", "test"} <= set(phony())


def test_make_help_lists_every_phony_target() -> None:
    out = subprocess.run(
        ["make", "-s", "-C", str(REPO), "help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    listed = re.findall(r"^\s+make (\S+)", out, re.MULTILINE)
    assert sorted(listed) == sorted(phony())


def test_unit_and_integration_split_the_suite_by_the_marker() -> None:
    recipes = dict(re.findall(r"^(unit|integration):.*\n\t(.*)$", MAKEFILE, re.MULTILINE))
    assert '-m "not integration"' in recipes["unit"]
    assert "-m integration" in recipes["integration"]
    (test,) = re.findall(r"^test:([^#\n]*)", MAKEFILE, re.MULTILINE)
    assert test.split() == ["lint", "docs-check", "unit", "integration"]


def test_pre_commit_runs_ruff_and_the_import_contracts_from_the_venv() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (repo,) = config["repos"]
    assert repo["repo"] == "local"
    hooks = {hook["id"]: hook for hook in repo["hooks"]}
    assert {h["language"] for h in hooks.values()} == {"system"}
    entries = {hook_id: hook["entry"].split() for hook_id, hook in hooks.items()}
    assert entries["ruff-check"][:2] == [".venv/bin/ruff", "check"]
    assert entries["ruff-format"][:2] == [".venv/bin/ruff", "format"]
    assert entries["import-contracts"] == [".venv/bin/lint-imports"]
    assert hooks["import-contracts"]["pass_filenames"] is False
    venv_bin = Path(sys.executable).parent  # the binaries `make install` puts in .venv/bin
    for command in entries.values():
        assert (venv_bin / Path(command[0]).name).exists(), command[0]

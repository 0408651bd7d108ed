"""The `allowed_imports` contract: the standard library, the package itself, what is allowed."""

from __future__ import annotations

import grimp

from tools.import_contracts import AllowedImportsContract


def graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    built = grimp.ImportGraph()
    for module in ("app", "app.a", "app.a.domain", "app.a.domain.rules", "app.b", "app.b.domain"):
        built.add_module(module)
    built.add_module("app.lib")
    built.add_module("app.lib.codes")
    built.add_module("app.lib.db")
    for importer, imported in imports:
        if not imported.startswith("app"):
            built.add_module(imported.split(".")[0], is_squashed=True)
        built.add_import(
            importer=importer, imported=imported, line_number=7, line_contents=f"import {imported}"
        )
    return built


def contract() -> AllowedImportsContract:
    return AllowedImportsContract(
        name="domain",
        session_options={"root_packages": ["app"]},
        contract_options={"source_modules": ["app.*.domain"], "allowed_modules": ["app.lib.codes"]},
    )


def illegal(*imports: tuple[str, str]) -> list[tuple[str, str]]:
    check = contract().check(graph(*imports), verbose=False)
    found = [(i["importer"], i["imported"]) for i in check.metadata["illegal"]]
    assert check.kept == (not found)
    return found


def test_the_standard_library_the_package_itself_and_allowed_modules_are_kept() -> None:
    assert (
        illegal(
            ("app.a.domain.rules", "datetime"),
            ("app.a.domain.rules", "collections.abc"),
            ("app.a.domain.rules", "app.a.domain"),
            ("app.a.domain", "app.lib.codes"),
            ("app.b.domain", "__future__"),
        )
        == []
    )


def test_third_party_the_rest_of_the_library_and_other_packages_are_broken() -> None:
    assert illegal(
        ("app.a.domain.rules", "pydantic"),
        ("app.a.domain", "app.lib.db"),
        ("app.a.domain.rules", "app.b.domain"),
        ("app.a.domain.rules", "app.a"),
        ("app.lib.db", "pydantic"),  # not a source: not checked
    ) == [
        ("app.a.domain", "app.lib.db"),
        ("app.a.domain.rules", "app.a"),
        ("app.a.domain.rules", "app.b.domain"),
        ("app.a.domain.rules", "pydantic"),
    ]

"""An import-linter contract type the built-in ones cannot express: "imports only these".

`forbidden` contracts list what may not be imported, so a list of third-party packages goes stale
the day a dependency is added. `allowed_imports` turns it round: each source package may import
the standard library, itself and the `allowed_modules` (with their submodules), nothing else.
Registered in pyproject.toml (`contract_types`); lint-imports runs from the repository root, so
`tools` is importable.
"""

from __future__ import annotations

import sys
from typing import Any, cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain.helpers import module_expressions_to_modules
from importlinter.domain.imports import Module, ModuleExpression


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def is_standard_library(module: str) -> bool:
    return module.split(".", 1)[0] in sys.stdlib_module_names


class AllowedImportsContract(Contract):
    """Each source package imports only the standard library, itself and the allowed modules.

    Options:
        - source_modules: the packages checked (module expressions: `services.*.domain`).
        - allowed_modules: what they may import besides the standard library and themselves.

    Only direct imports are checked; list an allowed module as a source of its own contract to
    keep what it imports in check too.
    """

    type_name = "allowed_imports"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.SetField(subfield=fields.ModuleField(), required=False)

    def _allowed(self) -> list[str]:
        # Once the contract is built, its fields hold the parsed option values.
        return sorted(m.name for m in cast("set[Module] | None", self.allowed_modules) or ())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        expressions = cast("set[ModuleExpression]", self.source_modules)
        sources = sorted(m.name for m in module_expressions_to_modules(graph, expressions))
        allowed = self._allowed()
        illegal: list[dict[str, Any]] = []
        for source in sources:
            for importer in sorted({source} | graph.find_descendants(source)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if (
                        _within(imported, source)
                        or is_standard_library(imported)
                        or any(_within(imported, a) for a in allowed)
                    ):
                        continue
                    lines = graph.get_import_details(importer=importer, imported=imported)
                    illegal.append(
                        {
                            "importer": importer,
                            "imported": imported,
                            "lines": [d["line_number"] for d in lines],
                        }
                    )
        output.verbose_print(verbose, f"Checked {', '.join(sources) or 'no package'}.")
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        allowed = ", ".join(self._allowed())
        output.print(f"Only the standard library and {allowed or 'nothing else'} may be imported:")
        output.new_line()
        for item in check.metadata["illegal"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(f"- {item['importer']} -> {item['imported']} ({lines})", bold=False)
        output.new_line()

"""An import-linter contract type that lists what a package may import, rather than what it may not.

import-linter's own contracts forbid named modules. evaluation/ has to run on a bare GPU machine,
so its rule is an allow-list: the standard library plus a few named packages. pyproject.toml
registers this class under ``contract_types`` as ``allowed_imports``; lint-imports finds it because
it puts the working directory (the repository root) on sys.path.
"""

from __future__ import annotations

import sys
from typing import cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class AllowedImportsContract(Contract):
    """The source packages import only themselves, the standard library and ``allowed_modules``.

    Every import counts, including those inside functions. The graph must be built with
    ``include_external_packages = true``, so that third-party packages appear in it.
    """

    type_name = "allowed_imports"

    source_modules = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # The base class replaces each field with its parsed value on the instance.
        sources = cast("list[str]", self.source_modules)
        allowed = set(cast("list[str]", self.allowed_modules)) | set(sys.stdlib_module_names)

        def inside(module: str, packages: set[str] | list[str]) -> bool:
            return any(module == p or module.startswith(p + ".") for p in packages)

        importers = {d for s in sources for d in graph.find_descendants(s) | {s}}
        violations = []
        for importer in sorted(importers):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if inside(imported, sources) or inside(imported, allowed):
                    continue
                details = graph.get_import_details(importer=importer, imported=imported)
                lines = sorted({d["line_number"] for d in details})
                violations.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for v in check.metadata["violations"]:
            lines = ", ".join(f"l.{n}" for n in v["lines"])
            output.print_error(f"{v['importer']} imports {v['imported']} ({lines})", bold=False)
            output.new_line()

"""Layering: the core never imports Textual; evaluation/ runs on a bare GPU machine."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import avo_tui

PACKAGE = Path(avo_tui.__file__).parent
CORE = ("engine", "operators", "evaluation", "store")


# What a bare GPU box has: the standard library, numpy, torch and cuda-python.
EVALUATION_MAY_IMPORT = set(sys.stdlib_module_names) | {"numpy", "torch", "cuda"}


def absolute_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def textual_imports(path: Path) -> list[str]:
    return [
        f"{path}:{line} imports {name}"
        for line, name in absolute_imports(path)
        if name.split(".")[0] == "textual"
    ]


def test_core_packages_have_no_textual_import_statement() -> None:
    files = [f for package in CORE for f in (PACKAGE / package).rglob("*.py")]
    assert files, "the core packages should exist"
    offenders = [hit for f in files for hit in textual_imports(f)]
    assert offenders == []


def test_importing_core_packages_does_not_load_textual() -> None:
    imports = "; ".join(f"import avo_tui.{p}" for p in CORE)
    code = f"import sys; {imports}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_checker_sees_textual_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom textual.app import App\nimport textual\n")
    assert len(textual_imports(bad)) == 2


def test_evaluation_imports_only_what_a_bare_gpu_machine_has() -> None:
    files = list((PACKAGE / "evaluation").rglob("*.py"))
    offenders = [
        f"{f}:{line} imports {name}"
        for f in files
        for line, name in absolute_imports(f)
        if name.split(".")[0] not in EVALUATION_MAY_IMPORT
    ]
    assert offenders == []


def test_the_parent_process_does_not_import_torch_to_talk_to_the_worker() -> None:
    code = "import sys, avo_tui.evaluation, avo_tui.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def relative_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top package under avo_tui) for every ``from ..package import`` in ``path``."""
    depth = len(path.relative_to(PACKAGE).parts) - 1
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level > depth and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


# Imports point downward: engine -> operators -> evaluation -> store; knowledge stands alone.
MAY_NOT_IMPORT = {
    "operators": {"engine", "tui", "commands", "cli"},
    "evaluation": {"engine", "operators", "store", "knowledge", "tui", "commands", "cli"},
    "store": {"engine", "operators", "evaluation", "knowledge", "tui", "commands", "cli"},
    "knowledge": {"engine", "operators", "evaluation", "store", "tui", "commands", "cli"},
    "engine": {"tui", "commands", "cli"},
}


def test_imports_point_downward_only() -> None:
    offenders = [
        f"{f}:{line} imports avo_tui.{target}"
        for package, banned in MAY_NOT_IMPORT.items()
        for f in (PACKAGE / package).rglob("*.py")
        for line, target in relative_imports(f)
        if target in banned
    ]
    assert offenders == []


def test_the_downward_check_sees_an_upward_import() -> None:
    fake = PACKAGE / "operators" / "_probe_upward.py"
    try:
        fake.write_text("from ..engine import Engine\n")
        assert relative_imports(fake) == [(1, "engine")]
    finally:
        fake.unlink()

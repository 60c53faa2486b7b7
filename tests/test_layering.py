"""engine/, operators/, evaluation/ and store/ must never import Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import avo_tui

PACKAGE = Path(avo_tui.__file__).parent
CORE = ("engine", "operators", "evaluation", "store")


def textual_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        hits = [n for n in names if n.split(".")[0] == "textual"]
        found += [f"{path}:{node.lineno} imports {n}" for n in hits]
    return found


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

"""Layering: the import contracts in pyproject.toml hold, and each of them can fail.

The contracts themselves ([tool.importlinter] in pyproject.toml, checked by ``lint-imports``):
the core never imports Textual, imports point downward only, and evaluation/ imports only what a
bare GPU machine has. What a static import graph cannot see, the last two tests check at run time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from import_circles import circles
from test_lint import dev_tool

ROOT = Path(__file__).parents[2]
CORE = ("engine", "operators", "evaluation", "store", "knowledge")


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    exe = dev_tool("lint-imports")  # a missing import-linter fails the test, never skips it
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [exe, "--no-logo", "--no-cache", *selected], cwd=cwd, capture_output=True, text=True
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, the configuration and the contract type, copied to a scratch folder."""
    copy = tmp_path_factory.mktemp("layering")
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "avo_tui", copy / "avo_tui", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", copy)
    (copy / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "import_contracts.py", copy / "tests")
    return copy


# (contract id, a module that breaks it, its source, the offending import lint-imports names)
VIOLATIONS = [
    ("no-textual", "store/_probe.py", "import textual\n", "textual"),
    ("no-textual", "engine/_probe.py", "from ..tui import app\n", "textual"),  # indirectly
    ("layers", "operators/_probe.py", "from ..engine import engine\n", "avo_tui.engine"),
    ("layers", "store/_probe.py", "from ..knowledge import index\n", "avo_tui.knowledge"),
    ("layers", "_probe_package/__init__.py", "", "_probe_package"),  # every package has a layer
    ("bare-gpu-machine", "evaluation/_probe.py", "def f():\n    import tinydb\n", "tinydb"),
    ("evaluation-rooms", "evaluation/targets/_probe.py", "from ..measurement import judge\n",
     "avo_tui.evaluation.measurement"),
    ("evaluation-rooms", "evaluation/_probe.py", "", "avo_tui.evaluation._probe"),  # a room each
    ("bare-gpu-machine", "evaluation/_probe.py", "from .. import settings_file\n", "settings"),
    ("kernelbench-rooms", "kernelbench/problem/_probe.py", "from ..seeds import plan\n",
     "avo_tui.kernelbench.seeds"),
    ("kernelbench-rooms", "kernelbench/_probe.py", "", "avo_tui.kernelbench._probe"),  # a room each
    ("kernelbench-target", "kernelbench/target/_probe.py", "", "avo_tui.kernelbench.target._probe"),
    ("kernelbench-seeds", "kernelbench/seeds/_probe.py", "", "avo_tui.kernelbench.seeds._probe"),
    ("kernelbench-problem", "kernelbench/problem/_probe.py", "",
     "avo_tui.kernelbench.problem._probe"),
]


@pytest.mark.parametrize(("contract", "module", "source", "named"), VIOLATIONS)
def test_each_contract_fails_on_a_violation(
    project_copy: Path, contract: str, module: str, source: str, named: str
) -> None:
    probe = project_copy / "avo_tui" / module
    probe.parent.mkdir(exist_ok=True)
    probe.write_text(source)
    try:
        result = lint_imports(project_copy, contract)
    finally:
        probe.unlink()
        if probe.parent.name == "_probe_package":
            probe.parent.rmdir()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 broken" in result.stdout
    assert "_probe" in result.stdout and named in result.stdout


def test_importing_the_core_does_not_load_textual() -> None:
    imports = "; ".join(f"import avo_tui.{p}" for p in CORE)
    code = f"import sys; {imports}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_parent_process_does_not_import_torch_to_talk_to_the_worker() -> None:
    # evaluation/ imports torch inside functions only, so the parent, which merely talks to the
    # worker process, need not have it (import-linter counts imports inside functions too).
    code = "import sys, avo_tui.evaluation, avo_tui.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


PARSE = """
import sys
from avo_tui.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("torch" in sys.modules)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["eval", "--help"],
                                  ["run", "--session", "s", "--lanes", "0"]])
def test_the_command_line_reads_its_arguments_without_torch(argv: list[str]) -> None:
    # Loading torch took 1.7 of the 2.5 s that `avo run` took to refuse a bad count on a quiet
    # machine: the parsers' defaults (sustained readings) live apart from the measuring itself.
    out = subprocess.run([sys.executable, "-c", PARSE, *argv], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout[-2000:]


# Lazy imports kept on purpose: the attention problems stay free of torch, and their torch
# sides (loaded in the worker alone) build on the problems' shapes and configurations.
KNOWN_CIRCLES = {("avo_tui.evaluation.problems.attention",
                  "avo_tui.evaluation.problems.attention_torch"),
                 ("avo_tui.evaluation.problems.attention_backward",
                  "avo_tui.evaluation.problems.attention_backward_torch")}


def test_no_module_imports_another_that_imports_it_back() -> None:
    """Dynamic imports included (import_module by a written name), which lint-imports misses."""
    assert set(circles(ROOT / "avo_tui")) == KNOWN_CIRCLES


def test_a_circle_through_import_module_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text(
        "import importlib\nthing = 1\n"
        "def late():\n    return importlib.import_module('.a', __package__)\n")
    (package / "c.py").write_text(
        "import importlib\ndef late():\n    return importlib.import_module(f'{__package__}.a')\n")
    assert set(circles(package)) == {("pkg.a", "pkg.b")}
    (package / "a.py").write_text("from . import c\n")
    assert set(circles(package)) == {("pkg.a", "pkg.c")}


def test_no_script_of_benchmarks_imports_another_that_imports_it_back() -> None:
    """benchmarks/ is no package import-linter can read: its scripts import each other, and
    their shared code, by the names Python finds in the folder of the script it runs."""
    benchmarks = ROOT / "benchmarks"
    assert set(circles(benchmarks, import_root=benchmarks)) == set()


def test_a_circle_between_scripts_is_found(tmp_path: Path) -> None:
    """Three scripts in a ring, one link through a shared package and one inside a function,
    as kernel_vs_baselines.py -> sustained_reading.py -> sustained_clock.py -> back was."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "__init__.py").write_text("")
    (tmp_path / "shared" / "reading.py").write_text("from clock import runner\n")
    (tmp_path / "main.py").write_text("from shared.reading import table\n")
    (tmp_path / "clock.py").write_text("def runner():\n    from main import Kernel\n")
    (tmp_path / "alone.py").write_text("from shared import reading\n")
    assert set(circles(tmp_path, import_root=tmp_path)) == {("clock", "main"),
                                                            ("main", "shared.reading")}

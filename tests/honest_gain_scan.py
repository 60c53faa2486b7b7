"""A scan of the tests for one kind of assertion (issue 83, docs/testing.md): that an honest
gain under 10x, timed on the real CPU, is committed. On a loaded CPU the gate may rightly answer
``undecided`` for such a gain, so a test asserting its commit fails for no defect.

A test function, or a fixture, is caught where it uses a gain built on the real CPU that is
under 10x (SMALL_GAINS: the name of the helper or constant that builds it) and asserts a commit
(an ``assert`` whose text names one of COMMIT_WORDS)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

# Constructions of an honest gain under 10x on real kernels (tests/engine_helpers.py: the
# slow seed and its REPEAT 7 -> 4 edit, 1.75x, and the counts that build it).
SMALL_GAINS = frozenset({"slow_seed", "SLOW", "FAST", "SLOW_TIMES", "FAST_TIMES"})
# What an assertion of a commit names.
COMMIT_WORDS = ("NEW_BEST", '"v1"', "'v1'", "COMMITTED", '"committed"', '"accept"', '"commit   v')


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def asserts_a_commit(function: ast.AST, source: str) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            text = ast.get_source_segment(source, node) or ""
            if any(word in text for word in COMMIT_WORDS):
                return True
    return False


def is_fixture(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in names_in(decorator) for decorator in function.decorator_list)


def caught(source: str) -> Iterator[str]:
    """The test functions and fixtures of ``source`` that assert the commit of a small gain on
    the CPU."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and (node.name.startswith("test_") or is_fixture(node))
                and names_in(node) & SMALL_GAINS and asserts_a_commit(node, source)):
            yield node.name


def scan(folder: Path) -> set[str]:
    """``file::test`` for each test caught under ``folder``, GPU tests aside (they time on a
    GPU, where the gate's power is measured)."""
    found = set()
    for path in sorted(folder.rglob("test_*.py")):
        if "gpu" in path.relative_to(folder).parts:
            continue
        found |= {f"{path.relative_to(folder.parent)}::{name}"
                  for name in caught(path.read_text())}
    return found

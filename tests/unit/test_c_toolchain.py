"""The C toolchain: real compiles with the system compiler, parsed diagnostics, the cache."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from avo_tui.evaluation.toolchains import CompileCache, CToolchain, ToolchainUnavailable
from avo_tui.evaluation.toolchains.base import parse_gcc_style

GOOD = "int add(int a, int b) { return a + b; }\n"
BROKEN = "int add(int a, int b) {\n    return a + c;\n}\n"


@pytest.fixture
def toolchain(tmp_path: Path) -> CToolchain:
    return CToolchain(CompileCache(tmp_path / "cache"))


def test_compiles_a_loadable_library(toolchain: CToolchain) -> None:
    result = toolchain.compile({"add.c": GOOD})
    assert result.ok and result.artifact is not None and not result.cached
    assert ctypes.CDLL(str(result.artifact)).add(2, 3) == 5
    assert "-fopenmp" in result.log and "-march=native" in result.log


def test_errors_carry_file_line_column_and_the_full_log(toolchain: CToolchain) -> None:
    result = toolchain.compile({"add.c": BROKEN})
    assert not result.ok and result.artifact is None
    error = result.errors[0]
    assert (error.file, error.line, error.column) == ("add.c", 2, 16)
    assert "'c' undeclared" in error.message
    assert "add.c:2:16: error" in result.log
    assert result.summary().startswith("compile failed: add.c:2:16: error:")


def test_second_compile_is_served_from_the_cache(toolchain: CToolchain) -> None:
    first = toolchain.compile({"add.c": GOOD})
    failed = toolchain.compile({"add.c": BROKEN})
    toolchain.compiler = ["/nonexistent/cc"]  # a compile now would fail: only the cache can serve
    second = toolchain.compile({"add.c": GOOD})
    assert second.ok and second.cached
    assert second.artifact == first.artifact and second.log == first.log
    # failures are cached too, so a broken candidate is not rebuilt on every retry
    again = toolchain.compile({"add.c": BROKEN})
    assert again.log == failed.log
    assert again.cached and not again.ok and again.errors[0].line == 2


def test_cache_key_covers_sources_options_and_compiler(toolchain: CToolchain) -> None:
    base = toolchain.compile({"add.c": GOOD})
    assert not toolchain.compile({"add.c": GOOD + "\n"}).cached
    assert not toolchain.compile({"add.c": GOOD}, ("-DX=1",)).cached
    key = CompileCache.key("c", "gcc 12", {"add.c": GOOD}, ())
    assert key != CompileCache.key("c", "gcc 13", {"add.c": GOOD}, ())
    assert base.artifact is not None and base.artifact.exists()


def test_a_damaged_cache_entry_is_rebuilt(toolchain: CToolchain) -> None:
    first = toolchain.compile({"add.c": GOOD})
    assert first.artifact is not None
    (first.artifact.parent / "result.json").write_text("{not json")
    rebuilt = toolchain.compile({"add.c": GOOD})
    assert rebuilt.ok and not rebuilt.cached


def test_headers_travel_with_the_sources(toolchain: CToolchain) -> None:
    sources = {"main.c": '#include "k.h"\nint get(void) { return K; }\n', "k.h": "#define K 7\n"}
    result = toolchain.compile(sources)
    assert result.ok and result.artifact is not None
    assert ctypes.CDLL(str(result.artifact)).get() == 7


def test_missing_compiler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(ToolchainUnavailable, match="no C compiler: 'no-such-cc'"):
        CToolchain(CompileCache(tmp_path)).compile({"add.c": GOOD})


def test_gcc_diagnostics_parse_with_and_without_columns() -> None:
    log = (
        "/tmp/avo-cc-x/k.c:3:5: warning: unused variable 'x'\n"
        "k.h:10: error: bad thing\n"
        "cc1: fatal error: k.c: No such file\n"
        "In file included from k.c:1:\n"
    )
    diagnostics = parse_gcc_style(log, {"k.c", "k.h"})
    assert [(d.file, d.line, d.column, d.severity) for d in diagnostics] == [
        ("k.c", 3, 5, "warning"),
        ("k.h", 10, 0, "error"),
    ]

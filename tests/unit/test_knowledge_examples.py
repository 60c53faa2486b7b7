"""Every complete CUDA example in knowledge/ compiles with NVRTC (ptxas checks the inline PTX).

A block fenced as ```cuda is a whole translation unit built for sm_90a; ```cuda sm_100a builds
for that architecture instead. Fragments use other fences (```ptx, ```cpp, ```text) and are not
compiled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain, ToolchainUnavailable

KNOWLEDGE = Path(__file__).parents[2] / "knowledge"
FENCE = re.compile(r"^```cuda(?:\s+(sm_\w+))?\s*$")


def cuda_examples() -> list[tuple[str, int, str, str]]:
    """(file, line, arch, source) for each ```cuda block."""
    found: list[tuple[str, int, str, str]] = []
    for path in sorted(KNOWLEDGE.glob("*.md")):
        lines = path.read_text().splitlines()
        start: int | None = None
        arch = "sm_90a"
        for number, line in enumerate(lines, 1):
            match = FENCE.match(line)
            if start is None and match:
                start, arch = number, match.group(1) or "sm_90a"
            elif start is not None and line.strip() == "```":
                found.append((path.name, start, arch, "\n".join(lines[start:number - 1]) + "\n"))
                start = None
    return found


EXAMPLES = cuda_examples()


def test_the_knowledge_base_has_compiled_examples() -> None:
    assert len(EXAMPLES) >= 10, [f"{f}:{n}" for f, n, _, _ in EXAMPLES]


@pytest.mark.parametrize(
    ("file", "line", "arch", "source"), EXAMPLES, ids=[f"{f}:{n}" for f, n, _, _ in EXAMPLES]
)
def test_example_compiles(tmp_path: Path, file: str, line: int, arch: str, source: str) -> None:
    toolchain = CudaToolchain(CompileCache(tmp_path), arch=arch)
    try:
        result = toolchain.compile({"example.cu": source})
    except ToolchainUnavailable as error:
        pytest.skip(str(error))
    assert result.ok, f"{file}:{line} ({arch}) does not compile:\n{result.log}"

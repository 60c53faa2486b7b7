"""The outline of a kernel source the agent reads before it views ranges: its top-level pieces
with line ranges that really hold them, bounded in length, on the seeds and on hostile text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from avo_tui.operators.agent.outline import MAX_ENTRIES, outline

ROOT = Path(__file__).parents[2]
WGMMA = ROOT / "kernels" / "cuda" / "attention_wgmma.cu"
CPU = ROOT / "kernels" / "cpu" / "attention.c"
ROW = re.compile(r"^  (\d+)(?:-(\d+))?\s+(.*)$")


def entries(text: str) -> list[tuple[int, int, str]]:
    """(first line, last line, description) of each entry."""
    found = []
    for row in text.splitlines()[1:]:
        match = ROW.match(row)
        if match:
            start = int(match.group(1))
            found.append((start, int(match.group(2) or start), match.group(3).strip()))
    return found


def entry(text: str, pattern: str) -> tuple[int, int, str]:
    matches = [e for e in entries(text) if re.search(pattern, e[2])]
    assert len(matches) == 1, (pattern, matches, text)
    return matches[0]


def line_of(source: list[str], pattern: str) -> int:
    return next(n for n, line in enumerate(source, 1) if re.search(pattern, line))


def test_the_wgmma_seed_kernel_range_holds_its_signature_and_its_closing_brace() -> None:
    text = WGMMA.read_text()
    source = text.splitlines()
    result = outline(WGMMA.name, text)
    assert result.splitlines()[0] == f"attention_wgmma.cu ({len(source)} lines)"
    start, end, what = entry(result, r"__global__.*avo_attention_fwd")
    assert start <= line_of(source, r'extern "C" __global__') <= line_of(
        source, r"^avo_attention_fwd\(") <= end
    assert source[end - 1] == "}" and not "".join(source[end:]).strip()
    assert "…" in what  # the long parameter list is abbreviated, the line stays short
    assert all(len(row) <= 120 for row in result.splitlines())


def test_the_wgmma_seed_lists_its_declarations_helpers_and_namespaces() -> None:
    text = WGMMA.read_text()
    source = text.splitlines()
    result = outline(WGMMA.name, text)
    assert len(result.splitlines()) <= MAX_ENTRIES + 1
    start, end, what = entry(result, r"^knobs \(avo:knob\)")
    assert "BLOCK_N" in what and start <= line_of(source, r"^#define BLOCK_N") <= end
    start, end, what = entry(result, r"^avo: declarations:.*launch")
    assert "tensormap" in what and start <= line_of(source, r"^// avo:launch") <= end
    start, end, _ = entry(result, r"^1-\d+\s*$|^// Attention forward on Hopper")
    assert start == 1 and source[end - 1].strip() == "*/"
    start, end, _ = entry(result, r"^namespace wg$")
    assert source[start - 1].startswith("// ") and source[start].startswith("namespace wg {")
    assert source[end - 1] == "}  // namespace wg"
    start, end, _ = entry(result, r"tma_load_tile")
    assert start <= line_of(source, r"void tma_load_tile\(") <= end and source[end - 1] == "}"
    start, end, _ = entry(result, r"^struct Consumer$")
    assert source[start - 1] == "struct Consumer {" and source[end - 1] == "};"


def test_the_cpu_seed_lists_its_functions_with_exact_ranges() -> None:
    text = CPU.read_text()
    source = text.splitlines()
    result = outline(CPU.name, text)
    start, end, _ = entry(result, r"^void avo_attention_fwd\(")
    assert source[start - 1].startswith("void avo_attention_fwd(") and source[end - 1] == "}"
    assert end == len(source)
    start, end, _ = entry(result, r"static inline float dot\(")
    assert source[start - 1].startswith("static inline float dot(") and source[end - 1] == "}"
    _, _, what = entry(result, r"^knobs")
    assert what.endswith("BLOCK_Q, BLOCK_K, UNROLL, THREADS")
    _, _, what = entry(result, r"^#include")
    assert "<omp.h>" in what


def test_braces_in_comments_strings_characters_and_raw_strings_do_not_count() -> None:
    text = "\n".join([
        "// a } in a comment",
        "/* and { here",
        "   } */",
        "",
        '__device__ const char *open_brace() { return "{"; }',
        "__device__ char close_brace() {",
        "    char c = '}';  // }",
        '    const char *raw = R"x( } } { )x";',
        "    int big = 1'000'000;",
        "    return c;",
        "}",
        "__global__ void kernel(int n) {",
        "#if CAUSAL",
        "    for (int i = 0; i < n; ++i) {",
        "#else",
        "    for (int i = n; i > 0; --i) {",
        "#endif",
        "    }",
        "}",
        "__device__ void after() {}",
        "",
    ])
    result = outline("k.cu", text)
    assert entry(result, r"open_brace")[:2] == (5, 5)
    assert entry(result, r"close_brace")[:2] == (6, 11)
    assert entry(result, r"__global__ void kernel")[:2] == (12, 19)
    assert entry(result, r"void after")[:2] == (20, 20)  # not swallowed by the #if branches


def test_small_helpers_are_folded_to_keep_the_outline_short() -> None:
    helpers = "".join(f"__device__ int helper_{i}(int x) {{\n    return x + {i};\n}}\n"
                      for i in range(400))
    kernel = "__global__ void main_kernel(int *out) {\n    out[0] = helper_0(1);\n}\n"
    result = outline("many.cu", helpers + kernel)
    rows = result.splitlines()
    assert len(rows) <= MAX_ENTRIES + 1
    assert entry(result, r"main_kernel")[:2] == (1201, 1203)  # the kernel keeps its own line
    start, _, what = entries(result)[0]
    assert start == 1 and what.startswith(tuple(f"{n} functions:" for n in range(2, 401)))
    assert "helper_0" in what


def test_unbalanced_braces_end_at_the_last_line_and_stray_ones_are_ignored() -> None:
    result = outline("open.cu", "}\n}\n__device__ void fine() {}\n__global__ void k() {\n  {\n")
    assert entry(result, r"fine")[:2] == (3, 3)
    start, end, what = entry(result, r"__global__ void k")
    assert (start, end) == (4, 5) and what.endswith("(not closed)")


def test_a_head_that_differs_between_if_branches_opens_one_body() -> None:
    text = "#if SLOW\nvoid slow() {\n#else\nvoid fast() {\n#endif\n  work();\n}\nint after() {}\n"
    result = outline("branches.c", text)
    assert entry(result, r"void fast\(\)")[:2] == (4, 7)
    assert entry(result, r"int after\(\)")[:2] == (8, 8)


HOSTILE = {
    "one 1 MB line": "x" * 1_000_000,
    "a million open braces": "{" * 1_000_000,
    "a million closing braces": "}" * 1_000_000,
    "braces and semicolons": "{};" * 300_000,
    "unterminated comment": "void f() {}\n/* " + "{\n" * 100_000,
    "unterminated strings": 'void f() { "abc\n}\n' * 30_000,
    "unterminated raw strings": 'R"x(' * 100_000,
    "quotes": "'\"" * 500_000,
    "nested namespaces": "namespace a {\n" * 50_000,
    "nested parentheses": "(" * 1_000_000,
    "templates": "template <" * 200_000,
    "control characters": "\x00\x1b[31m\ud800\r" * 200_000,
    "many kernels": "".join(f"__global__ void k{i}() {{}}\n" for i in range(30_000)),
    "continued directive": "#define X \\\n" * 200_000,
    "every character": "".join(chr(i % 0x3000) for i in range(1_000_000)),
    "empty": "",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_text_gives_a_short_outline_quickly(text: str) -> None:
    began = time.monotonic()
    result = outline("evil\n.cu", text)
    assert time.monotonic() - began < 10  # about one second on the 2-core machine
    rows = result.splitlines()
    assert rows[0].startswith("evil .cu (")
    assert 2 <= len(rows) <= MAX_ENTRIES + 1
    assert all(len(row) <= 140 for row in rows)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result)

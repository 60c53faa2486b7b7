"""The plain C seed of an imported problem, for each plan (plan.py): a loop nest that is
correct on every shape first, with a knob or two (avo:knob) for the tuner to try and the
agent to start from. Reductions accumulate in double, so the seed is never the one that
misses the tolerance; making them fast in float is the evolution's work.

Each knob starts at a value that does well on a common x86 core (8-float vectors), not at
its slowest: a first move worth more than the target's ``max_plausible_jump`` would be held
as a suspect by the commit gate rather than committed. Its other values (more or fewer
partial sums, wider blocks, more threads) are the tuner's to try on the machine at hand.
"""

from __future__ import annotations

from ..problem.graph import Node, is_index
from . import line_body
from .kernel_text import Kernel, Statements, c_name, elementwise_loop_body, seed_file
from .plan import ElementwisePlan, Layout, LinePlan, MatmulPlan, Plan, by_pattern

# The seed runs on one thread: more cores are a knob away (THREADS 0 is not offered, as a
# CPU shared with other work times badly on all of its cores).
INCLUDES = "#include <math.h>\n#include <omp.h>\n"
THREADS = "#define THREADS 1  // avo:knob 1 2 4"
PARALLEL = "#pragma omp parallel for num_threads(THREADS) schedule(static)"


def c_seed(kernel: Kernel, plan: Plan, about: list[str]) -> str:
    """The seed's source; ``about`` opens its comment (what the problem computes)."""
    return by_pattern(plan, lambda p: _elementwise(kernel, p, about),
                      lambda p: _line(kernel, p, about), lambda p: _matmul(kernel, p, about))


def _includes(kernel: Kernel) -> str:
    """INCLUDES, and the headers of the inputs' and outputs' integer types (int64_t, bool)."""
    extra = "".join(header for header, needed in (
        ("#include <stdbool.h>\n", "bool" in kernel.dtypes),
        ("#include <stdint.h>\n", any(d not in ("float32", "bool")
                                      for d in kernel.dtypes))) if needed)
    return INCLUDES + extra


def _elementwise(kernel: Kernel, plan: ElementwisePlan, about: list[str]) -> str:
    numel = kernel.size(kernel.shapes[kernel.output])
    return seed_file(kernel, "the importer's elementwise seed.", [
        *about, "One loop over every element of the output (every tensor has its shape), the "
        "operations of the forward in float, in order; OpenMP threads (THREADS) share it.",
    ], f"{_includes(kernel)}\n{THREADS}", "void", f"""\
    const long numel = {numel};
{PARALLEL}
    for (long idx = 0; idx < numel; ++idx) {{
{elementwise_loop_body(kernel, plan.graph, "        ")}
    }}""")


def _line(kernel: Kernel, plan: LinePlan, about: list[str]) -> str:
    sizes = "\n".join(f"    {line}" for line in line_body.sizes(kernel, plan))
    if line_body.lanes(kernel, plan):
        knobs = "#define LANES 4  // avo:knob 1 2 4 8 16\n#define BLOCK_INNER 1"
        walk = ("Each line is contiguous: a reduction's pass keeps LANES partial results, "
                "independent chains the processor overlaps, combined at the line's end.")
    elif line_body.contiguous(kernel, plan):
        knobs = "#define BLOCK_INNER 1"
        walk = "Each line is contiguous, and walked in order."
    else:
        knobs = "#define BLOCK_INNER 16  // avo:knob 1 4 16 64"
        walk = ("BLOCK_INNER neighbouring lines are walked together, so each pass reads whole "
                "cache lines where lines_inner > 1.")
    return seed_file(kernel, "the importer's line seed.", [
        *about, f"The input {plan.source} is seen as [lines_outer, line_len, lines_inner]: the "
        f"forward works along {_dims(plan)} (line_len elements, lines_inner apart), "
        "independently for each of the lines_outer x lines_inner lines. Each reduction is "
        f"one pass over a line, accumulated in double{_indices(plan)}; the last pass writes "
        f"the output{'s' if len(kernel.outputs) > 1 else ''}. {walk} OpenMP threads "
        "(THREADS) share the lines.",
    ], f"{_includes(kernel)}\n{knobs}\n{THREADS}", "void", f"""\
{sizes}
    const long blocks = (lines_inner + BLOCK_INNER - 1) / BLOCK_INNER;
{PARALLEL}
    for (long task = 0; task < lines_outer * blocks; ++task) {{
        const long o = task / blocks, i0 = task % blocks * BLOCK_INNER;
        const int width = lines_inner - i0 < BLOCK_INNER ? (int)(lines_inner - i0) : BLOCK_INNER;
{line_body.body(kernel, plan, "        ")}
    }}""")


def _indices(plan: LinePlan) -> str:
    if not any(is_index(n) for n in plan.graph.nodes):
        return ""
    return (" (an argmax or argmin keeps the best value and the index of its first "
            "occurrence, a NaN before any number, as torch does)")


def _dims(plan: LinePlan) -> str:
    if plan.stop - plan.start == 1:
        return f"its dimension {plan.start}"
    return f"its dimensions {plan.start} to {plan.stop - 1}"


def matmul_sizes(kernel: Kernel, plan: MatmulPlan) -> str:
    """rows (M), cols (N) and depth (K) of the product, from its operands' shapes."""
    a, b = kernel.shape(plan.a), kernel.shape(plan.b)
    cols = b[1:] if plan.layout == "kn" else b[:1]
    return (f"    const long rows = {kernel.size(a[:-1])};\n"
            f"    const long cols = {kernel.size(cols)};\n"
            f"    const long depth = {kernel.size(a[-1:])};")


def epilogue(kernel: Kernel, plan: MatmulPlan, acc: str, indent: str) -> str:
    """The statements after the product, for element (m, nn) whose product is ``acc``, and
    the store of the output."""
    def given(node: Node) -> str | None:
        if node.id == plan.matmul.id:
            return acc
        if node.op in ("input", "weight"):
            at = "m * cols + nn" if plan.layouts[node.id] == Layout.FULL else "nn"
            return kernel.read(node, at)
        return None

    step = Statements(plan.graph, given, indent)
    result = step.value(plan.graph.outputs[0])
    step.add(f"{c_name(kernel.output)}[m * cols + nn] = {result};")
    return step.text()


def _matmul(kernel: Kernel, plan: MatmulPlan, about: list[str]) -> str:
    a, b = kernel.param(plan.a), kernel.param(plan.b)
    if plan.layout == "kn":
        return seed_file(kernel, "the importer's matmul seed ([M, K] by [K, N]).", [
            *about, f"For each row m of {a}, BLOCK_N outputs at a time accumulate {a}[m, k] "
            f"times row k of {b} (a contiguous run the compiler vectorises), then the epilogue "
            "writes them; OpenMP threads (THREADS) share the rows.",
        ], f"{_includes(kernel)}\n#define BLOCK_N 64  // avo:knob 16 64 256\n{THREADS}", "void",
            f"""\
{matmul_sizes(kernel, plan)}
{PARALLEL}
    for (long m = 0; m < rows; ++m)
        for (long n0 = 0; n0 < cols; n0 += BLOCK_N) {{
            const int width = cols - n0 < BLOCK_N ? (int)(cols - n0) : BLOCK_N;
            float acc[BLOCK_N];
            for (int c = 0; c < width; ++c) acc[c] = 0.0f;
            for (long k = 0; k < depth; ++k) {{
                const float a = {a}[m * depth + k];
                const float *b_row = {b} + k * cols + n0;
                for (int c = 0; c < width; ++c) acc[c] += a * b_row[c];
            }}
            for (int c = 0; c < width; ++c) {{
                const long nn = n0 + c;
{epilogue(kernel, plan, "acc[c]", "                ")}
            }}
        }}""")
    return seed_file(kernel, "the importer's matmul seed ([M, K] by [N, K]^T).", [
        *about, f"Each output is the dot product of row m of {a} and row nn of {b} (a Linear "
        "layer's weight), summed in LANES partial sums the compiler keeps in a vector "
        f"register; the columns go in panels of PANEL_N, so those rows of {b} stay in cache "
        f"while every row of {a} passes over them. The epilogue runs on each value before its "
        "one store; OpenMP threads (THREADS) share the rows.",
    ], f"{_includes(kernel)}\n#define LANES 8     // avo:knob 4 8 16\n"
       f"#define PANEL_N 64  // avo:knob 16 64 256\n{THREADS}", "void", f"""\
{matmul_sizes(kernel, plan)}
    for (long n0 = 0; n0 < cols; n0 += PANEL_N) {{
        const long n1 = n0 + PANEL_N < cols ? n0 + PANEL_N : cols;
{PARALLEL}
        for (long m = 0; m < rows; ++m)
            for (long nn = n0; nn < n1; ++nn) {{
                const float *a_row = {a} + m * depth, *w_row = {b} + nn * depth;
                float part[LANES];
                for (int l = 0; l < LANES; ++l) part[l] = 0.0f;
                long k = 0;
                for (; k + LANES <= depth; k += LANES)
                    for (int l = 0; l < LANES; ++l) part[l] += a_row[k + l] * w_row[k + l];
                float acc = 0.0f;
                for (; k < depth; ++k) acc += a_row[k] * w_row[k];
                for (int l = 0; l < LANES; ++l) acc += part[l];
{epilogue(kernel, plan, "acc", "                ")}
            }}
    }}""")

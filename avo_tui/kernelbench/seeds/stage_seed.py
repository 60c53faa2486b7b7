"""The text of a stage seed (stage_plan.py): a C entry point that runs the stages in order,
each a loop nest over its output's elements shared by OpenMP threads (THREADS), its scratch
buffers allocated with malloc and freed after their last reader; or, for a forward of one
stage, a CUDA kernel with a thread per output element (a thread per line for a scan).

A stage's loop walks the elements of its output in order: its outer dimensions as rows
shared by the threads, its last dimension inside, each element computed by the statements of
its definition (stage_ir.py: a map's expression, or a reduction's loop over its domain,
accumulated in double, with a max keeping a NaN and an argmax the first index of the best).
"""

from __future__ import annotations

from collections.abc import Callable

from ..problem.graph import Unsupported
from ..problem.size_expr import SizeExpr
from .c_seed import INCLUDES, PARALLEL, THREADS
from .kernel_text import C_TYPES, CUDA_TYPES, Kernel, seed_file
from .stage_ir import Def, Index, Reduction, Scope, is_one, linear
from .stage_plan import Stage, StagePlan

TYPES = {**C_TYPES, "float64": "double"}
INITIAL = {"sum": "0.0", "prod": "1.0", "max": "-(1.0 / 0.0)", "min": "(1.0 / 0.0)",
           "argmax": "-(1.0 / 0.0)", "argmin": "(1.0 / 0.0)"}
# a term beats the best so far where it is further in its direction, or a NaN where the best is
# none: the first NaN is kept (torch's max, min, argmax and argmin)
BEATS = {"max": ">", "min": "<", "argmax": ">", "argmin": "<"}
BLOCK_N = "#define BLOCK_N 64  // avo:knob 16 64 256"
LANES = "#define LANES 8  // avo:knob 4 8 16"
# Scratch from the heap, kept by the process for the next launch: glibc maps a buffer past
# its mmap threshold (at most 32 MiB) afresh on every launch, and faulting its pages in cost
# about 1 ms a MiB on the 2-core machine (a 67 MiB scan's launch 155 ms, 71 ms without).
HEAP = ["#ifdef __GLIBC__",
        "    /* large scratch buffers from the heap, reused from launch to launch */",
        "    mallopt(M_MMAP_THRESHOLD, 1 << 30);",
        "    mallopt(M_TRIM_THRESHOLD, 1 << 30);",
        "#endif"]


def c_stage_seed(kernel: Kernel, plan: StagePlan, about: list[str]) -> str:
    count = len(plan.stages)
    stages: list[str] = []
    for number, stage in enumerate(plan.stages, 1):
        stages.append("")
        stages += _c_stage(stage, plan, f"stage {number} of {count}")
    # the sizes the stages named, declared before them
    scratch = any(s.scratch for s in plan.stages)
    body = [*(HEAP if scratch else []), *(f"    {line}" for line in plan.sizes.declarations()),
            *stages]
    needs = {"#include <stdlib.h>\n#ifdef __GLIBC__\n#include <malloc.h>\n#endif\n": scratch,
             "#include <stdbool.h>\n": "bool" in _dtypes(kernel, plan),
             "#include <stdint.h>\n": any(d not in ("float32", "float64", "bool")
                                          for d in _dtypes(kernel, plan))}
    includes = INCLUDES + "".join(header for header, needed in needs.items() if needed)
    knobs = "\n".join(line for line, used in (
        (BLOCK_N, any(blocked(stage.definition) for stage in plan.stages)),
        (LANES, any(dot(stage.definition) for stage in plan.stages)), (THREADS, True)) if used)
    return seed_file(kernel, "the importer's stage seed.", [
        *about, f"The forward in {count} stage{'s' if count > 1 else ''}, as torch runs it: "
        "each a loop nest over the elements of what it computes, written into an output or "
        "into a scratch buffer the kernel allocates (and frees after the last stage that "
        "reads it). Elementwise operations are computed where they are read; reductions, "
        "convolutions, pooling and products accumulate in double. OpenMP threads (THREADS) "
        "share each stage's outer loop.",
    ], f"{includes}\n{knobs}", "void", "\n".join(body))


def _dtypes(kernel: Kernel, plan: StagePlan) -> set[str]:
    return {*kernel.dtypes, *(s.definition.dtype for s in plan.stages)}


def _c_stage(stage: Stage, plan: StagePlan, title: str) -> list[str]:
    definition = stage.definition
    shape = ", ".join(plan.sizes(s) for s in definition.shape)
    lines = [f"    /* {title}: {definition.what} -> {stage.buffer} [{shape}] */"]
    if stage.scratch:
        ctype = TYPES[definition.dtype]
        numel = " * ".join(plan.sizes(s) for s in definition.shape if not is_one(s)) or "1"
        lines += [f"    {ctype} *{stage.buffer} = ({ctype} *)malloc(sizeof({ctype}) * "
                  f"((size_t)({numel}) + 1));",
                  f"    if (!{stage.buffer}) abort();"]
    lines += ["    {", *_loops(stage, plan, "        "), "    }"]
    lines += [f"    free({name});" for name in stage.frees]
    return lines


def _loops(stage: Stage, plan: StagePlan, indent: str) -> list[str]:
    """The loop nest of a stage over its output's elements (its scan's lines): the outer
    dimensions as rows shared by the threads, the last one (a scan's own) inside."""
    definition = stage.definition
    shape = definition.shape
    scan = definition.scan
    dims = [a for a, size in enumerate(shape) if not is_one(size)
            and (scan is None or a != scan[1])]
    inner = [scan[1]] if scan is not None else dims[-1:]
    outer = dims if scan is not None else dims[:-1]
    if not outer and inner and scan is None:
        outer, inner = inner, []
    rows = " * ".join(plan.sizes(shape[a]) for a in outer) or "1"
    lines = [PARALLEL, f"for (long row = 0; row < {rows}; ++row) {{"]
    lines += [f"    {line}" for line in _coordinates("row", outer, shape, plan)]
    lines += [f"    {line}" for line in _body(stage, plan, inner)]
    lines.append("}")
    return [indent + line if line.strip() and not line.startswith("#") else line
            for line in lines]


def _coordinates(variable: str, dims: list[int], shape: tuple[SizeExpr, ...],
                 plan: StagePlan) -> list[str]:
    """The coordinates ``i<axis>`` of ``dims`` from their row-major number ``variable``."""
    lines: list[str] = []
    stride = ""
    for axis in reversed(dims):
        quotient = variable if not stride else f"{variable} / {stride}"
        size = plan.sizes(shape[axis])
        value = quotient if axis == dims[0] else f"{quotient} % {size}"
        lines.insert(0, f"const long i{axis} = {value};")
        stride = size if not stride else f"({size} * {stride.strip('()')})"
    return lines


def _body(stage: Stage, plan: StagePlan, inner: list[int]) -> list[str]:
    """The statements for the elements of one row: a loop over ``inner`` (none, or the last
    dimension, or the scan's), each element computed and stored."""
    definition = stage.definition
    shape = definition.shape
    index = tuple(f"i{a}" if not is_one(size) else "0" for a, size in enumerate(shape))
    if blocked(definition) and inner:
        return _blocked_body(stage, plan, inner[0], index)
    lines = []
    if definition.scan is not None:
        lines.append(f"double acc = {'0.0' if definition.scan[0] == 'sum' else '1.0'};")
    for axis in inner:
        lines.append(f"for (long i{axis} = 0; i{axis} < {plan.sizes(shape[axis])}; "
                     f"++i{axis}) {{")
    scope = Scope(_reader(plan), "    " * len(inner))
    if definition.scan is not None:
        value = scope.read(definition.operands[0], index)
        scope.add(f"acc {'+' if definition.scan[0] == 'sum' else '*'}= {value};")
        result = "acc"
    else:
        result = _element(scope, definition, index, plan)
    target = linear(index, [plan.sizes(s) for s in shape], shape)
    scope.add(f"{stage.buffer}[{target}] = ({TYPES[definition.dtype]})({result});")
    return lines + scope.lines + ["}" for _ in inner]


def blocked(definition: Def) -> bool:
    """Whether a stage folds its products for BLOCK_N elements along its last dimension at
    once: a product with no window to test (a GEMM's, a batched one's), whose loop over
    those elements the compiler vectorises."""
    reduction = definition.reduction
    return reduction is not None and reduction.form == "blocked"


def dot(definition: Def) -> bool:
    """Whether a stage's element sums its one loop in LANES partial sums (a Linear's dot
    products, both operands read in order along it)."""
    reduction = definition.reduction
    return reduction is not None and reduction.form == "dot"


def _blocked_body(stage: Stage, plan: StagePlan, axis: int, index: Index) -> list[str]:
    definition = stage.definition
    reduction = definition.reduction
    assert reduction is not None
    size = plan.sizes(definition.shape[axis])
    loops = tuple(f"r{k}" for k in range(len(reduction.domain)))
    lines = [f"for (long n0 = 0; n0 < {size}; n0 += BLOCK_N) {{",
             f"    const long width = {size} - n0 < BLOCK_N ? {size} - n0 : BLOCK_N;",
             "    double acc[BLOCK_N];",
             "    for (long c = 0; c < width; ++c) acc[c] = 0.0;"]
    for level, (variable, extent) in enumerate(zip(loops, reduction.domain, strict=True)):
        lines.append("    " * (level + 1) + f"for (long {variable} = 0; {variable} < "
                     f"{plan.sizes(extent)}; ++{variable}) {{")
    depth = "    " * (len(loops) + 1)
    step = Scope(_reader(plan), depth + "    ")
    step.add(f"const long i{axis} = n0 + c;")
    term = step.let(f"(double)({reduction.term(step, index, loops)})", "double")
    step.add(f"acc[c] += {term};")
    lines += [f"{depth}for (long c = 0; c < width; ++c) {{", *step.lines, f"{depth}}}"]
    lines += ["    " * (k + 1) + "}" for k in reversed(range(len(loops)))]
    store = Scope(_reader(plan), "        ")
    store.add(f"const long i{axis} = n0 + c;")
    result = reduction.finish(store, index, "acc[c]")
    target = linear(index, [plan.sizes(s) for s in definition.shape], definition.shape)
    store.add(f"{stage.buffer}[{target}] = ({TYPES[definition.dtype]})({result});")
    return [*lines, "    for (long c = 0; c < width; ++c) {", *store.lines, "    }", "}"]


def _element(scope: Scope, definition: Def, index: Index, plan: StagePlan) -> str:
    reduction = definition.reduction
    if reduction is None:
        if definition.element is None:
            raise Unsupported(f"no element is written for {definition.what}")
        return definition.element(scope, index)
    kind = reduction.kind
    if dot(definition):
        return _dot(scope, reduction, index, plan)
    scope.add(f"double acc = {INITIAL[kind]};")
    if kind in ("argmax", "argmin"):
        scope.add("long best = 0;")
    loops = tuple(f"r{k}" for k in range(len(reduction.domain)))
    extents = [plan.sizes(size) for size in reduction.domain]
    for depth, (variable, extent) in enumerate(zip(loops, extents, strict=True)):
        scope.add("    " * depth + f"for (long {variable} = 0; {variable} < {extent}; "
                  f"++{variable}) {{")
    inner = scope.child("    " * len(loops))
    if reduction.condition is not None:
        condition = reduction.condition(inner, index, loops)
        if condition not in ("1", ""):
            inner.add(f"if (!({condition})) continue;")
    term = inner.let(f"(double)({reduction.term(inner, index, loops)})", "double")
    if kind == "sum":
        inner.add(f"acc += {term};")
    elif kind == "prod":
        inner.add(f"acc *= {term};")
    elif kind in ("max", "min"):
        inner.add(f"if ({term} {BEATS[kind]} acc || {term} != {term}) acc = {term};")
    else:
        at = linear(loops, extents, reduction.domain)
        inner.add(f"if ({term} {BEATS[kind]} acc || ({term} != {term} && acc == acc)) {{ "
                  f"acc = {term}; best = {at}; }}")
    scope.lines += inner.lines
    scope.lines += [scope.indent + "    " * (len(loops) - 1 - k) + "}"
                    for k in range(len(loops))]
    return reduction.finish(scope, index, "best" if kind in ("argmax", "argmin") else "acc")


def _dot(scope: Scope, reduction: Reduction, index: Index, plan: StagePlan) -> str:
    """A sum over one loop in LANES partial sums, independent chains the compiler keeps in
    a vector register, then the rest of the loop, then its finish."""
    extent = plan.sizes(reduction.domain[0])
    scope.add("double part[LANES];")
    scope.add("for (int l = 0; l < LANES; ++l) part[l] = 0.0;")
    scope.add("long r0 = 0;")
    for opening, variable, into in (
            ([f"for (; r0 + LANES <= {extent}; r0 += LANES)",
              "    for (int l = 0; l < LANES; ++l) {"], "r1", "part[l]"),
            ([f"for (; r0 < {extent}; ++r0) {{"], "r0", "part[0]")):
        for line in opening:
            scope.add(line)
        step = scope.child("    " * len(opening))
        if variable == "r1":
            step.add("const long r1 = r0 + l;")
        term = step.let(f"(double)({reduction.term(step, index, (variable,))})", "double")
        step.add(f"{into} += {term};")
        scope.lines += step.lines
        scope.add("    " * (len(opening) - 1) + "}")
    scope.add("double acc = 0.0;")
    scope.add("for (int l = 0; l < LANES; ++l) acc += part[l];")
    return reduction.finish(scope, index, "acc")


def _reader(plan: StagePlan) -> Callable[[Scope, Def, Index], str]:
    """How a stage reads a definition: from its buffer (or its alias's, in its own shape),
    else computed where it is read."""
    def read(scope: Scope, definition: Def, index: Index) -> str:
        buffer, shape = plan.buffers.get(id(definition)), definition.shape
        root = definition
        while buffer is None and root.alias is not None:
            root = root.alias
            buffer = plan.buffers.get(id(root))
        if buffer is None:
            if definition.element is None:
                raise Unsupported(f"{definition.what} is read before it is computed")
            return definition.element(scope, index)
        return f"{buffer}[{linear(index, [plan.sizes(s) for s in shape], shape)}]"
    return read


def cuda_stage_seed(kernel: Kernel, plan: StagePlan, about: list[str]) -> str:
    """A CUDA kernel of a one-stage plan (a thread per element); Unsupported for more stages
    (a CUDA kernel cannot allocate the scratch memory between them)."""
    if len(plan.stages) != 1 or plan.stages[0].scratch:
        raise Unsupported(f"its forward runs in {len(plan.stages)} stages, and a CUDA kernel "
                          "cannot allocate the scratch memory between them (the C seed can)")
    kernel = kernel.with_pointers("const {} *__restrict__ ", "{} *__restrict__ ",
                                  dict(CUDA_TYPES))
    stage = plan.stages[0]
    definition = stage.definition
    shape = definition.shape
    scan = definition.scan
    threads = [s for a, s in enumerate(shape) if scan is None or a != scan[1]]
    launch = kernel.launch_size(tuple(threads))
    work = [f"    /* {definition.what} -> {stage.buffer} */", *_cuda_body(stage, plan)]
    body = [f"    {line}" for line in plan.sizes.declarations()] + work
    return seed_file(kernel, "the importer's stage seed (CUDA, float32).", [
        *about, f"One stage ({definition.what}): "
        + ("a thread per line of the scan, in order along it." if scan is not None else
           "a thread per output element, its reduction (if any) accumulated in double."),
    ], f"#define BLOCK 256  // avo:knob 128 256 512\n{LANES + chr(10) if dot(definition) else ''}"
       f"// avo:launch grid=(ceil_div({launch}, BLOCK),) block=(BLOCK,)",
        'extern "C" __global__ void', "\n".join(body))


def _cuda_body(stage: Stage, plan: StagePlan) -> list[str]:
    """The thread's element (its line, for a scan): its coordinates from its index."""
    definition = stage.definition
    shape = definition.shape
    scan = definition.scan
    dims = [a for a, size in enumerate(shape) if not is_one(size)
            and (scan is None or a != scan[1])]
    count = " * ".join(plan.sizes(shape[a]) for a in dims) or "1"
    lines = ["const long idx = (long)blockIdx.x * BLOCK + threadIdx.x;",
             f"if (idx >= {count}) return;"]
    lines += _coordinates("idx", dims, shape, plan)
    lines += _body(stage, plan, [scan[1]] if scan is not None else [])
    return [f"    {line}" for line in lines]

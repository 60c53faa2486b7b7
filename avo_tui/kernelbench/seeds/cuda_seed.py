"""The plain CUDA seed of an imported problem (float32), for each plan (plan.py): correct on
every shape and simple to read, with a knob for the tuner and its launch declared
(avo:launch, in the dimensions' names in capitals). It must compile with NVRTC; it is not
meant to be fast: a thread per element, per line, or per output of a shared-memory tiled
product.
"""

from __future__ import annotations

from . import line_body
from .c_seed import epilogue, matmul_sizes
from .kernel_text import CUDA_TYPES, Kernel, elementwise_loop_body, seed_file
from .plan import ElementwisePlan, LinePlan, MatmulPlan, Plan, by_pattern

PREFIX = 'extern "C" __global__ void'


def cuda_seed(kernel: Kernel, plan: Plan, about: list[str]) -> str:
    kernel = kernel.with_pointers("const {} *__restrict__ ", "{} *__restrict__ ",
                                  dict(CUDA_TYPES))
    return by_pattern(plan, lambda p: _elementwise(kernel, p, about),
                      lambda p: _line(kernel, p, about), lambda p: _matmul(kernel, p, about))


def _elementwise(kernel: Kernel, plan: ElementwisePlan, about: list[str]) -> str:
    shape = kernel.shapes[kernel.output]
    return seed_file(kernel, "the importer's elementwise seed (CUDA, float32).", [
        *about, "A grid-stride loop, one element per thread per step.",
    ], f"""\
#define BLOCK 256  // avo:knob 128 256 512
// avo:launch grid=(ceil_div({kernel.launch_size(shape)}, BLOCK),) block=(BLOCK,)""", PREFIX,
        f"""\
    const long numel = {kernel.size(shape)};
    for (long idx = (long)blockIdx.x * BLOCK + threadIdx.x; idx < numel;
         idx += (long)gridDim.x * BLOCK) {{
{elementwise_loop_body(kernel, plan.graph, "        ")}
    }}""")


def _line(kernel: Kernel, plan: LinePlan, about: list[str]) -> str:
    source = kernel.shapes[kernel.leaves[("input", plan.source)]]
    lines = kernel.launch_size(source[:plan.start] + source[plan.stop:])
    sizes = "\n".join(f"    {line}" for line in line_body.sizes(kernel, plan))
    return seed_file(kernel, "the importer's line seed (CUDA, float32).", [
        *about, f"The input {plan.source} is seen as [lines_outer, line_len, lines_inner]; one "
        "thread walks one line (line_len elements, lines_inner apart): a pass per reduction, "
        "accumulated in double, then the pass that writes.",
    ], f"""\
#define BLOCK 128  // avo:knob 64 128 256
#define BLOCK_INNER 1
#define LANES 4
// avo:launch grid=(ceil_div({lines}, BLOCK),) block=(BLOCK,)""", PREFIX, f"""\
{sizes}
    const long line = (long)blockIdx.x * BLOCK + threadIdx.x;
    if (line >= lines_outer * lines_inner) return;
    const long o = line / lines_inner, i0 = line % lines_inner;
    const int width = 1;
{line_body.body(kernel, plan, "    ")}""")


def _matmul(kernel: Kernel, plan: MatmulPlan, about: list[str]) -> str:
    a, b = kernel.param(plan.a), kernel.param(plan.b)
    a_shape, b_shape = kernel.shape(plan.a), kernel.shape(plan.b)
    cols = b_shape[1:] if plan.layout == "kn" else b_shape[:1]
    b_at = "(k0 + ty) * cols + col" if plan.layout == "kn" else "col * depth + k0 + ty"
    return seed_file(kernel, "the importer's matmul seed (CUDA, float32).", [
        *about, "A TILE x TILE block of outputs per thread block; TILE-wide slices of the "
        "operands staged in shared memory, one output per thread, then the epilogue.",
    ], f"""\
#define TILE 16  // avo:knob 8 16 32
// avo:launch grid=(ceil_div({kernel.launch_size(cols)}, TILE), \
ceil_div({kernel.launch_size(a_shape[:-1])}, TILE)) block=(TILE, TILE)""", PREFIX, f"""\
{matmul_sizes(kernel, plan)}
    __shared__ float tile_a[TILE][TILE];
    __shared__ float tile_b[TILE][TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const long row = (long)blockIdx.y * TILE + ty, col = (long)blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (long k0 = 0; k0 < depth; k0 += TILE) {{
        tile_a[ty][tx] = row < rows && k0 + tx < depth ? {a}[row * depth + k0 + tx] : 0.0f;
        tile_b[ty][tx] = col < cols && k0 + ty < depth ? {b}[{b_at}] : 0.0f;
        __syncthreads();
        for (int kk = 0; kk < TILE; ++kk) acc += tile_a[ty][kk] * tile_b[kk][tx];
        __syncthreads();
    }}
    if (row >= rows || col >= cols) return;
    const long m = row, nn = col;
{epilogue(kernel, plan, "acc", "    ")}""")

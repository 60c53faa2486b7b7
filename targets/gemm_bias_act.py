"""out = gelu_tanh(a @ w^T + bias): a Linear layer with its bias and activation fused, bf16 on
the GPU, scored in TFLOP/s against cuBLAS plus the epilogue (knowledge/gemm-epilogue.md).

Layout. ``a`` is [m, k] (m tokens of k features), ``w`` is [n, k]: a Linear layer's weight as
torch stores it (``nn.Linear.weight``, ``F.linear(a, w, bias)``), k contiguous in both, so
the product is "NT" and both operands stream along k. ``bias`` is [n], ``out`` [m, n]. All
contiguous bf16.

The activation is GELU with the tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
x^3))): what GPT-style MLPs apply right after their up projection, so this one GEMM with its
epilogue is that layer. It is also the activation cuBLASLt can fuse (its GELU_BIAS epilogue,
torch._addmm_activation), which gives the strongest cuBLAS baseline; SiLU has no cuBLASLt
epilogue, and LLaMA-style MLPs use it inside SwiGLU, which is two GEMMs.

The kernel's contract: m >= 1 and n >= 1 any; k >= 8 and a multiple of 8, so every row of a
and w is whole 16-byte chunks (16-byte cp.async loads); every tensor 16-byte aligned (the
harness allocates them so). Every configuration below, edge and drawn ones included, keeps it.

Work: 2 m n k FLOPs (a multiply and an add per term of the product); the epilogue's bias add
and activation are not counted.

Numerics: the reference is the same function in float64. The honest computation is what a
correct kernel at this precision computes: bf16 inputs, a float32 product and accumulation,
the bias add and the activation in float32, one rounding to bf16. A kernel passes within 3
times that computation's error, over the whole output and over each row (never below floors
of 2e-3). With standard-normal inputs a @ w^T has a standard deviation of sqrt(k), 64 to 120
here: most pre-activations sit in GELU's two tails (x, or a tiny negative number), so the
case ``unit`` scales a by 1/sqrt(k) to put them on the curve, where GELU differs from ReLU.

Baselines, each rounding once: ``cublas`` (cuBLAS to float32, then torch eager's bias add,
GELU and rounding; the one ratios are taken against), ``cublaslt-gelu`` (cuBLASLt's fused
bias and GELU epilogue, the strongest cuBLAS offers) and ``torch-compile`` (of ``cublas``).
Each says why where it cannot run: they need a CUDA GPU, and the last two a torch that has
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from avo_tui.evaluation import Baseline, Input, Int, Output, Target

if TYPE_CHECKING:
    import random

    from torch import Tensor


def linear_gelu(a: Tensor, w: Tensor, bias: Tensor, **_: Any) -> Tensor:
    """The computation, in the dtype of its inputs: the reference on float64 inputs."""
    import torch.nn.functional as F

    return F.gelu(F.linear(a, w, bias), approximate="tanh")


def honest(a: Tensor, w: Tensor, bias: Tensor, **_: Any) -> Tensor:
    return linear_gelu(a.float(), w.float(), bias.float()).to(a.dtype)


# The baselines round once, as the honest computation does. torch eager in bf16,
# F.gelu(F.linear(a, w, bias)), rounds twice: the product to bf16, then the activation; GELU's
# slope multiplies the first rounding's error by up to about ten in its negative tail, and on
# rows of a few dozen values that lands outside this target's tolerance, as it would for a
# kernel that did the same.


def cublas(a: Tensor, w: Tensor, bias: Tensor, **_: Any) -> Tensor:
    """cuBLAS's GEMM with a float32 output, then the bias and GELU in float32 and one rounding
    to bf16: torch eager, four kernels."""
    import torch
    import torch.nn.functional as F

    product = torch.mm(a, w.t(), out_dtype=torch.float32)
    return F.gelu(product + bias, approximate="tanh").to(a.dtype)


def cublaslt_gelu(a: Tensor, w: Tensor, bias: Tensor, **_: Any) -> Tensor:
    """cuBLASLt's GELU_BIAS epilogue (torch._addmm_activation): product, bias and GELU in one
    kernel, one rounding. torch takes that path only where m, n and k exceed 1 (otherwise
    it runs a GEMM to bf16 and then GELU, rounding twice); such shapes, which only the edge
    configurations have, are computed as ``cublas`` computes them."""
    import torch

    (m, k), n = a.shape, w.shape[0]
    if min(m, n, k) > 1 and n % 8 == 0:
        return torch._addmm_activation(bias, a, w.t(), use_gelu=True)
    return cublas(a, w, bias)


_compiled: list[Callable[..., Tensor]] = []  # torch.compile(cublas), made once per process


def compiled(a: Tensor, w: Tensor, bias: Tensor, **_: Any) -> Tensor:
    if not _compiled:
        import torch

        # dynamic: one graph serves every shape (sizes of 1 aside), so no configuration meets
        # torch's recompile limit and falls back to eager unannounced
        _compiled.append(torch.compile(cublas, dynamic=True))
    return _compiled[0](a, w, bias)


def missing_here(function: Callable[..., Tensor]) -> Callable[[], str | None]:
    """Why ``function`` cannot be a baseline here: no CUDA GPU; it fails on a small problem
    (torch without the op, torch.compile without Triton or on an unsupported Python); or it
    rounds twice there. Its first call compiles what it compiles, before any timing."""
    def missing() -> str | None:
        import torch

        if not torch.cuda.is_available():
            return "it runs on a CUDA GPU, and none is visible"
        # all sizes different and over 1: torch.compile's one dynamic graph then serves every
        # timed shape; pre-activations of unit scale, where a second rounding shows
        g = torch.Generator(device="cuda").manual_seed(0)
        a = (torch.randn((48, 40), generator=g, device="cuda") / 40 ** 0.5).to(torch.bfloat16)
        w = torch.randn((56, 40), generator=g, device="cuda").to(torch.bfloat16)
        bias = torch.randn((56,), generator=g, device="cuda").to(torch.bfloat16)
        try:
            out = function(a, w, bias)
            torch.cuda.synchronize()
        except Exception as error:
            first = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
            return f"it fails here ({type(error).__name__}: {first})"
        exact = linear_gelu(a.double(), w.double(), bias.double())
        ratio = _distance(out, exact) / _distance(honest(a, w, bias), exact)
        if not ratio < 1.2:  # one rounding: about 1.0; rounding twice: about 1.5
            return (f"its output is {ratio:.2f} times as far from the exact one as one rounding "
                    "to bf16 leaves it: it rounds twice here")
        return None
    return missing


def _distance(out: Tensor, exact: Tensor) -> float:
    return float((out.double() - exact).norm() / exact.norm())


def shape(*dims: str) -> Callable[[dict[str, Any]], tuple[int, ...]]:
    return lambda c: tuple(c[d] for d in dims)


def unit(inputs: dict[str, Any], generator: Any) -> None:
    # a / sqrt(k): pre-activations of unit scale, on GELU's curve rather than its tails
    a = inputs["a"]
    a.div_(math.sqrt(a.shape[1]))


def large_rows(inputs: dict[str, Any], generator: Any) -> None:
    # every 37th row of a a thousand times larger: outputs of tens of thousands there, and
    # each other row still held to its own tolerance
    inputs["a"][::37].mul_(1e3)


def zeros(inputs: dict[str, Any], generator: Any) -> None:
    # a zero row of a and a zero row of w: out[0, :] is gelu(bias), out[:, -1] gelu(bias[-1])
    inputs["a"][0].zero_()
    inputs["w"][-1].zero_()


def draw(rng: random.Random) -> list[dict[str, int]]:
    """Six shapes per evaluation: m and n anywhere from one row to a few 128-row tiles and a
    remainder, k any multiple of 8 up to 2048 (so every remainder of a 32- or 64-wide k
    step)."""
    return [{"m": rng.randint(1, 640), "n": rng.randint(1, 1100), "k": 8 * rng.randint(1, 256)}
            for _ in range(6)]


def config(m: int, n: int, k: int) -> dict[str, int]:
    return {"m": m, "n": n, "k": k}


target = Target(
    name="gemm-bias-act",
    description="out = gelu_tanh(a @ w^T + bias), bf16, a Linear layer's GEMM with its "
                "epilogue fused (LLM MLP shapes)",
    kind="cuda",
    dtype="bfloat16",
    entry="avo_gemm_bias_act",
    dims=("m", "n", "k"),
    parameters=(
        Input("a", shape("m", "k")),
        Input("w", shape("n", "k")),
        Input("bias", shape("n")),
        Output("out", shape("m", "n")),
        Int("m"),
        Int("n"),
        Int("k"),
    ),
    # A 4096-wide model's MLP (LLaMA-2-7B's 11008, Mistral-7B's 14336), up and down
    # projections, over 4k to 16k tokens; and a square 8192 GEMM.
    configs=(
        config(8192, 11008, 4096),
        config(8192, 4096, 11008),
        config(4096, 14336, 4096),
        config(16384, 4096, 14336),
        config(8192, 8192, 8192),
    ),
    edge_configs=(
        config(1, 4096, 4096),  # one token
        config(17, 1000, 4104),  # k 8 past a multiple of 64; n no multiple of 16
        config(129, 4097, 520),  # an odd n: rows of out not 4-byte aligned
        config(300, 24, 8),  # k one 16-byte chunk, under one k step
        config(1000, 1, 64),  # one output column
    ),
    draw=draw,
    cases={"unit": unit, "large_rows": large_rows, "zeros": zeros},
    reference=linear_gelu,
    honest=honest,
    flops=lambda c: 2 * c["m"] * c["n"] * c["k"],
    baselines={
        "cublas": Baseline(cublas, missing_here(cublas)),
        "cublaslt-gelu": Baseline(cublaslt_gelu, missing_here(cublaslt_gelu)),
        "torch-compile": Baseline(compiled, missing_here(compiled)),
    },
    seed="../kernels/cuda/gemm_bias_act.cu",
)

"""RMSNorm with a residual add, bf16, on the GPU: memory-bound, scored in GB/s.

    h = x + residual                              (rounded to bf16, as torch computes it)
    out = h / sqrt(mean(h^2, last dim) + eps) * weight

x and residual are [rows, hidden], weight is [hidden], out is [rows, hidden], all bf16; the
hidden sizes of today's LLMs (4096 to 16384) over 4096 to 16384 rows (tokens). A launch moves
3 * rows * hidden + hidden bf16 values at least and does a few operations on each: the
kernel is bound by memory bandwidth (knowledge/rmsnorm.md), and its throughput is held to the
GPU's measured copy bandwidth.

The honest computation is what a correct bf16 kernel computes: the sum rounded to bf16 (the
residual stream an LLM keeps is bf16, and torch's x + residual rounds it), then float32 for
the sum of squares, the scale and the weight, one rounding to bf16 at the end. A kernel that
keeps the sum in float32 is closer to the exact output and passes too; one that accumulates
in bf16 or fp16, or rounds in between, lands several times further away and fails.

Baselines: torch.compile first (the ratio's reference): one fused Triton kernel, the bar a
user gets from one decorator; eager torch beside it (five and more kernels with float32
intermediates: about three times the bytes). torch is imported inside the functions, so the
parent process reads this file without it.
"""

from __future__ import annotations

from typing import Any

from avo_tui.evaluation import Baseline, Float, Input, Int, Output, Target

BF16_BYTES = 2


def rows_hidden(c: dict[str, Any]) -> tuple[int, int]:
    return (c["rows"], c["hidden"])


def hidden_only(c: dict[str, Any]) -> tuple[int]:
    return (c["hidden"],)


def moved(c: dict[str, Any]) -> float:
    """x and residual read once, out written once, the weight read once."""
    return float(BF16_BYTES * (3 * c["rows"] * c["hidden"] + c["hidden"]))


def exact(x: Any, residual: Any, weight: Any, eps: float, **_: Any) -> Any:
    """In float64: the reference."""
    import torch

    h = x + residual
    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * weight


def fused(x: Any, residual: Any, weight: Any, eps: float, **_: Any) -> Any:
    """On bf16 inputs: the sum rounded to bf16, float32 from there, one rounding at the end.
    The honest computation, eager torch's baseline and what torch.compile compiles."""
    import torch

    h = (x + residual).float()
    scale = torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return (h * scale * weight.float()).to(x.dtype)


def _norm(x: Any, residual: Any, weight: Any, eps: float) -> Any:
    return fused(x, residual, weight, eps)


_compiled: dict[str, Any] = {}


def compiled_norm() -> Any:
    """``fused`` through torch.compile, made once per process. Each shape is compiled once, for
    that shape (dynamic=False), as a user running one model gets it: a kernel compiled for
    symbolic sizes would be a weaker bar. The recompile limit is raised past the shapes one
    process meets (the timed, edge and quick configurations), so that none falls back to
    eager unseen."""
    if "norm" not in _compiled:
        import torch
        import torch._dynamo

        config = torch._dynamo.config
        for limit in ("recompile_limit", "cache_size_limit"):
            if hasattr(config, limit):
                setattr(config, limit, max(getattr(config, limit), 64))
        _compiled["norm"] = torch.compile(_norm, dynamic=False)
    return _compiled["norm"]


def torch_compiled(x: Any, residual: Any, weight: Any, eps: float, **_: Any) -> Any:
    return compiled_norm()(x, residual, weight, eps)


def compile_missing() -> str | None:
    """Why torch.compile cannot be the baseline in this process: it is timed on the GPU, where
    it generates Triton (on the CPU it would compile C++ for each shape, and `avo targets
    check` without a GPU leaves it out); or it failed on a small problem here."""
    import torch

    if not torch.cuda.is_available():
        return "torch.compile's baseline runs on a CUDA GPU (Triton), and none is here"
    try:
        x = torch.randn(2, 64, device="cuda", dtype=torch.bfloat16)
        compiled_norm()(x, x, x[0], 1e-6)
        torch.cuda.synchronize()
    except Exception as error:  # no Triton, no host compiler for its launcher, ...
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        return f"torch.compile failed here ({type(error).__name__}: {first})"
    return None


def huge(inputs: dict[str, Any], generator: Any) -> None:
    # |h| about 1e12: squares of 1e24, a row's sum past 1e28. float32 holds it; any fp16
    # intermediate overflows (65504), and a kernel that squares before it scales must not.
    inputs["x"].mul_(1e12)
    inputs["residual"].mul_(1e12)


def mixed(inputs: dict[str, Any], generator: Any) -> None:
    # Each row its own scale, 1e-6 to 1e6: a row's norm comes from that row alone (a reduction
    # that leaks across rows shows), and in the quiet rows eps outweighs mean(h^2).
    import torch

    rows = inputs["x"].shape[0]
    powers = torch.randint(-6, 7, (rows, 1), generator=generator, device=generator.device)
    scale = torch.pow(10.0, powers.double()).to(inputs["x"].dtype)
    inputs["x"].mul_(scale)
    inputs["residual"].mul_(scale)


def zeros(inputs: dict[str, Any], generator: Any) -> None:
    # On every third row residual = -x, a sum that cancels to exactly zero, and the next row
    # zero in both: out must be 0 there, where a kernel without eps divides 0 by 0.
    x, residual = inputs["x"], inputs["residual"]
    residual[::3] = -x[::3]
    x[1::3] = 0
    residual[1::3] = 0


def shapes(*pairs: tuple[int, int]) -> tuple[dict[str, int], ...]:
    return tuple({"rows": rows, "hidden": hidden} for rows, hidden in pairs)


def draw(rng: Any) -> list[dict[str, int]]:
    """Four shapes per evaluation: hidden a multiple of 8 (16-byte vectors), one past such a
    multiple, a small one, a multiple of 4 alone; up to 48 rows."""
    hiddens = (8 * rng.randint(1, 2048), 8 * rng.randint(1, 2048) + rng.randint(1, 7),
               rng.randint(1, 64), 4 * rng.randint(1, 4096))
    return [{"rows": rng.randint(1, 48), "hidden": hidden} for hidden in hiddens]


target = Target(
    name="rmsnorm",
    description="RMSNorm with a residual add, bf16, hidden 4096-16384 (memory-bound, GB/s)",
    kind="cuda",
    dtype="bfloat16",
    entry="avo_rmsnorm",
    dims=("rows", "hidden"),
    parameters=(
        Input("x", rows_hidden),
        Input("residual", rows_hidden),
        Input("weight", hidden_only),
        Output("out", rows_hidden),
        Int("rows"),
        Int("hidden"),
        Float("eps", 1e-6),
    ),
    configs=shapes((4096, 4096), (16384, 4096), (4096, 8192), (16384, 8192), (4096, 16384),
                   (8192, 16384)),
    quick_configs=shapes((16384, 8192)),
    # one row; one element; odd; a multiple of 8 below one vector per thread; a multiple of 4
    # alone; one past 16384
    edge_configs=shapes((1, 4096), (1, 1), (3, 4097), (7, 1000), (2, 12), (5, 16385)),
    draw=draw,
    cases={"huge": huge, "mixed": mixed, "zeros": zeros},
    reference=exact,
    honest=fused,
    bytes=moved,
    baselines={
        "torch-compile": Baseline(torch_compiled, compile_missing),
        "torch-eager": fused,
    },
    seed="../kernels/cuda/rmsnorm.cu",
)

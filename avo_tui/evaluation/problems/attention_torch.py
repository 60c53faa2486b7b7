"""The attention forward problem on the worker's side (problem.Numerics): the hostile input
cases, the float64 reference and the honest computation, and the baselines (torch)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..measurement.tensors import make_inputs
from ..targets.backward import farthest, farthest_rows, neighbours
from ..targets.problem import BaselineCall, Config, InputSet, Problem, RowSample, on_inputs
from .attention import FA3_MAJORS, FA4_MAJORS, INPUT_CASES, Shape
from .attention import config as attention_config

REFERENCE_CHUNK_ELEMENTS = 1 << 26  # bounds the score matrix the reference holds at once


# Logits with a standard deviation this large overflow exp() in float32 unless the kernel
# subtracts the running maximum.
LARGE_LOGIT_STD = 160.0
DOMINANT_LOGIT = 24.0  # about exp(24) times the weight of any other key


def shape_case(config: Config, inputs: InputSet, generator: torch.Generator, case: str) -> None:
    """Standard-normal ``inputs`` made into ``case`` in place (INPUT_CASES)."""
    shape = Shape.of(config)
    q, k = inputs["q"], inputs["k"]
    if case == "large":
        # q.k / sqrt(D) has variance sigma**4 for q, k ~ N(0, sigma**2)
        sigma = math.sqrt(LARGE_LOGIT_STD)
        q.mul_(sigma)
        k.mul_(sigma)
    elif case == "dominant":
        # Each query row i of the first head of each group gets one key j <= i (visible under
        # the causal mask too) pointing its way, far above every other logit of that row.
        group = shape.heads_q // shape.heads_kv
        rows = torch.arange(shape.seq_len, device=q.device)
        offsets = torch.randint(0, 4, (shape.seq_len,), generator=generator, device=q.device)
        keys = (rows - offsets).clamp(min=0)
        qf = q[:, ::group].float()
        norms = qf.pow(2).sum(-1, keepdim=True).clamp(min=1e-6)
        boost = qf * (DOMINANT_LOGIT * math.sqrt(shape.head_dim) / norms)
        # Rows that drew the same key: the last of them takes it. An index_put with repeated
        # indices leaves the winner to chance on a GPU, and one --seed must give one input.
        last = torch.full_like(rows, -1).scatter_reduce(0, keys, rows, reduce="amax")
        taken = (last >= 0).nonzero().squeeze(1)
        k[:, :, taken] = boost[:, :, last[taken]].to(k.dtype)
    elif case == "flat":
        # Every other query row is zero (all its logits equal) and the last KV head holds one
        # key repeated (all logits of every query of that group equal).
        q[:, :, ::2] = 0
        k[:, -1] = k[:, -1, :1]
    else:
        raise ValueError(f"unknown input case {case!r} (one of {', '.join(INPUT_CASES)})")


def reference(config: Config, inputs: InputSet, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Exact attention in ``dtype``, computed a block of queries at a time to bound memory."""
    return _blocks(config, inputs, dtype, None)


def references(
    config: Config,
    inputs: InputSet,
    dtype: torch.dtype = torch.float64,
    emulate: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Exact attention in ``dtype`` and, with ``emulate``, attention as an honest kernel at that
    precision computes it on the inputs as given (see reference_rows), a block of queries at a
    time."""
    exact = _blocks(config, inputs, dtype, None)
    return exact, _blocks(config, inputs, dtype, emulate) if emulate is not None else None


def forward_with_lse(config: Config, inputs: InputSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact attention and each query row's log-sum-exp of its scaled logits, in float64."""
    shape = Shape.of(config)
    lse = torch.empty((shape.batch, shape.heads_q, shape.seq_len), dtype=torch.float64,
                      device=inputs["q"].device)
    return _blocks(config, inputs, torch.float64, None, lse), lse


def _blocks(config: Config, inputs: InputSet, dtype: torch.dtype, emulate: torch.dtype | None,
            lse: torch.Tensor | None = None) -> torch.Tensor:
    """Exact attention in ``dtype`` (``emulate`` None), or the honest computation at
    ``emulate``'s precision held in ``dtype``: float32 logits (honest_logits), the weights and
    the output rounded to ``emulate``. A block of queries at a time. With ``lse`` (exact
    only), each row's log-sum-exp of its scaled logits is written there too."""
    shape = Shape.of(config)
    group = shape.heads_q // shape.heads_kv
    q = inputs["q"].to(dtype) if emulate is None else inputs["q"]
    k = (inputs["k"].to(dtype) if emulate is None else inputs["k"]).repeat_interleave(group, 1)
    v = inputs["v"].to(dtype).repeat_interleave(group, dim=1)
    out = torch.empty(q.shape, dtype=dtype, device=q.device)
    rows = max(1, REFERENCE_CHUNK_ELEMENTS // (shape.batch * shape.heads_q * shape.seq_len))
    keys = torch.arange(shape.seq_len, device=q.device)
    scale = shape.softmax_scale
    for start in range(0, shape.seq_len, rows):
        stop = min(shape.seq_len, start + rows)
        block = q[:, :, start:stop]
        scores = (block @ k.transpose(-1, -2) if emulate is None
                  else honest_logits(block, k)) * scale
        scores = scores.to(dtype)
        if shape.causal:
            masked = keys[None, :] > torch.arange(start, stop, device=q.device)[:, None]
            scores.masked_fill_(masked, float("-inf"))
        if emulate is None:
            out[:, :, start:stop] = torch.softmax(scores, dim=-1) @ v
            if lse is not None:
                lse[:, :, start:stop] = torch.logsumexp(scores, dim=-1)
            continue
        weights = torch.exp(scores - scores.amax(-1, keepdim=True))
        total = weights.sum(-1, keepdim=True)
        rounded = weights.to(emulate).to(dtype)
        out[:, :, start:stop] = (rounded @ v / total).to(emulate).to(dtype)
    return out


def honest_logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q kᵀ in float32 as an honest kernel sums it. From float32 inputs: one product at a
    time, in the head dimension's order, each product and each partial sum rounded, as a
    plain loop does (ISO C contracts nothing into an FMA). That is the least accurate order a
    correct kernel takes, and its error grows with the partial sums (about sqrt(D) times a
    one-ulp move of the inputs'); a blocked sum or a matmul rounds less. From bf16 or float16
    inputs: a matmul, as their products are exact in float32 and the output's ulp, 2^13
    times float32's or more, hides the order of the sum."""
    if q.dtype != torch.float32 or k.dtype != torch.float32:
        return q.float() @ k.float().transpose(-1, -2)
    total = q.new_zeros((*q.shape[:-1], k.shape[-2]))
    product = torch.empty_like(total)
    q_by_d, k_by_d = q.transpose(-1, -2).contiguous(), k.transpose(-1, -2).contiguous()
    for d in range(q.shape[-1]):
        torch.mul(q_by_d[..., d, :, None], k_by_d[..., d, None, :], out=product)
        total += product
    return total


PAIRS_PER_CHUNK = 32  # gathered keys in float64 per chunk: 32 x S x D, 1 GiB at S=32k, D=128


def reference_rows(
    config: Config, inputs: InputSet, sample: RowSample, emulate: torch.dtype | None = None
) -> torch.Tensor:
    """The sample's rows of exact attention in float64; with ``emulate``, as an honest kernel
    at that precision computes them instead: float32 logits (honest_logits), the weights and
    the output rounded to ``emulate``. Its distance to the exact rows is the error the
    tolerance is built on.
    Every pick (one (batch, head) pair) has the same number of rows, so picks are computed
    PAIRS_PER_CHUNK at a time."""
    shape = Shape.of(config)
    group = shape.heads_q // shape.heads_kv
    scale = shape.softmax_scale
    q_all, k_all, v_all = inputs["q"], inputs["k"], inputs["v"]
    device = q_all.device
    parts = []
    for first in range(0, len(sample.picks), PAIRS_PER_CHUNK):
        picks = sample.picks[first : first + PAIRS_PER_CHUNK]
        batch = torch.tensor([b for (b, _), _ in picks], device=device)
        head = torch.tensor([h for (_, h), _ in picks], device=device)
        rows = torch.tensor([list(r) for _, r in picks], device=device)  # [P, R]
        q = q_all[batch[:, None], head[:, None], rows]  # [P, R, D]
        k, v = k_all[batch, head // group], v_all[batch, head // group]  # [P, S, D]
        if emulate is None:
            scores = (q.double() @ k.double().transpose(-1, -2)) * scale
        else:
            scores = (honest_logits(q, k) * scale).double()
        if shape.causal:
            keys = torch.arange(shape.seq_len, device=device)
            scores.masked_fill_(keys[None, None, :] > rows[:, :, None], float("-inf"))
        weights = torch.exp(scores - scores.amax(-1, keepdim=True))
        total = weights.sum(-1, keepdim=True)
        if emulate is not None:
            weights = weights.to(emulate).double()
        rows_out = weights @ v.double() / total
        out = rows_out.to(emulate).double() if emulate is not None else rows_out
        parts.append(out.reshape(-1, out.shape[-1]))
    return torch.cat(parts)


def sdpa_baseline(config: Config, backend: str | None = None) -> BaselineCall:
    """torch's scaled_dot_product_attention, pinned to ``backend`` when one is named."""
    shape = Shape.of(config)
    gqa = shape.heads_q != shape.heads_kv

    def run(inputs: InputSet) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            inputs["q"], inputs["k"], inputs["v"], is_causal=shape.causal, enable_gqa=gqa
        )

    if backend is None:
        return on_inputs(run)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    chosen = getattr(SDPBackend, backend)

    def pinned(inputs: InputSet) -> torch.Tensor:
        with sdpa_kernel([chosen]):
            return run(inputs)

    return on_inputs(pinned)


def _in_native_layout(config: Config,
                      attend: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]
                      ) -> BaselineCall:
    """A FlashAttention package's ``flash_attn_func`` in its own layout, [batch, seq_len,
    heads, head_dim] contiguous: the inputs are copied there untimed, so it is timed as its
    users call it, never on a strided view of ours."""
    native: list[torch.Tensor] = []

    def stage(inputs: InputSet) -> None:
        if not native:
            native.extend(t.transpose(1, 2).contiguous() for t in inputs.tensors)
        else:
            for mine, theirs in zip(native, inputs.tensors, strict=True):
                mine.copy_(theirs.transpose(1, 2))

    causal = Shape.of(config).causal

    def run() -> torch.Tensor:
        q, k, v = native
        out = attend(q, k, v, causal=causal)
        result: torch.Tensor = out[0] if isinstance(out, tuple) else out
        return result

    return BaselineCall(stage, run)


def fa4_baseline(config: Config) -> BaselineCall:
    """FlashAttention-4 (``flash_attn.cute``, the flash-attn-4 package)."""
    from flash_attn.cute import flash_attn_func

    return _in_native_layout(config, flash_attn_func)


def fa3_baseline(config: Config) -> BaselineCall:
    """FlashAttention-3's forward (``fa3_fwd_interface``, the fa3-fwd package: FA3 built for
    sm_90a alone)."""
    from fa3_fwd_interface import flash_attn_func

    return _in_native_layout(config, flash_attn_func)


def _package_missing(module: str, majors: tuple[int, ...], elsewhere: str) -> str | None:
    """Why a FlashAttention package cannot run here: ``module`` does not import, or this GPU's
    major architecture is not in ``majors`` (then ``elsewhere`` says where it runs)."""
    try:
        importlib.import_module(module)
    except Exception as error:  # an ImportError, or a broken install raising anything
        return f"{module} is not importable ({type(error).__name__}: {error})"
    major = torch.cuda.get_device_capability()[0] if torch.cuda.is_available() else 0
    return None if major in majors else elsewhere


def _fa4_missing() -> str | None:
    return _package_missing("flash_attn.cute", FA4_MAJORS, (
        "FlashAttention-4 runs on Hopper (sm_90) and data-centre Blackwell (sm_100, sm_103) "
        "alone"))


def _fa3_missing() -> str | None:
    return _package_missing("fa3_fwd_interface", FA3_MAJORS,
                            "FlashAttention-3 (the fa3-fwd build) runs on Hopper (sm_90) alone")


def sdpa_missing(name: str, device: str = "cuda", problem: Problem | None = None) -> str | None:
    """Why torch's own attention ``name`` (cudnn, flash) cannot run on this GPU, found by
    running it once on a small problem of ``problem`` (None: the forward): torch has each
    only on some architectures."""
    if device == "cuda" and not torch.cuda.is_available():
        return "no GPU here (torch sees no CUDA device)"
    small = attention_config(1, 1, 1, 128, 128, False, "bfloat16", problem)
    try:
        inputs = make_inputs(small, torch.Generator(device=device).manual_seed(0), device)
        call = small.problem.numerics().baselines[name](small)
        call.stage(inputs)
        call.run()
        if device != "cpu":
            torch.cuda.synchronize()
    except Exception as error:  # torch says "no available kernel", or what else went wrong
        return f"torch cannot run it on this GPU ({type(error).__name__}: {_first_line(error)})"
    return None


def _first_line(error: Exception, limit: int = 200) -> str:
    """The error's first line, cut at a word when it is long (never inside a word)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


BASELINES: dict[str, Callable[[Config], BaselineCall]] = {
    "torch-sdpa-cpu": lambda config: sdpa_baseline(config),
    "cudnn": lambda config: sdpa_baseline(config, "CUDNN_ATTENTION"),
    "flash": lambda config: sdpa_baseline(config, "FLASH_ATTENTION"),
    "fa4": fa4_baseline,
    "fa3": fa3_baseline,
}
# Baselines that some machines lack (a package beside torch, or a kernel torch has only for
# some GPUs): each says why it cannot run here, or None. A missing one is left out of the
# evaluation and named in its notes.
OPTIONAL_BASELINES: dict[str, Callable[[], str | None]] = {
    "fa4": _fa4_missing,
    "fa3": _fa3_missing,
    "cudnn": lambda: sdpa_missing("cudnn"),
    "flash": lambda: sdpa_missing("flash"),
}
_missing: dict[str, str | None] = {}


def baseline_missing(name: str) -> str | None:
    """Why ``name`` cannot be timed in this process (None: it can), asked once per process."""
    if name not in OPTIONAL_BASELINES:
        return None
    if name not in _missing:
        _missing[name] = OPTIONAL_BASELINES[name]()
    return _missing[name]


class AttentionNumerics:
    """problem.Numerics for attention, over this module's functions."""

    baselines = BASELINES
    shape_case = staticmethod(shape_case)
    baseline_missing = staticmethod(baseline_missing)

    def derive(self, config: Config, inputs: InputSet) -> None:
        """The forward's inputs are all drawn."""

    def references(self, config: Config, inputs: InputSet, emulate: torch.dtype,
                   output: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention has one output, which ``output`` names or leaves out. Its honest
        computation is, elementwise, the farthest from the exact output of its runs on the
        inputs as given and moved an ulp (targets/backward.py): on large logits a row whose
        two best keys nearly tie carries the logits' rounding into the output, and one run's
        draw of it landed far under a correct kernel's, which was rejected."""
        exact, given = references(config, inputs, emulate=emulate)
        assert given is not None
        moved = [_blocks(config, InputSet(tensors), torch.float64, emulate)
                 for tensors in neighbours(inputs.named)]
        return exact, farthest(exact, given, moved)

    def reference_rows(self, config: Config, inputs: InputSet, sample: RowSample,
                       emulate: torch.dtype | None = None, output: str | None = None,
                       exact: torch.Tensor | None = None) -> torch.Tensor:
        """The sample's rows: exact, or with ``emulate`` the farthest of the honest runs, as
        references gives them."""
        given = reference_rows(config, inputs, sample, emulate)
        moved = [reference_rows(config, InputSet(tensors), sample, emulate)
                 for tensors in neighbours(inputs.named)] if emulate is not None else []
        return farthest_rows(given, moved, exact, lambda: reference_rows(config, inputs, sample))


NUMERICS = AttentionNumerics()

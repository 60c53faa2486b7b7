"""The attention forward problem: inputs, the high-precision reference, and baselines (torch)."""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .targets import INPUT_CASES, Config

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
REFERENCE_CHUNK_ELEMENTS = 1 << 26  # bounds the score matrix the reference holds at once


@dataclass
class InputSet:
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.q, self.k, self.v))

    def clone(self) -> InputSet:
        return InputSet(self.q.clone(), self.k.clone(), self.v.clone())

    def equal(self, other: InputSet) -> bool:
        return all(torch.equal(a, b) for a, b in zip(self.tensors, other.tensors, strict=True))

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.q, self.k, self.v


def make_inputs(
    config: Config, generator: torch.Generator, device: str, case: str = "normal"
) -> InputSet:
    """q, k, v laid out [batch, heads, seq_len, head_dim], contiguous; standard normal unless
    ``case`` asks for inputs that break kernels tuned only on friendly ones (INPUT_CASES)."""
    dtype = DTYPES[config.dtype]

    def tensor(heads: int) -> torch.Tensor:
        shape = (config.batch, heads, config.seq_len, config.head_dim)
        return torch.empty(shape, dtype=dtype, device=device)

    inputs = InputSet(tensor(config.heads_q), tensor(config.heads_kv), tensor(config.heads_kv))
    refill(inputs, generator)
    if case != "normal":
        _shape_case(config, inputs, generator, case)
    return inputs


def refill(inputs: InputSet, generator: torch.Generator) -> None:
    """New standard-normal contents in place: same addresses, values never seen before."""
    for tensor in inputs.tensors:
        tensor.normal_(0.0, 1.0, generator=generator)


# Logits with a standard deviation this large overflow exp() in float32 unless the kernel
# subtracts the running maximum.
LARGE_LOGIT_STD = 160.0
DOMINANT_LOGIT = 24.0  # about exp(24) times the weight of any other key


def _shape_case(config: Config, inputs: InputSet, generator: torch.Generator, case: str) -> None:
    q, k = inputs.q, inputs.k
    if case == "large":
        # q.k / sqrt(D) has variance sigma**4 for q, k ~ N(0, sigma**2)
        sigma = math.sqrt(LARGE_LOGIT_STD)
        q.mul_(sigma)
        k.mul_(sigma)
    elif case == "dominant":
        # Each query row i of the first head of each group gets one key j <= i (visible under
        # the causal mask too) pointing its way, far above every other logit of that row.
        group = config.heads_q // config.heads_kv
        rows = torch.arange(config.seq_len, device=q.device)
        offsets = torch.randint(0, 4, (config.seq_len,), generator=generator, device=q.device)
        keys = (rows - offsets).clamp(min=0)
        qf = q[:, ::group].float()
        norms = qf.pow(2).sum(-1, keepdim=True).clamp(min=1e-6)
        boost = qf * (DOMINANT_LOGIT * math.sqrt(config.head_dim) / norms)
        k[:, :, keys] = boost.to(k.dtype)
    elif case == "flat":
        # Every other query row is zero (all its logits equal) and the last KV head holds one
        # key repeated (all logits of every query of that group equal).
        q[:, :, ::2] = 0
        k[:, -1] = k[:, -1, :1]
    else:
        raise ValueError(f"unknown input case {case!r} (one of {', '.join(INPUT_CASES)})")


def empty_output(config: Config, device: str) -> torch.Tensor:
    shape = (config.batch, config.heads_q, config.seq_len, config.head_dim)
    return torch.empty(shape, dtype=DTYPES[config.dtype], device=device)


def softmax_scale(config: Config) -> float:
    return 1.0 / math.sqrt(config.head_dim)


def reference(config: Config, inputs: InputSet, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Exact attention in ``dtype``, computed a block of queries at a time to bound memory."""
    return references(config, inputs, dtype)[0]


def references(
    config: Config,
    inputs: InputSet,
    dtype: torch.dtype = torch.float64,
    emulate: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Exact attention in ``dtype`` and, with ``emulate``, attention as an honest kernel at that
    precision computes it (see reference_rows), a block of queries at a time."""
    group = config.heads_q // config.heads_kv
    q = inputs.q.to(dtype)
    k = inputs.k.to(dtype).repeat_interleave(group, dim=1)
    v = inputs.v.to(dtype).repeat_interleave(group, dim=1)
    out = torch.empty_like(q)
    honest = torch.empty_like(q) if emulate is not None else None
    k32 = inputs.k.float().repeat_interleave(group, dim=1) if emulate is not None else None
    rows = max(1, REFERENCE_CHUNK_ELEMENTS // (config.batch * config.heads_q * config.seq_len))
    keys = torch.arange(config.seq_len, device=q.device)
    scale = softmax_scale(config)
    for start in range(0, config.seq_len, rows):
        stop = min(config.seq_len, start + rows)
        scores = q[:, :, start:stop] @ k.transpose(-1, -2) * scale
        masked = keys[None, :] > torch.arange(start, stop, device=q.device)[:, None]
        if config.causal:
            scores.masked_fill_(masked, float("-inf"))
        out[:, :, start:stop] = torch.softmax(scores, dim=-1) @ v
        if honest is not None and k32 is not None and emulate is not None:
            logits = (inputs.q[:, :, start:stop].float() @ k32.transpose(-1, -2) * scale).to(dtype)
            if config.causal:
                logits.masked_fill_(masked, float("-inf"))
            weights = torch.exp(logits - logits.amax(-1, keepdim=True))
            total = weights.sum(-1, keepdim=True)
            rounded = weights.to(emulate).to(dtype)
            honest[:, :, start:stop] = (rounded @ v / total).to(emulate).to(dtype)
    return out, honest


@dataclass
class Errors:
    max_abs: float
    rel_l2: float
    finite: bool


def compare(output: torch.Tensor, expected: torch.Tensor) -> Errors:
    if not bool(torch.isfinite(output).all()):
        return Errors(math.inf, math.inf, False)
    diff = output.to(expected.dtype) - expected
    norm = float(torch.linalg.vector_norm(expected))
    rel = float(torch.linalg.vector_norm(diff)) / norm if norm else float(diff.abs().max())
    return Errors(float(diff.abs().max()), rel, True)


@dataclass
class RowErrors:
    """Per query row, the L2 norms (over head_dim) of the output's distance to the exact rows,
    of the honest computation's distance to them, and of the exact rows themselves. A kernel
    wrong on a few rows (a dropped tail, a mask off by one at a tile's edge) moves the whole
    output's errors by little; each row's own tolerance still catches it."""

    error: torch.Tensor
    honest: torch.Tensor
    norm: torch.Tensor


def row_errors(output: torch.Tensor, expected: torch.Tensor, honest: torch.Tensor) -> RowErrors:
    """``output``, ``expected`` and ``honest`` shaped [..., head_dim]; rows are flattened."""
    width = expected.shape[-1]
    exact = expected.reshape(-1, width)
    return RowErrors(
        torch.linalg.vector_norm(output.reshape(-1, width).to(exact.dtype) - exact, dim=-1),
        torch.linalg.vector_norm(honest.reshape(-1, width).to(exact.dtype) - exact, dim=-1),
        torch.linalg.vector_norm(exact, dim=-1),
    )


ROWS_PER_PAIR = 3  # at least; a grid of few pairs gets more rows in each
# A launch that leaves 2% of its rows undone escapes 256 sampled rows 0.6% of the time, 64
# rows 27% of the time: at the gate's resolution such a cheat pays, so few pairs get many rows.
MIN_SAMPLED_ROWS = 256
PAIRS_PER_CHUNK = 32  # gathered keys in float64 per chunk: 32 x S x D, 1 GiB at S=32k, D=128


@dataclass(frozen=True)
class RowSample:
    """Query rows of **every** (batch, head) pair, a few each, drawn at random: what a timed
    launch is checked on. A kernel that leaves any one pair uncomputed on timed launches is
    caught by the first one checked (with 8 pairs of 128 sampled, it passed 94% of checks)."""

    picks: tuple[tuple[int, int, tuple[int, ...]], ...]  # (batch, head, rows)

    @classmethod
    def draw(cls, config: Config, rng: random.Random, rows_per_pair: int = ROWS_PER_PAIR,
             min_rows: int = MIN_SAMPLED_ROWS) -> RowSample:
        pairs = config.batch * config.heads_q
        count = min(max(rows_per_pair, -(-min_rows // pairs)), config.seq_len)
        return cls(tuple(
            (b, h, tuple(sorted(rng.sample(range(config.seq_len), count))))
            for b in range(config.batch) for h in range(config.heads_q)))

    def gather(self, out: torch.Tensor) -> torch.Tensor:
        batch, head, row = self.index(out.device)
        return out[batch, head, row]

    def index(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, head, row) of every sampled row, as index tensors, in the order gathered."""
        batch = [b for b, _, rows in self.picks for _ in rows]
        head = [h for _, h, rows in self.picks for _ in rows]
        row = [r for _, _, rows in self.picks for r in rows]
        return tuple(torch.tensor(x, device=device) for x in (batch, head, row))  # type: ignore[return-value]

    def row(self, index: int) -> tuple[int, int, int]:
        """(batch, head, query row) of the ``index``-th gathered row."""
        for b, h, rows in self.picks:
            if index < len(rows):
                return b, h, rows[index]
            index -= len(rows)
        raise IndexError(index)


def reference_rows(
    config: Config, inputs: InputSet, sample: RowSample, emulate: torch.dtype | None = None
) -> torch.Tensor:
    """The sample's rows of exact attention in float64; with ``emulate``, as an honest kernel
    at that precision computes them instead: float32 logits, the weights and the output rounded
    to ``emulate``. Its distance to the exact rows is the error the tolerance is built on.
    Every pick has the same number of rows, so picks are computed PAIRS_PER_CHUNK at a time."""
    group = config.heads_q // config.heads_kv
    scale = softmax_scale(config)
    device = inputs.q.device
    parts = []
    for first in range(0, len(sample.picks), PAIRS_PER_CHUNK):
        picks = sample.picks[first : first + PAIRS_PER_CHUNK]
        batch = torch.tensor([b for b, _, _ in picks], device=device)
        head = torch.tensor([h for _, h, _ in picks], device=device)
        rows = torch.tensor([list(r) for _, _, r in picks], device=device)  # [P, R]
        q = inputs.q[batch[:, None], head[:, None], rows]  # [P, R, D]
        k, v = inputs.k[batch, head // group], inputs.v[batch, head // group]  # [P, S, D]
        if emulate is None:
            scores = (q.double() @ k.double().transpose(-1, -2)) * scale
        else:
            scores = ((q.float() @ k.float().transpose(-1, -2)) * scale).double()
        if config.causal:
            keys = torch.arange(config.seq_len, device=device)
            scores.masked_fill_(keys[None, None, :] > rows[:, :, None], float("-inf"))
        weights = torch.exp(scores - scores.amax(-1, keepdim=True))
        total = weights.sum(-1, keepdim=True)
        if emulate is not None:
            weights = weights.to(emulate).double()
        rows_out = weights @ v.double() / total
        out = rows_out.to(emulate).double() if emulate is not None else rows_out
        parts.append(out.reshape(-1, out.shape[-1]))
    return torch.cat(parts)


@dataclass
class BaselineCall:
    """A baseline on one configuration: ``stage`` takes the launch's inputs, untimed (a
    baseline whose own layout differs copies them there), ``run`` is the timed call."""

    stage: Callable[[InputSet], None]
    run: Callable[[], torch.Tensor]


def _on_inputs(function: Callable[[InputSet], torch.Tensor]) -> BaselineCall:
    staged: list[InputSet] = []

    def stage(inputs: InputSet) -> None:
        staged[:] = [inputs]

    return BaselineCall(stage, lambda: function(staged[0]))


def sdpa_baseline(config: Config, backend: str | None = None) -> BaselineCall:
    """torch's scaled_dot_product_attention, pinned to ``backend`` when one is named."""
    gqa = config.heads_q != config.heads_kv

    def run(inputs: InputSet) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            inputs.q, inputs.k, inputs.v, is_causal=config.causal, enable_gqa=gqa
        )

    if backend is None:
        return _on_inputs(run)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    chosen = getattr(SDPBackend, backend)

    def pinned(inputs: InputSet) -> torch.Tensor:
        with sdpa_kernel([chosen]):
            return run(inputs)

    return _on_inputs(pinned)


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

    def run() -> torch.Tensor:
        q, k, v = native
        out = attend(q, k, v, causal=config.causal)
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


FA4_MAJORS = (9, 10)  # FlashAttention-4's kernels: Hopper and data-centre Blackwell
FA3_MAJORS = (9,)  # the fa3-fwd wheel is built for sm_90a alone


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


def _sdpa_missing(name: str, device: str = "cuda") -> str | None:
    """Why torch's own attention ``name`` (cudnn, flash) cannot run on this GPU, found by
    running it once on a small problem: torch has each only on some architectures."""
    config = Config(1, 1, 1, 128, 128, False, "bfloat16")
    try:
        inputs = make_inputs(config, torch.Generator(device=device).manual_seed(0), device)
        call = BASELINES[name](config)
        call.stage(inputs)
        call.run()
        if device != "cpu":
            torch.cuda.synchronize()
    except Exception as error:  # torch says "no available kernel", or what else went wrong
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        return f"torch cannot run it on this GPU ({type(error).__name__}: {first})"
    return None


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
    "cudnn": lambda: _sdpa_missing("cudnn"),
    "flash": lambda: _sdpa_missing("flash"),
}
_missing: dict[str, str | None] = {}


def baseline_missing(name: str) -> str | None:
    """Why ``name`` cannot be timed in this process (None: it can), asked once per process."""
    if name not in OPTIONAL_BASELINES:
        return None
    if name not in _missing:
        _missing[name] = OPTIONAL_BASELINES[name]()
    return _missing[name]

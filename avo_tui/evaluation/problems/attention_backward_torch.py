"""The attention backward problem on the worker's side (problem.Numerics): the forward's
output and log-sum-exp derived from each draw, the hostile input cases, the float64
reference with the honest computation, and the baselines (torch's SDPA backward)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..targets.backward import MOVES, farthest, moved, neighbours, shifted
from ..targets.problem import BaselineCall, BaselineDeclines, Config, InputSet, RowSample
from .attention import Shape
from .attention_backward import ATTENTION_BACKWARD
from .attention_torch import (
    REFERENCE_CHUNK_ELEMENTS,
    forward_with_lse,
    honest_logits,
    sdpa_missing,
)
from .attention_torch import shape_case as forward_case

# "large_grad": dO this many times a standard normal one. Its products dP = dO vᵀ reach 10^5,
# past fp16's largest value, and dv sums thousands of such rows.
LARGE_GRAD_SCALE = 4096.0
# Products an mma.sync or wgmma k-step of bf16 operands adds before its accumulator rounds.
K_STEP = 16
OUTPUTS = ("dq", "dk", "dv")


def shape_case(config: Config, inputs: InputSet, generator: torch.Generator, case: str) -> None:
    """Standard-normal ``inputs`` made into ``case`` in place: the forward's cases on q and k,
    or an output gradient with large entries."""
    if case == "large_grad":
        inputs["dout"].mul_(LARGE_GRAD_SCALE)
    else:
        forward_case(config, inputs, generator, case)


def derive(config: Config, inputs: InputSet) -> None:
    """o and lse as the forward computes them from q, k and v: the float64 reference
    forward, rounded to their dtypes."""
    out, lse = forward_with_lse(config, inputs)
    inputs["o"].copy_(out)
    inputs["lse"].copy_(lse)


def backward(config: Config, inputs: InputSet, emulate: torch.dtype | None = None,
             move: tuple[int, bool] | None = None) -> dict[str, torch.Tensor]:
    """dq, dk and dv in float64 from the inputs as given (o and lse included): exact, or with
    ``emulate`` as an honest kernel at that precision computes them: q kᵀ and dO vᵀ in float32
    (honest_logits), P recomputed in float32, P and dS rounded to ``emulate`` before the
    products that read them, D in float32, and the outputs rounded to ``emulate``. Where P is
    nearly one-hot (large logits) dS's dP - D cancels, and the float32 rounding of dP and D
    is most of a correct kernel's error: ``move`` (targets/backward.py MOVES) moves q kᵀ and
    dO vᵀ by the rounding a tensor core's order of their sums may leave (_summed), dP - D by
    an ulp of its operands and by D's own (_centred, _chain_spread), and P and dS one ulp of
    ``emulate``, as a kernel whose float32 values differ rounds them. A block of queries at a
    time."""
    shape = Shape.of(config)
    group = shape.heads_q // shape.heads_kv
    scale = shape.softmax_scale
    wide = {name: inputs[name].double() for name in ("q", "k", "v", "o", "dout", "lse")}
    q, dout, lse = wide["q"], wide["dout"], wide["lse"]
    k, v = (wide[name].repeat_interleave(group, 1) for name in ("k", "v"))
    narrow_k, narrow_v = (inputs[name].repeat_interleave(group, 1) for name in ("k", "v"))
    if emulate is None:
        rowsum = (dout * wide["o"]).sum(-1)
    else:
        rowsum = (inputs["dout"].float() * inputs["o"].float()).sum(-1)
    dq, dk, dv = torch.empty_like(q), torch.zeros_like(q), torch.zeros_like(q)
    rows = max(1, REFERENCE_CHUNK_ELEMENTS // (shape.batch * shape.heads_q * shape.seq_len))
    keys = torch.arange(shape.seq_len, device=q.device)
    for start in range(0, shape.seq_len, rows):
        block = slice(start, min(shape.seq_len, start + rows))
        if emulate is None:
            weights = torch.exp(q[:, :, block] @ k.transpose(-1, -2) * scale
                                - lse[:, :, block, None])
            centred = dout[:, :, block] @ v.transpose(-1, -2) - rowsum[:, :, block, None]
        else:  # both products, the scaling, the exponent and dP - D in float32, as a kernel's
            q_block, dout_block = inputs["q"][:, :, block], inputs["dout"][:, :, block]
            logits = _summed(q_block, narrow_k, move) * scale
            weights = torch.exp(logits - inputs["lse"][:, :, block, None].float())
            centred = _centred(_summed(dout_block, narrow_v, move), rowsum[:, :, block, None],
                               move, _chain_spread(dout_block, inputs["o"][:, :, block], move))
        if shape.causal:
            later = keys[None, :] > torch.arange(block.start, block.stop, device=q.device)[:, None]
            weights.masked_fill_(later, 0.0)
        dv += _rounded(weights, emulate, move).transpose(-1, -2) @ dout[:, :, block]
        grad_logits = _rounded(weights * centred, emulate, move)
        dq[:, :, block] = grad_logits @ k * scale
        dk += grad_logits.transpose(-1, -2) @ q[:, :, block] * scale
    kv_shape = (shape.batch, shape.heads_kv, group, shape.seq_len, shape.head_dim)
    out = {"dq": dq, "dk": dk.view(kv_shape).sum(2), "dv": dv.view(kv_shape).sum(2)}
    return {name: _rounded(tensor, emulate) for name, tensor in out.items()}


def _summed(a: torch.Tensor, b: torch.Tensor, move: tuple[int, bool] | None) -> torch.Tensor:
    """a bᵀ in float32 (honest_logits); with ``move``, moved by the rounding another order of
    the sum may leave: a tensor core adds K_STEP products at a time to its float32
    accumulator and truncates, so each of its head_dim / K_STEP steps may lose an ulp of the
    sum of the terms' magnitudes, here bounded by the rows' norms' product (Cauchy-Schwarz; a
    matmul of magnitudes made every move's run a third slower). Where dS cancels (one key, or
    P one-hot under large logits) that is most of a correct kernel's error, and one matmul's
    own rounding shows none of it."""
    product = honest_logits(a, b)
    if move is None:
        return product
    norms_a, norms_b = (torch.linalg.vector_norm(t.float(), dim=-1) for t in (a, b))
    magnitude = norms_a[..., :, None] * norms_b[..., None, :]
    steps = math.ceil(a.shape[-1] / K_STEP)
    return shifted(product, steps * _ulp(magnitude), move)


def _chain_spread(dout: torch.Tensor, out: torch.Tensor, move: tuple[int, bool] | None
                  ) -> torch.Tensor | None:
    """How far D = rowsum(dO * O), summed in float32 in any order, may lie from the honest
    computation's sum: sqrt(head_dim) ulps of the sum of the products' magnitudes (a chain of
    head_dim additions, each rounded by half an ulp, drawn independently). None without a
    move."""
    if move is None:
        return None
    magnitude = (dout.float() * out.float()).abs().sum(-1, keepdim=True)
    return math.sqrt(dout.shape[-1]) * _ulp(magnitude)


def _ulp(magnitude: torch.Tensor) -> torch.Tensor:
    return torch.nextafter(magnitude, magnitude.new_tensor(torch.inf)) - magnitude


def _centred(grad_weights: torch.Tensor, rowsum: torch.Tensor, move: tuple[int, bool] | None,
             spread: torch.Tensor | None = None) -> torch.Tensor:
    """dP - D in float32; with ``move``, moved by one ulp of the larger of the two and by D's
    ``spread`` (_chain_spread), up or down by the move's signs. Where P is nearly one-hot D
    is nearly the dominant key's dP and the difference cancels: the honest computation sums
    both alike and its draw of their rounding may cancel too, where a kernel summing them
    otherwise keeps a few ulps."""
    centred = grad_weights - rowsum
    if move is None:
        return centred
    larger = torch.maximum(grad_weights.abs(), rowsum.abs())
    by = _ulp(larger) if spread is None else _ulp(larger) + spread
    return shifted(centred, by, move)


def _rounded(tensor: torch.Tensor, emulate: torch.dtype | None,
             move: tuple[int, bool] | None = None) -> torch.Tensor:
    """``tensor`` rounded to ``emulate`` (None: as it is), and moved an ulp there by
    ``move``: where dq sums dS's elements against large keys and they cancel, which way each
    element rounds is a draw a correct kernel makes anew."""
    if emulate is None:
        return tensor
    low = tensor.to(emulate)
    return (low if move is None else moved(low, move)).double()


class _Last:
    """The last inputs' references, kept while those very tensors and the references are
    unchanged: a kernel's three outputs are judged one by one, and each needs all of one
    backward. The judge zeroes a reference once it is used (no reference stays readable on
    the device), so a second judge of the same inputs (``avo targets check``: the honest
    computation, then each baseline) computes them again."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] = ()
        self.value: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None

    def get(self, inputs: InputSet, emulate: torch.dtype, compute: Callable[[], tuple[
            dict[str, torch.Tensor], dict[str, torch.Tensor]]]
            ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        key = (emulate, *inputs.tensors, *_versions(inputs.tensors))
        if self.value is not None:
            key += tuple(_versions([*self.value[0].values(), *self.value[1].values()]))
        same = len(key) == len(self.key) and all(
            a is b if isinstance(a, torch.Tensor) else a == b
            for a, b in zip(key, self.key, strict=True))
        if not same or self.value is None:
            self.key, self.value = (), None  # nothing stale survives a failed compute
            self.value = compute()
            self.key = (emulate, *inputs.tensors, *_versions(inputs.tensors), *_versions(
                [*self.value[0].values(), *self.value[1].values()]))
        return self.value


def _versions(tensors: Sequence[torch.Tensor]) -> list[int]:
    """Each tensor's count of in-place writes (a zero_ among them)."""
    return [t._version for t in tensors]


# What torch's scaled_dot_product_attention raises when no kernel of the pinned backend fits.
NO_KERNEL = "No available kernel"


def sdpa_backward_baseline(config: Config, backend: str) -> BaselineCall:
    """torch's scaled_dot_product_attention pinned to ``backend``, its backward timed alone:
    the forward runs when the inputs are staged, untimed, and the timed call is
    torch.autograd.grad of its output against dO."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    shape = Shape.of(config)
    chosen = getattr(SDPBackend, backend)
    staged: list[torch.Tensor] = []

    def stage(inputs: InputSet) -> None:
        q, k, v = (inputs[name].detach().requires_grad_() for name in ("q", "k", "v"))
        try:
            with sdpa_kernel([chosen]):
                out = F.scaled_dot_product_attention(q, k, v, is_causal=shape.causal,
                                                     enable_gqa=shape.heads_q != shape.heads_kv)
        except RuntimeError as error:
            # torch's dispatcher finds no kernel of the pinned backend for a shape that needs
            # a backward (cuDNN's at one key): the baseline declines that configuration.
            if NO_KERNEL not in str(error):
                raise
            raise BaselineDeclines(f"torch has no {backend} kernel with a backward for "
                                   f"it") from None
        staged[:] = [out, inputs["dout"], q, k, v]

    def run() -> tuple[torch.Tensor, ...]:
        out, dout, *leaves = staged
        return torch.autograd.grad(out, leaves, dout, retain_graph=True)

    def answers() -> dict[str, torch.Tensor]:
        # its forward's own output is the o its backward's D reads, rounded as that
        # library's forward rounds it (cuDNN's, on an H200, moved a flat row's dq far off:
        # benchmarks/RESULTS.md, issue 91)
        return {"o": staged[0].detach()}

    return BaselineCall(stage, run, answers)  # type: ignore[arg-type]


FA3_FORWARD_ONLY = ("the fa3-fwd package (fa3_fwd_interface) builds FlashAttention-3's forward "
                    "alone: it has no backward to time")


def _fa3_backward(config: Config) -> BaselineCall:
    raise RuntimeError(FA3_FORWARD_ONLY)


BASELINES: dict[str, Callable[[Config], BaselineCall]] = {
    "cudnn": lambda config: sdpa_backward_baseline(config, "CUDNN_ATTENTION"),
    "flash": lambda config: sdpa_backward_baseline(config, "FLASH_ATTENTION"),
    "fa3": _fa3_backward,
}
OPTIONAL_BASELINES: dict[str, Callable[[], str | None]] = {
    "fa3": lambda: FA3_FORWARD_ONLY,
    "cudnn": lambda: sdpa_missing("cudnn", problem=ATTENTION_BACKWARD),
    "flash": lambda: sdpa_missing("flash", problem=ATTENTION_BACKWARD),
}


class AttentionBackwardNumerics:
    """problem.Numerics for attention's backward, over this module's functions."""

    baselines = BASELINES
    shape_case = staticmethod(shape_case)
    derive = staticmethod(derive)

    def __init__(self) -> None:
        self._last = _Last()
        self._missing: dict[str, str | None] = {}

    def baseline_missing(self, name: str) -> str | None:
        if name not in OPTIONAL_BASELINES:
            return None
        if name not in self._missing:
            self._missing[name] = OPTIONAL_BASELINES[name]()
        return self._missing[name]

    def all_references(self, config: Config, inputs: InputSet, emulate: torch.dtype
                       ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Every output exact, and as the honest computation gives it: elementwise the
        farthest from the exact one of its runs on the inputs as given and moved an ulp
        (targets/backward.py; lse is the float32 input that moves), dP and D moved with it."""

        def compute() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
            exact = backward(config, inputs)
            given = backward(config, inputs, emulate)
            runs = [backward(config, InputSet(t), emulate, move)
                    for t, move in zip(neighbours(inputs.named), MOVES, strict=True)]
            return exact, {name: farthest(exact[name], given[name], [r[name] for r in runs])
                           for name in OUTPUTS}

        return self._last.get(inputs, emulate, compute)

    def references(self, config: Config, inputs: InputSet, emulate: torch.dtype,
                   output: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        exact, honest = self.all_references(config, inputs, emulate)
        name = output or OUTPUTS[0]
        return exact[name], honest[name]

    def reference_rows(self, config: Config, inputs: InputSet, sample: RowSample,
                       emulate: torch.dtype | None = None, output: str | None = None,
                       exact: torch.Tensor | None = None) -> torch.Tensor:
        """The sample's rows of the whole references (a key row of dk or dv depends on every
        query row, so no row is cheaper than the whole)."""
        name = output or OUTPUTS[0]
        if emulate is None:
            return sample.gather(backward(config, inputs)[name])
        return sample.gather(self.all_references(config, inputs, emulate)[1][name])


NUMERICS = AttentionBackwardNumerics()

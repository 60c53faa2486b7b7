"""A correct attention backward summed as tensor cores sum passes mha-bwd's check on every
input case: q kᵀ and dO vᵀ added sixteen products at a time (one mma k-step) to a float32
accumulator truncated toward zero, P by exp2 in the log2 domain, D by a float32 chain, P and
dS rounded to bf16 before their products. No step is wrong. Before the honest computation
was moved by such an order's rounding (attention_backward_torch._summed, _chain_spread), it
was rejected on one key (dS = dP - D is rounding alone) and on large logits (P one-hot), as
cuDNN's and FlashAttention-2's backward were on an H200 (benchmarks/RESULTS.md)."""

from __future__ import annotations

import pytest
import torch
from test_attention_backward_target import bwd_config, rejected_cases

from avo_tui.evaluation.problems.attention import Shape
from avo_tui.evaluation.targets.problem import Config, InputSet, OutputSet

K_STEP = 16
LOG2E = 1.4426950408889634


def truncated(wide: torch.Tensor) -> torch.Tensor:
    """``wide`` (float64) rounded toward zero to float32."""
    narrow = wide.float()
    over = narrow.double().abs() > wide.abs()
    return torch.where(over, torch.nextafter(narrow, torch.zeros_like(narrow)), narrow)


def tensor_core_products(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a bᵀ over the last dimension, bf16 operands, the float32 accumulator truncated after
    each k-step."""
    total = torch.zeros((*a.shape[:-1], b.shape[-2]), dtype=torch.float32)
    for start in range(0, a.shape[-1], K_STEP):
        step = slice(start, start + K_STEP)
        partial = a[..., step].double() @ b[..., step].double().transpose(-1, -2)
        total = truncated(total.double() + partial)
    return total


def tensor_core_backward(config: Config, inputs: InputSet, *,
                         dp_in_bf16: bool = False) -> OutputSet:
    shape = Shape.of(config)
    group = shape.heads_q // shape.heads_kv
    q, o, dout = inputs["q"], inputs["o"], inputs["dout"]
    k, v = (inputs[name].repeat_interleave(group, 1) for name in ("k", "v"))
    scale_log2 = torch.tensor(shape.softmax_scale * LOG2E, dtype=torch.float32)
    lse2 = inputs["lse"].float() * torch.tensor(LOG2E, dtype=torch.float32)
    weights = torch.exp2(tensor_core_products(q, k) * scale_log2 - lse2[..., None])
    if shape.causal:
        weights = weights.masked_fill(torch.ones_like(weights, dtype=torch.bool).triu(1), 0.0)
    rowsum = torch.zeros(dout.shape[:-1], dtype=torch.float32)
    for d in range(shape.head_dim):  # one product at a time
        rowsum = rowsum + dout[..., d].float() * o[..., d].float()
    dp = tensor_core_products(dout, v)
    if dp_in_bf16:  # a shortcut: dP kept in bf16 registers, half the bytes
        dp = dp.bfloat16().float()
    ds = (weights * (dp - rowsum[..., None])).bfloat16().float()
    dq = ds @ k.float() * shape.softmax_scale
    dk = ds.transpose(-1, -2) @ q.float() * shape.softmax_scale
    dv = weights.bfloat16().float().transpose(-1, -2) @ dout.float()
    kv = (shape.batch, shape.heads_kv, group, shape.seq_len, shape.head_dim)
    return OutputSet({"dq": dq.bfloat16(), "dk": dk.view(kv).sum(2).bfloat16(),
                      "dv": dv.view(kv).sum(2).bfloat16()})


# One key; two keys on the causal rows' first; rows past one tile; a GQA group.
CONFIGS = [bwd_config(16, 16, 1, False), bwd_config(4, 4, 37, True), bwd_config(4, 2, 129, False)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_a_backward_summed_as_tensor_cores_sum_passes_every_case(config: Config) -> None:
    for seed in range(3):
        assert rejected_cases(config, tensor_core_backward, seed) == {}, seed


def test_the_tensor_core_order_differs_from_one_matmul_s() -> None:
    """The premise: a sum truncated per k-step is not the matmul's sum (else the test above
    would test nothing the honest computation's own order does not)."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(64, 128, generator=generator).bfloat16() for _ in range(2))
    assert not tensor_core_products(a, b).equal(a.float() @ b.float().T)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_dp_rounded_to_bf16_before_d_is_subtracted_is_still_rejected(config: Config) -> None:
    """The moves widen the bound by float32's rounding of the sums, not by bf16's: a kernel
    that keeps dP in bf16 (cheaper, and wrong where dP - D cancels) stays rejected."""
    failed = {}
    for seed in range(3):
        failed.update(rejected_cases(config, lambda c, i: tensor_core_backward(
            c, i, dp_in_bf16=True), seed))
    assert failed, "dP in bf16 passed every case"

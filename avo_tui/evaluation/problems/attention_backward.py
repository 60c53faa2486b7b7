"""The attention backward problem, as the parent sees it: attention's configurations, names
and drawn shapes (attention.py), with the backward's entry point, work and terms. The torch
side (the derived inputs o and lse, the references, the baselines) is
attention_backward_torch.py, loaded in the worker alone.

Given q, k, v, the forward's output o, the output's gradient dO and the forward's
log-sum-exp per query row, a kernel writes dq, dk and dv. For grouped-query attention dk and
dv are summed over the query heads that share a key/value head."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..targets.problem import Config, Contract, Param, Work
from .attention import INPUT_CASES, Attention, Shape, _keys, _queries

if TYPE_CHECKING:
    from ..targets.problem import Numerics

# The forward's hostile inputs, and an output gradient with large entries: a kernel that
# accumulates dP, dV or dQ in fp16 overflows (fp16 ends at 65,504), where fp32 does not.
BACKWARD_CASES = (*INPUT_CASES, "large_grad")
# The backward's five matrix products against the forward's two, as FlashAttention counts it.
BACKWARD_WORK = 2.5


def _rows(c: Config) -> tuple[int, ...]:
    s = Shape.of(c)
    return (s.batch, s.heads_q, s.seq_len)


class AttentionBackward(Attention):
    """Attention backward: with P = exp(q kᵀ · scale [+ causal mask] - lse) and
    D = rowsum(dO ∘ o), dv = Pᵀ dO, dS = P ∘ (dO vᵀ - D), dq = dS k · scale and
    dk = dSᵀ q · scale; query head h reads and writes key/value head h / (heads_q /
    heads_kv)."""

    name = "attention_bwd"
    parameters = (
        *Attention.parameters[:3],  # q, k, v
        Param("o", "input", _queries),
        Param("dout", "input", _queries),
        Param("lse", "input", _rows, dtype="float32"),
        Param("dq", "output", _queries),
        Param("dk", "output", _keys),
        Param("dv", "output", _keys),
        *Attention.parameters[4:],  # the forward's scalars, after its output
    )
    input_cases = BACKWARD_CASES

    def __reduce__(self) -> str:
        return "ATTENTION_BACKWARD"

    def numerics(self) -> Numerics:
        # By name, as the forward's: this module stays free of torch.
        module = importlib.import_module(f"{__package__}.attention_backward_torch")
        numerics: Numerics = module.NUMERICS
        return numerics

    def work(self, config: Config) -> Work:
        return Work(flops=BACKWARD_WORK * Shape.of(config).flops)

    def contract(self) -> Contract:
        return CONTRACT


ATTENTION_BACKWARD = AttentionBackward()

CONTRACT = Contract(
    entry=("avo_attention_bwd(q, k, v, o, dout, lse, dq, dk, dv, batch, heads_q, heads_kv, "
           "seq_len, head_dim, causal, scale): q, o, dout and dq [batch, heads_q, seq_len, "
           "head_dim], k, v, dk and dv [batch, heads_kv, seq_len, head_dim], lse [batch, "
           "heads_q, seq_len] float32 (the forward's natural log-sum-exp of each row's scaled "
           "logits), contiguous; query head h reads key/value head h / (heads_q / heads_kv), "
           "and dk and dv sum over the query heads that share a key/value head; causal 0 or "
           "1; scale 1/sqrt(head_dim)."),
    exact=("P is recomputed from lse over every key the mask admits, D = rowsum(dout * o) "
           "enters dS, and dq, dk and dv sum over every key and query block: none skipped."),
    rows="Each query row of dq and each key row of dk and dv",
    drawn=("every remainder of the tile sizes, causal and not, inputs normal, large, dominant "
           "or flat, and an output gradient with large entries"),
    work=("the backward counts 2.5 times the forward's 4*B*Hq*S*S*D (five matrix products "
          "to the forward's two), halved for causal"),
    precision={
        "bfloat16": "bf16 inputs and outputs, fp32 accumulation of all five matrix products, "
                    "of D and of dq",
        "float16": "fp16 inputs and outputs, fp32 accumulation of all five matrix products, "
                   "of D and of dq",
        "float32": "float32 inputs, outputs and accumulation",
    },
)


def backward_of(configs: tuple[Config, ...]) -> tuple[Config, ...]:
    """The forward's ``configs`` as configurations of the backward: same shapes, same
    names."""
    return tuple(Config(ATTENTION_BACKWARD, c.dims, c.dtype) for c in configs)

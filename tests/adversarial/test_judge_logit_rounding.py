"""An honest float32 attention kernel on large logits, where a row's two best keys nearly tie.

There each key's weight turns on the rounding of its logit: a logit of about 330, summed in
float32 from partial sums up to 2,700, is off by about 1e-4, and two keys a quarter apart share
their weight by the difference of two such errors. The honest computation's own draw of that
difference can land near zero: on CI's clean clone tests/adversarial/kernels/honest.c was
rejected on these inputs (max abs error 1.37e-4 against a bound of 1.22e-4), its error 24 times
the one honest run's. The honest computation is now also run on the inputs moved an ulp
(targets/backward.py), and its error is, element by element, the farthest of the runs.

The kernel here is naive.h's loop in torch: each product rounded to float32 and summed in
order (cc builds it as ISO C11, which contracts nothing into an FMA), the weights' exp in
float32 and their sum and the output accumulated key by key. On these inputs it gives
honest.c's output to the bit.
"""

from __future__ import annotations

import math

import pytest
import torch

from avo_tui.evaluation.measurement.judge import Rejected, judge_output, judge_output_sampled
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.problems.attention import Shape
from avo_tui.evaluation.problems.attention import config as attention_config
from avo_tui.evaluation.results import ConfigResult
from avo_tui.evaluation.targets.file import get_target
from avo_tui.evaluation.targets.problem import Config, InputSet, RowSample

TOLERANCE = get_target("cpu-attention").tolerance
# The stream the correctness pass drew b1-h2-s63-d64-causal's large inputs from, in the
# evaluation of honest.c that CI rejected (request seed 2336549761517113741).
STREAM = 9156442014791676422
TIED_ROW = 47  # head 0: its two best logits 330.43 and 330.16


def in_order(config: Config, inputs: InputSet) -> torch.Tensor:
    shape = Shape.of(config)
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    logits = torch.zeros(*q.shape[:-1], shape.seq_len)
    for d in range(shape.head_dim):
        logits = logits + q[..., :, d : d + 1] * k[..., :, d][..., None, :]
    logits = logits * shape.softmax_scale
    if shape.causal:
        later = torch.ones(shape.seq_len, shape.seq_len, dtype=torch.bool).triu(1)
        logits = logits.masked_fill(later, -math.inf)
    weights = torch.exp(logits - logits.amax(-1, keepdim=True))
    total = torch.zeros(*q.shape[:-1], 1)
    out = torch.zeros_like(q)
    for key in range(shape.seq_len):
        total = total + weights[..., key : key + 1]
        out = out + weights[..., key : key + 1] * v[..., key : key + 1, :]
    return out / total


def tied() -> tuple[Config, InputSet, torch.Tensor]:
    config = attention_config(1, 2, 2, 63, 64, True)
    inputs = make_inputs(config, torch.Generator().manual_seed(STREAM), "cpu", "large")
    return config, inputs, in_order(config, inputs)


def test_a_kernel_summing_its_logits_in_order_passes_where_two_keys_nearly_tie() -> None:
    config, inputs, out = tied()
    entry = ConfigResult(config, case="large")
    judge_output(TOLERANCE, inputs, out, entry)
    assert entry.passed and entry.tolerance is not None and entry.max_abs_err is not None
    # the farthest of five runs lands near the kernel's error here, an eighth of the bound
    assert entry.max_abs_err < entry.tolerance[1] / 4


def test_the_tied_row_sampled_from_a_timed_launch_passes_too() -> None:
    """The timed shapes' hostile cases are judged on sampled rows (reference_rows): the same
    runs there."""
    config, inputs, out = tied()
    sample = RowSample((((0, 0), (TIED_ROW - 1, TIED_ROW)), ((0, 1), (3, 60))))
    entry = ConfigResult(config, case="large")
    judge_output_sampled(TOLERANCE, inputs, out, sample, entry)
    assert entry.passed and entry.tolerance is not None and entry.max_abs_err is not None
    assert entry.max_abs_err < entry.tolerance[1] / 4


def tf32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` with its mantissa cut to TF32's 10 bits, as a tensor core reads float32."""
    return (tensor.view(torch.int32) & ~((1 << 13) - 1)).view(torch.float32)


def test_logits_from_tf32_inputs_are_rejected_where_the_bound_widened() -> None:
    """The cheat a float32 target invites on a GPU: its products on TF32 tensor cores, 8x
    faster. The bound now widened on large logits must still refuse it there."""
    config, inputs, _ = tied()
    cheap = InputSet({"q": tf32(inputs["q"]), "k": tf32(inputs["k"]), "v": inputs["v"]})
    with pytest.raises(Rejected, match="large inputs"):
        judge_output(TOLERANCE, inputs, in_order(config, cheap), ConfigResult(config, case="large"))

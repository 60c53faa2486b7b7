"""Attention's backward pass as a target (issue 91): mha-bwd and gqa-bwd on the backward
problem (avo_tui/evaluation/problems/attention_backward.py). On this machine, without a GPU:
the float64 reference's gradients are torch.autograd's through SDPA in float64; o and lse
are derived from every draw; a correct backward written in torch at the target's precision
passes every hostile case, and wrong backward kernels written in torch (dS without the D
term, a dQ that drops a key block, fp16 accumulation) are rejected by the judge that judges
a kernel's outputs; both targets pass ``avo targets check``."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from avo_tui.cli import main
from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.judge import Rejected, judge_output, judge_output_sampled
from avo_tui.evaluation.measurement.target_check import check_numerics
from avo_tui.evaluation.measurement.tensors import make_inputs, refill
from avo_tui.evaluation.problems.attention import Shape
from avo_tui.evaluation.problems.attention import config as attention_config
from avo_tui.evaluation.problems.attention_backward import ATTENTION_BACKWARD
from avo_tui.evaluation.problems.attention_backward_torch import NUMERICS as BACKWARD_NUMERICS
from avo_tui.evaluation.problems.attention_backward_torch import backward
from avo_tui.evaluation.problems.attention_torch import forward_with_lse
from avo_tui.evaluation.results import ConfigResult
from avo_tui.evaluation.targets.api import TargetFileError
from avo_tui.evaluation.targets.problem import (
    BaselineCall,
    BaselineDeclines,
    Config,
    InputSet,
    OutputSet,
    RowSample,
)

TARGETS = ("mha-bwd", "gqa-bwd")
KEY_BLOCK = 64


def bwd_config(heads_q: int, heads_kv: int, seq_len: int, causal: bool,
               dtype: str = "bfloat16") -> Config:
    return attention_config(1, heads_q, heads_kv, seq_len, 128, causal, dtype,
                            ATTENTION_BACKWARD)


def test_both_targets_are_the_forward_grids_with_the_backward_work_stated() -> None:
    for name, forward in zip(TARGETS, ("mha", "gqa"), strict=True):
        spec, fwd = get_target(name), get_target(forward)
        assert spec.problem is ATTENTION_BACKWARD and spec.entry == "avo_attention_bwd"
        assert [c.name for c in spec.configs] == [c.name for c in fwd.configs]
        assert [c.name for c in spec.edge_configs] == [c.name for c in fwd.edge_configs]
        assert all(c.work.of("flops") == 2.5 * f.work.of("flops")
                   for c, f in zip(spec.configs, fwd.configs, strict=True))
        assert "2.5x the forward's FLOPs" in spec.description
        assert spec.baselines == ("cudnn", "flash", "fa3") and spec.tolerance == fwd.tolerance
        assert "large_grad" in spec.problem.input_cases
    gqa = get_target("gqa-bwd").configs[0]
    shapes = {p.name: p.shape_on(gqa) for p in ATTENTION_BACKWARD.parameters if p.is_tensor}
    assert shapes["dk"] == shapes["dv"] == (8, 8, 4096, 128)
    assert shapes["dq"] == (8, 32, 4096, 128) and shapes["lse"] == (8, 32, 4096)


@pytest.mark.parametrize(("heads_q", "heads_kv", "causal"),
                         [(2, 2, False), (2, 2, True), (4, 2, True), (4, 1, False)])
def test_the_reference_gradients_are_autograds_through_sdpa_in_float64(
        heads_q: int, heads_kv: int, causal: bool) -> None:
    config = bwd_config(heads_q, heads_kv, 77, causal, "float32")
    generator = torch.Generator().manual_seed(heads_q * 10 + causal)
    q, dout = (torch.randn(1, heads_q, 77, 128, dtype=torch.float64, generator=generator)
               for _ in range(2))
    k, v = (torch.randn(1, heads_kv, 77, 128, dtype=torch.float64, generator=generator)
            for _ in range(2))
    inputs = InputSet({"q": q, "k": k, "v": v})
    o, lse = forward_with_lse(config, inputs)
    given = InputSet({"q": q, "k": k, "v": v, "o": o, "dout": dout, "lse": lse})
    mine = backward(config, given)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    out = F.scaled_dot_product_attention(leaves[0], leaves[1], leaves[2], is_causal=causal,
                                         enable_gqa=heads_q != heads_kv)
    theirs = torch.autograd.grad(out, leaves, dout)
    torch.testing.assert_close(o, out.detach(), rtol=1e-12, atol=1e-12)
    for name, grad in zip(("dq", "dk", "dv"), theirs, strict=True):
        torch.testing.assert_close(mine[name], grad, rtol=1e-10, atol=1e-10)


def test_o_and_lse_are_derived_from_every_draw_and_every_case() -> None:
    config = bwd_config(4, 2, 50, True)
    for case in ATTENTION_BACKWARD.input_cases:
        inputs = make_inputs(config, torch.Generator().manual_seed(3), "cpu", case)
        o, lse = forward_with_lse(config, inputs)
        assert inputs["o"].equal(o.to(torch.bfloat16)), case
        assert inputs["lse"].equal(lse.float()), case
    large = make_inputs(config, torch.Generator().manual_seed(3), "cpu", "large_grad")
    assert large["dout"].abs().max() > 1000
    # a timed launch's fresh values (InputPool.advance) are derived anew too
    before = large["o"].clone()
    refill(config, large, torch.Generator().manual_seed(4))
    o, lse = forward_with_lse(config, large)
    assert not large["o"].equal(before) and large["o"].equal(o.to(torch.bfloat16))
    assert large["lse"].equal(lse.float())


def kernel(config: Config, inputs: InputSet, *, d_term: bool = True,
           dropped_block: bool = False, accumulate: torch.dtype = torch.float32
           ) -> OutputSet:
    """A backward kernel written in torch, FA2's way: P recomputed from lse, P and dS
    rounded to bf16 before the products that read them, the products accumulated in
    ``accumulate``; with ``d_term`` False dS is P * dP, and with ``dropped_block`` dQ
    leaves out the second block of KEY_BLOCK keys."""
    shape = Shape.of(config)
    group = shape.heads_q // shape.heads_kv
    low = torch.bfloat16

    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a.to(accumulate) @ b.to(accumulate)).float()

    q, o, dout = inputs["q"], inputs["o"], inputs["dout"]
    k, v = (inputs[name].repeat_interleave(group, 1) for name in ("k", "v"))
    logits = mm(q, k.transpose(-1, -2)) * shape.softmax_scale
    p = torch.exp(logits - inputs["lse"][..., None])
    if shape.causal:
        p = p.masked_fill(torch.ones_like(p, dtype=torch.bool).triu(1), 0.0)
    dv = mm(p.to(low).transpose(-1, -2), dout)
    dp = mm(dout, v.transpose(-1, -2))
    rowsum = (dout.to(accumulate) * o.to(accumulate)).float().sum(-1, keepdim=True)
    ds = (p * (dp - rowsum) if d_term else p * dp).to(low)
    ds_for_q = ds.clone()
    if dropped_block:
        ds_for_q[..., KEY_BLOCK:2 * KEY_BLOCK] = 0
    dq = mm(ds_for_q, k) * shape.softmax_scale
    dk = mm(ds.transpose(-1, -2), q) * shape.softmax_scale
    kv = (shape.batch, shape.heads_kv, group, shape.seq_len, shape.head_dim)
    return OutputSet({"dq": dq.to(low), "dk": dk.view(kv).sum(2).to(low),
                      "dv": dv.view(kv).sum(2).to(low)})


def rejected_cases(config: Config, write: Callable[[Config, InputSet], OutputSet],
                   seed: int = 11) -> dict[str, str]:
    """Per input case, the judge's failure kind on ``write``'s outputs (absent: passed)."""
    tolerance = get_target("mha-bwd").tolerance_for
    failed = {}
    for case in ATTENTION_BACKWARD.input_cases:
        inputs = make_inputs(config, torch.Generator().manual_seed(seed), "cpu", case)
        try:
            judge_output(tolerance, inputs, write(config, inputs),
                         ConfigResult(config, case=case))
        except Rejected as rejected:
            failed[case] = rejected.failure.kind
    return failed


CONFIGS = [bwd_config(2, 2, 200, False), bwd_config(4, 2, 300, True)]


@pytest.mark.parametrize("accumulate", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_a_correct_backward_at_the_targets_precision_passes_every_case(
        config: Config, accumulate: torch.dtype) -> None:
    """Products in float64 round dP and D otherwise than the honest computation: where P is
    nearly one-hot (large logits) dP - D cancels, and one draw of the honest computation's
    rounding rejected such a kernel until dP - D was moved by its operands' ulp."""
    for seed in range(3):
        assert rejected_cases(config, lambda c, i: kernel(c, i, accumulate=accumulate),
                              seed) == {}, seed


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_a_ds_without_the_d_term_is_rejected(config: Config) -> None:
    failed = rejected_cases(config, lambda c, i: kernel(c, i, d_term=False))
    assert failed.get("normal") == "incorrect", failed


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_a_dq_that_drops_a_key_block_is_rejected(config: Config) -> None:
    failed = rejected_cases(config, lambda c, i: kernel(c, i, dropped_block=True))
    assert failed.get("normal") == "incorrect", failed


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_fp16_accumulation_is_rejected_on_a_large_output_gradient(config: Config) -> None:
    """On standard-normal inputs fp16 products pass: the large output gradient is the case
    that catches them, its products past fp16's range."""
    failed = rejected_cases(config, lambda c, i: kernel(c, i, accumulate=torch.float16))
    assert "normal" not in failed
    assert failed.get("large_grad") in ("nonfinite", "incorrect"), failed


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine check runs more")
@pytest.mark.parametrize("name", TARGETS)
def test_targets_check_passes_the_backward_targets_without_a_gpu(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "check", name]) == 0
    out = capsys.readouterr().out
    assert "with drawn, large, dominant, flat, large_grad inputs: the honest computation" in out
    assert "baseline cudnn not checked: no GPU here" in out
    assert "baseline flash not checked: no GPU here" in out
    assert "baseline fa3 not checked: the fa3-fwd package" in out and "no backward" in out
    # The seed compiles here (NVRTC, no GPU needed), so a run needs no agent for its v0.
    assert "seed attention_bwd.cu: compiles (not run: no GPU here)" in out
    assert out.splitlines()[-1] == f"target ok: avo run --target {name} --session NAME"


def test_the_fp16_overflow_is_the_large_gradients_doing() -> None:
    """The large case's entries reach past fp16's products: what makes the test above bite."""
    config = bwd_config(2, 2, 200, False)
    inputs = make_inputs(config, torch.Generator().manual_seed(11), "cpu", "large_grad")
    products = inputs["dout"].float() @ inputs["v"].float().transpose(-1, -2)
    assert products.abs().max() > torch.finfo(torch.float16).max > math.sqrt(2)


def test_a_timed_launchs_sampled_rows_judge_every_output() -> None:
    """A timed launch is checked on sampled rows of each output (query rows of dq, key rows
    of dk and dv, each of its own shape): the correct backward passes, the wrong ones not."""
    config = bwd_config(4, 2, 300, True)
    tolerance = get_target("gqa-bwd").tolerance_for
    verdicts = {}
    for name, d_term, dropped in (("correct", True, False), ("no D", False, False),
                                  ("dropped block", True, True)):
        inputs = make_inputs(config, torch.Generator().manual_seed(5), "cpu", "normal")
        out = kernel(config, inputs, d_term=d_term, dropped_block=dropped)
        samples = {output: RowSample.draw(tuple(tensor.shape), random.Random(1))
                   for output, tensor in out.named.items()}
        try:
            judge_output_sampled(tolerance, inputs, out, samples,
                                 ConfigResult(config, case="normal"))
            verdicts[name] = "passed"
        except Rejected as rejected:
            verdicts[name] = rejected.failure.kind
    assert verdicts == {"correct": "passed", "no D": "incorrect",
                        "dropped block": "incorrect"}


def declining_at(seq_len: int) -> Callable[[Config], BaselineCall]:
    """The exact backward as a baseline, declining (as cuDNN's does on a GPU at one key) the
    configurations of ``seq_len`` keys."""

    def make(config: Config) -> BaselineCall:
        if Shape.of(config).seq_len == seq_len:
            def decline(inputs: InputSet) -> None:
                raise BaselineDeclines("no kernel at this length")
            return BaselineCall(decline, lambda: torch.empty(0))
        staged: list[InputSet] = []

        def run() -> dict[str, torch.Tensor]:  # outputs by name
            return backward(config, staged[0])

        return BaselineCall(lambda inputs: staged.__setitem__(slice(None), [inputs]),
                            run)  # type: ignore[arg-type]

    return make


@pytest.fixture
def math_baseline(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """mha-bwd's cudnn baseline replaced by declining_at(seq_len), and run on this CPU."""
    def use(seq_len: int) -> None:
        monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "cudnn", declining_at(seq_len))
        monkeypatch.setattr(BACKWARD_NUMERICS, "baseline_missing",
                            lambda name: None if name == "cudnn" else "not this test's")
    return use


def test_a_baseline_without_a_kernel_for_an_edge_shape_is_not_compared_there_and_told(
        math_baseline: Callable[[int], None]) -> None:
    one_key, short = bwd_config(2, 2, 1, False), bwd_config(2, 2, 33, True)
    spec = replace(get_target("mha-bwd"), edge_configs=(one_key, short))
    math_baseline(1)  # as cuDNN's backward has no kernel for a row of one key
    agreement = check_numerics(spec, "cpu")
    assert agreement.declined == {"cudnn": {one_key.name: "no kernel at this length"}}
    assert "baseline cudnn" in agreement.worst  # compared on the other configuration


def test_a_baseline_without_a_kernel_for_a_timed_shape_fails_the_check(
        math_baseline: Callable[[int], None]) -> None:
    timed = bwd_config(2, 2, 33, True)
    spec = replace(get_target("mha-bwd"), edge_configs=(), configs=(timed,))
    math_baseline(33)  # the evaluator would time it there
    with pytest.raises(TargetFileError, match=r"has no kernel for .*, a timed configuration"):
        check_numerics(spec, "cpu")


def own_forward_library(config: Config) -> BaselineCall:
    """A library's backward through its own forward, as cuDNN's SDPA is: its forward rounds
    P to bf16 before P V, as flash kernels do, and its backward's D reads that forward's
    output, not the given o. Its gradients are otherwise exact."""
    shape = Shape.of(config)
    staged: list[InputSet] = []

    def stage(inputs: InputSet) -> None:
        group = shape.heads_q // shape.heads_kv
        q, k, v = (inputs[n].float() for n in ("q", "k", "v"))
        k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        logits = q @ k.transpose(-1, -2) * shape.softmax_scale
        if shape.causal:
            logits.masked_fill_(torch.ones_like(logits, dtype=torch.bool).triu(1), -math.inf)
        weights = torch.softmax(logits, -1).to(torch.bfloat16).float()
        own = inputs.clone()
        own["o"].copy_(weights @ v)
        staged[:] = [own]

    def run() -> dict[str, torch.Tensor]:  # outputs by name
        return backward(config, staged[0])

    return BaselineCall(stage, run, lambda: {"o": staged[0]["o"]})  # type: ignore[arg-type]


def test_a_baseline_through_its_own_forward_is_judged_on_the_o_it_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """cuDNN's backward disagreed on an H200 with mha-bwd's reference on a few rows of two
    keys (b2-h16-s37 causal, 5 of 1,184 rows, 9% off): there dS's dP - D cancels, and its D
    reads its own forward's output, rounded otherwise than the given o. Judged against the
    reference of the o it answers for, such a library agrees; judged against the given o's,
    it does not, which no tolerance a kernel of the given o needs would admit."""
    short = bwd_config(16, 16, 4, True)  # rows of one to four keys, as the H200's
    spec = replace(get_target("mha-bwd"), edge_configs=(short,), configs=(),
                   quick_configs=())
    monkeypatch.setattr(ATTENTION_BACKWARD, "input_cases", ("normal",))  # the H200's case
    monkeypatch.setattr(BACKWARD_NUMERICS, "baseline_missing",
                        lambda name: None if name == "cudnn" else "not this test's")
    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "cudnn", own_forward_library)
    agreement = check_numerics(spec, "cpu")
    assert short.name in agreement.configs and "baseline cudnn" in agreement.worst
    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "cudnn",
                        lambda config: replace(own_forward_library(config), answers=None))
    with pytest.raises(TargetFileError, match="baseline cudnn disagrees with the reference"):
        check_numerics(spec, "cpu")


def zero_query_sign_library(config: Config, flip: bool = True) -> BaselineCall:
    """The exact backward as a library, with (``flip``) each zero query's dq row negated: as
    cuDNN's backward gave on an H200, on one flat row of gqa-bwd (a zero query over one
    repeated key), where FlashAttention-2's agreed (benchmarks/RESULTS.md, issue 91)."""
    staged: list[InputSet] = []

    def run() -> dict[str, torch.Tensor]:  # outputs by name
        out = backward(config, staged[0])
        if flip:
            zero = (staged[0]["q"] == 0).all(-1)
            out["dq"][zero] = -out["dq"][zero]
        return out

    return BaselineCall(lambda inputs: staged.__setitem__(slice(None), [inputs]),
                        run)  # type: ignore[arg-type]


@pytest.mark.parametrize("witness", [True, False])
def test_a_baseline_off_on_a_hostile_case_where_another_agrees_is_told_not_refused(
        monkeypatch: pytest.MonkeyPatch, witness: bool) -> None:
    """A baseline witnesses that the reference is right: where another baseline agrees on the
    flat inputs, one that disagrees there is told as less precise than the target asks and the
    check passes; alone, it is refused. On the drawn inputs it is refused either way."""
    config = bwd_config(4, 2, 37, True)
    spec = replace(get_target("gqa-bwd"), edge_configs=(config,), configs=(),
                   quick_configs=())
    monkeypatch.setattr(ATTENTION_BACKWARD, "input_cases", ("normal", "flat"))
    present = ("cudnn", "flash") if witness else ("cudnn",)
    monkeypatch.setattr(BACKWARD_NUMERICS, "baseline_missing",
                        lambda name: None if name in present else "not this test's")
    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "cudnn", zero_query_sign_library)
    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "flash",
                        lambda config: zero_query_sign_library(config, flip=False))
    if not witness:
        with pytest.raises(TargetFileError, match=r"baseline cudnn disagrees .* flat inputs"):
            check_numerics(spec, "cpu")
        return
    agreement = check_numerics(spec, "cpu")
    assert list(agreement.imprecise) == ["cudnn"]
    assert "on flat inputs (flash agreed there)" in agreement.imprecise["cudnn"]
    assert "baseline flash" in agreement.worst


def test_a_baseline_off_on_the_drawn_inputs_is_refused_though_another_agrees(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query row negated, on the drawn inputs: a witness excuses nothing there."""
    config = bwd_config(4, 2, 37, True)
    spec = replace(get_target("gqa-bwd"), edge_configs=(config,), configs=(),
                   quick_configs=())
    monkeypatch.setattr(ATTENTION_BACKWARD, "input_cases", ("normal",))
    monkeypatch.setattr(BACKWARD_NUMERICS, "baseline_missing",
                        lambda name: None if name in ("cudnn", "flash") else "not this test's")

    def negated(config: Config) -> BaselineCall:
        staged: list[InputSet] = []

        def run() -> dict[str, torch.Tensor]:  # outputs by name
            return {name: -value for name, value in backward(config, staged[0]).items()}

        return BaselineCall(lambda inputs: staged.__setitem__(slice(None), [inputs]),
                            run)  # type: ignore[arg-type]

    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "cudnn", negated)
    monkeypatch.setitem(BACKWARD_NUMERICS.baselines, "flash",
                        lambda config: zero_query_sign_library(config, flip=False))
    with pytest.raises(TargetFileError, match=r"baseline cudnn disagrees .* drawn inputs"):
        check_numerics(spec, "cpu")

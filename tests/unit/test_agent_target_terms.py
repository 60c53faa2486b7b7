"""An agent evolving any target is told that target's terms (issue 41: the brief written from
the target): its entry point with each parameter's shape, how its work is counted, what is
checked and drawn, and what the file says of itself; attention's words stay attention's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from agent_context import StandIn

from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import Input, Int, Output, Target, get_target
from avo_tui.evaluation.targets.words import contract_of
from avo_tui.knowledge import KnowledgeBase, default_folders
from avo_tui.operators.agent import instructions
from avo_tui.operators.protocol import StepContext
from avo_tui.store import Session
from avo_tui.store.view import SessionView

REPO = Path(__file__).resolve().parents[2]
GEMM_CPU = str(REPO / "targets" / "gemm_bias_act_cpu.py")
ATTENTION_WORDS = ("softmax", "query row", "4*B*Hq", "causal and not", "avo_attention_fwd",
                   "dominant")


def system_prompt(tmp_path: Path, ref: str) -> str:
    target = get_target(ref)
    with Session.create(tmp_path / "s", target=target.ref, operator="agent",
                        seed_files=seed_files(target), sync=False) as session:
        ctx = StandIn(SessionView(session), target=target)
        return instructions.system_prompt(cast(StepContext, ctx), KnowledgeBase(default_folders()))


def test_an_agent_on_a_target_file_is_told_its_terms_not_attentions(tmp_path: Path) -> None:
    text = system_prompt(tmp_path, GEMM_CPU)
    assert ("The entry point: avo_gemm_bias_act(a, w, bias, out, m, n, k): a [m, k] (input, "
            "read only); w [n, k] (input, read only); bias [n] (input, read only); out [m, n] "
            "(the output; NaN when the kernel starts)") in text
    assert "Tensors are contiguous float32." in text
    assert "this target counts 2*m*n*k FLOPs a launch" in text
    assert "Each row of out (along its last dimension), and the whole output" in text
    assert "inputs drawn, unit, huge or zeros" in text
    assert "Every element of out is computed from the inputs" in text
    # what the file says of itself: its layout and contract
    assert "gelu_tanh(a @ w^T + bias)" in text
    terms = text[:text.index("The knowledge base (")]  # the notes listed after are all there are
    for word in ATTENTION_WORDS:
        assert word not in terms, word


def test_attention_is_still_told_in_attentions_terms(tmp_path: Path) -> None:
    text = system_prompt(tmp_path, "cpu-attention")
    assert "The softmax covers every key the mask admits" in text
    assert "Each query row, and the whole output" in text
    assert "attention counts 4*B*Hq*S*S*D, halved for causal" in text
    assert "q and out [batch, heads_q, seq_len, head_dim]" in text
    assert "this target counts" not in text


def test_the_commit_reviewer_gets_the_targets_rules() -> None:
    rules = instructions.rules(get_target(GEMM_CPU))
    assert "float32 inputs, output and accumulation. Every element of out" in rules
    assert "softmax" not in rules


def target(shape: Any, flops: Any) -> Target:
    return Target(
        name="t", description="a test target", kind="cpu", entry="avo_t",
        dims=("rows", "cols"),
        parameters=(Input("x", shape), Output("out", shape), Int("rows"), Int("cols")),
        configs=({"rows": 4, "cols": 8},), edge_configs=({"rows": 1, "cols": 3},),
        reference=lambda x, **_: x, honest=lambda x, **_: x, flops=flops,
        baselines={"copy": lambda x, **_: x.clone()}, seed="t.c")


@pytest.mark.parametrize(("flops", "words"), [
    (lambda c: 2 * c["rows"] * c["cols"], "this target counts 2*rows*cols FLOPs a launch"),
    (lambda c: (c["rows"] + 1) * c["cols"] / 2, "counts (rows+1)*cols/2 FLOPs"),
    (lambda c: c["rows"] * (c["cols"] - 1), "counts rows*(cols-1) FLOPs"),
    # a branch on a dimension cannot be read off symbols: never described by one branch
    (lambda c: c["rows"] if c["cols"] > 4 else 1.0, "with its own function (flops, in its file)"),
    (lambda c: float(c["rows"]), "with its own function (flops, in its file)"),
])
def test_the_work_is_read_off_the_files_function(flops: Any, words: str) -> None:
    assert words in contract_of(target(lambda c: (c["rows"], c["cols"]), flops)).work


@pytest.mark.parametrize(("shape", "words"), [
    (lambda c: (c["rows"], c["cols"]), "x [rows, cols] (input"),
    (lambda c: (c["rows"] * c["cols"],), "x [rows*cols] (input"),
    (lambda c: (c["rows"] + 2, 8), "x [rows+2, 8] (input"),
    # a shape that branches is given on the first timed configuration, named so
    (lambda c: (c["rows"], c["cols"] if c["cols"] % 2 == 0 else 1),
     "x [4, 8] on rows=4 cols=8 (input"),
])
def test_each_tensor_is_described_with_its_shape(shape: Any, words: str) -> None:
    assert words in contract_of(target(shape, lambda c: 1.0)).entry

"""FlashAttention-4 as a baseline on a real GPU: it computes the target's attention from our
inputs, and a score of the seed carries its ratio to it per configuration and as a geomean.

Marked ``gpu``; skipped without CUDA or without the flash-attn-4 package
(../shared/tools/fa4/README.md brings it to the device)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import TARGETS, Config, EvalRequest, Worker  # noqa: E402
from avo_tui.evaluation.attention import (  # noqa: E402
    baseline_missing,
    compare,
    fa4_baseline,
    make_inputs,
    reference,
)
from avo_tui.evaluation.candidate import load_sources  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def fa4_installed() -> None:
    missing = baseline_missing("fa4")
    if missing:
        pytest.skip(missing)


@pytest.mark.parametrize("config", [
    Config(2, 16, 16, 1000, 128, False, "bfloat16"),
    Config(1, 32, 4, 777, 128, True, "bfloat16"),
    Config(1, 16, 16, 1029, 64, True, "bfloat16"),
], ids=lambda c: c.name)
def test_fa4_computes_our_attention_from_our_layout(config: Config) -> None:
    inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(5), "cuda")
    call = fa4_baseline(config)
    call.stage(inputs)
    out = call.run()
    assert out.shape == (config.batch, config.seq_len, config.heads_q, config.head_dim)
    errors = compare(out.transpose(1, 2), reference(config, inputs))
    assert errors.finite and errors.rel_l2 < 1e-2, errors


def test_a_score_carries_its_ratio_to_fa4() -> None:
    target = TARGETS["mha"]
    sources = load_sources(ROOT / "kernels" / target.seed.kernel, "cuda")
    with Worker("cuda") as worker:
        result = worker.evaluate(EvalRequest("mha", sources, quick=True))
    assert result.correct, result.failure
    for config in result.timed:
        assert config.baselines["fa4"] > 0 and config.ratios["fa4"] > 0
    assert set(result.ratios) == {"cudnn", "flash", "fa4"}
    assert not [note for note in result.notes if "not measured" in note]

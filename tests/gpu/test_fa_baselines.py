"""FlashAttention-4 and FlashAttention-3 as baselines on a real GPU: each computes the target's
attention from our inputs, and a score of the seed carries its ratio to each per configuration
and as a geomean.

Marked ``gpu``; each skipped without CUDA or without its package (../shared/tools/fa4/README.md
brings FA4 to the device; FA3's forward is the fa3-fwd wheel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import Config, EvalRequest, Worker, get_target  # noqa: E402
from avo_tui.evaluation.declarations.candidate import load_sources  # noqa: E402
from avo_tui.evaluation.measurement.judge import compare  # noqa: E402
from avo_tui.evaluation.measurement.tensors import make_inputs  # noqa: E402
from avo_tui.evaluation.problems.attention import Shape  # noqa: E402
from avo_tui.evaluation.problems.attention import config as attention_config  # noqa: E402
from avo_tui.evaluation.problems.attention_torch import (  # noqa: E402
    baseline_missing,
    fa3_baseline,
    fa4_baseline,
    reference,
)
from avo_tui.evaluation.targets.problem import BaselineCall  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
ROOT = Path(__file__).parents[2]
PACKAGES: dict[str, Callable[[Config], BaselineCall]] = {"fa4": fa4_baseline,
                                                         "fa3": fa3_baseline}


def installed(name: str) -> None:
    missing = baseline_missing(name)
    if missing:
        pytest.skip(missing)


@pytest.mark.parametrize("name", PACKAGES)
@pytest.mark.parametrize("config", [
    attention_config(2, 16, 16, 1000, 128, False, "bfloat16"),
    attention_config(1, 32, 4, 777, 128, True, "bfloat16"),
    attention_config(1, 16, 16, 1029, 64, True, "bfloat16"),
], ids=lambda c: c.name)
def test_each_package_computes_our_attention_from_our_layout(name: str, config: Config) -> None:
    installed(name)
    inputs = make_inputs(config, torch.Generator(device="cuda").manual_seed(5), "cuda")
    call = PACKAGES[name](config)
    call.stage(inputs)
    out = call.run()
    shape = Shape.of(config)
    assert out.shape == (shape.batch, shape.seq_len, shape.heads_q, shape.head_dim)
    errors = compare(out.transpose(1, 2), reference(config, inputs))
    assert errors.finite and errors.rel_l2 < 1e-2, errors


def test_a_score_carries_its_ratio_to_every_installed_package() -> None:
    present = [name for name in PACKAGES if baseline_missing(name) is None]
    if not present:
        pytest.skip("neither FA4 nor FA3 is installed here")
    target = get_target("mha")
    sources = load_sources(ROOT / "kernels" / target.seeds[0].kernel, "cuda")
    with Worker("cuda") as worker:
        result = worker.evaluate(EvalRequest("mha", sources, quick=True))
    assert result.correct, result.failure
    for config in result.timed:
        for name in present:
            assert config.baselines[name] > 0 and config.ratios[name] > 0
    assert set(result.ratios) == {"cudnn", "flash", *present}
    missing = {name for name in PACKAGES if name not in present}
    assert {note.split()[0] for note in result.notes if "not measured" in note} == missing

"""The backward seed (kernels/cuda/attention_bwd.cu) on the GPU: correct on mha-bwd's and
gqa-bwd's quick grids and every edge shape (one key, partial blocks, causal and not), under
its default knobs and under every other value of each knob. Correctness only: no speed is
asserted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import EvalRequest, Worker, get_target  # noqa: E402
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

SEED = Path(__file__).parents[2] / "kernels" / "cuda" / "attention_bwd.cu"
# Each knob's other values, one at a time: every one must stay correct everywhere.
OTHER_KNOBS = [{"NUM_WARPS": "8", "MIN_BLOCKS": "1"}, {"STEP_Q": "32"}, {"STEP_Q": "64"},
               {"STEP_K": "32"}, {"STEP_K": "128"}, {"STAGES": "3"}]


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


@pytest.mark.parametrize("target", ["mha-bwd", "gqa-bwd"])
def test_the_backward_seed_passes_every_quick_configuration(worker: Worker, target: str) -> None:
    spec = get_target(target)
    assert spec.seeds[0].kernel == "cuda/attention_bwd.cu"
    result = worker.evaluate(EvalRequest(target, load_sources(SEED, "cuda"), quick=True,
                                         measure_baselines=False))
    assert result.correct, result.failure
    assert result.configs and all(c.passed for c in result.configs)
    assert {c.name for c in spec.edge_configs} <= {c.config.name for c in result.configs}


@pytest.mark.parametrize("knobs", OTHER_KNOBS, ids=lambda k: ",".join(f"{n}={v}"
                                                                     for n, v in k.items()))
def test_every_knob_value_keeps_the_seed_correct(worker: Worker, knobs: dict[str, str]) -> None:
    sources = apply_knobs(load_sources(SEED, "cuda"), knobs)
    result = worker.evaluate(EvalRequest("gqa-bwd", sources, quick=True,
                                         measure_baselines=False))
    assert result.correct, result.failure

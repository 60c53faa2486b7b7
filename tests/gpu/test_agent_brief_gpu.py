"""The agent's bar and its disassemble tool on a real GPU, against the shipped seed: the seed
scored on the full mha grid with its baselines, the step brief rendered from that score names
the strongest baseline of each configuration with the seed's ratio to it, and disassemble
counts the main loop of the seed as built for this GPU, with its percent of the measured peak.

Marked ``gpu``; skipped without CUDA. It needs the store's packages (tinydb, unidiff,
platformdirs), which the GPU image lacks: carry them (docs/agent.md says how it was run).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tinydb")

from agent_context import StandIn  # noqa: E402

from avo_tui.evaluation import EvalRequest, Worker, get_target  # noqa: E402
from avo_tui.operators.agent import bar, brief, disassembly  # noqa: E402
from avo_tui.operators.protocol import StepContext  # noqa: E402
from avo_tui.store import Score, Session  # noqa: E402
from avo_tui.store.view import SessionView  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
SEED = Path(__file__).parents[2] / "kernels" / "cuda" / "attention_wgmma.cu"


def test_the_seeds_brief_names_the_strongest_baseline_and_disassemble_counts_its_loop(
    tmp_path: Path,
) -> None:
    target = get_target("mha")
    files = {SEED.name: SEED.read_text()}
    with Worker("cuda") as worker:
        result = worker.evaluate(EvalRequest("mha", files, quick=False, seed=1))
    assert result.failure is None, result.failure
    timed = [c for c in result.configs if not c.edge]
    per_config = {c.name: c.throughput for c in timed}
    score = Score(math.exp(sum(math.log(v) for v in per_config.values()) / len(per_config)),
                  per_config, unit="TFLOP/s")
    baselines = {c.name: dict(c.baselines) for c in timed}
    bars = bar.strongest(baselines)
    with Session.create(tmp_path / "s", target="mha", operator="agent", seed_files=files,
                        sync=False) as session:
        session.commit(files, author="seed", message="the seed, scored", score=score)
        ctx = StandIn(SessionView(session), target=target, bars=baselines,
                      facts=dict(result.hardware))
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
        best = text[text.index("## Best so far"):].split("\n\n")[0]
        # What the disassemble tool answers (tools.py, which the GPU image cannot import:
        # it has no anthropic), on the seed against itself as the best.
        mix = disassembly.report(cast(StepContext, ctx), files, None, None)
    print(best, mix, sep="\n\n")
    assert "the strongest baseline (" in best.splitlines()[0]
    for name, value in per_config.items():
        strongest = bars[name]
        assert strongest.value == max(baselines[name].values())
        assert f"- {name}: {value:.4g} TFLOP/s, {value / strongest.value:.3f}x " \
               f"{strongest.name}" in best
    assert "main loop of avo_attention_fwd" in mix and "v1: " in mix
    assert "HGMMA" in mix and "of the measured bf16 matrix peak" in mix

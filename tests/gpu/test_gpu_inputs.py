"""The hostile input cases on a real GPU: one seed gives one input, launch after launch.

Marked ``gpu``; skipped where torch sees no CUDA device.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import get_target  # noqa: E402
from avo_tui.evaluation.measurement.tensors import make_inputs  # noqa: E402
from avo_tui.evaluation.problems.attention_torch import shape_case  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("case", ["dominant", "large", "flat"])
def test_a_hostile_case_drawn_twice_from_one_seed_is_the_same_input(case: str) -> None:
    """Rows of the dominant case that draw the same key used to race for it in one index_put
    on the GPU, so --seed did not reproduce the input a failure was found on."""
    config = get_target("mha").quick_configs[0]
    drawn = []
    for _ in range(8):
        inputs = make_inputs(config, torch.Generator("cuda").manual_seed(5), "cuda")
        shape_case(config, inputs, torch.Generator("cuda").manual_seed(6), case)
        drawn.append(inputs)
    for other in drawn[1:]:
        assert all(torch.equal(a, b) for a, b in zip(drawn[0].tensors, other.tensors,
                                                     strict=True))

"""How much of a launch fits on the GPU at once (evaluation/devices/residency.py, issue 70,
item 3): the question rung 3a's 2-CTA clusters raised, answered by the driver. Marked ``gpu``;
skipped without CUDA. Run with ``python -m pytest tests/gpu/test_residency_gpu.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from cluster_residency import loaded_seed  # noqa: E402

from avo_tui.evaluation.devices.residency import residency  # noqa: E402
from avo_tui.evaluation.targets.file import get_target  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_a_launch_in_clusters_says_how_many_are_resident_beside_its_grids() -> None:
    """The seed of mha in 2-CTA clusters (MULTICAST) on its persistent grid of one block per
    SM: one block fits per SM (its shared memory), and at most half the SMs' clusters."""
    kernel, device = loaded_seed("mha", {"MULTICAST": "1", "PERSISTENT": "1"})
    try:
        fits = residency(kernel, get_target("mha").configs[0])
    finally:
        kernel.close()
    assert fits["blocks_per_sm"] == 1
    assert fits["blocks"] == 2 * fits["clusters"] <= device.num_sms
    assert 1 <= fits["clusters_resident"] <= device.num_sms // 2


def test_a_plain_launch_has_no_clusters() -> None:
    kernel, _ = loaded_seed("mha", {})
    try:
        fits = residency(kernel, get_target("mha").configs[0])
    finally:
        kernel.close()
    assert fits["blocks_per_sm"] >= 1 and fits["blocks"] >= 1
    assert "clusters" not in fits and "clusters_resident" not in fits

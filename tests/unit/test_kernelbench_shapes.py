"""How an imported problem's sizes vary (issue 68, item 4): a pooling's or a convolution's
stride, padding, dilation and kernel size, module globals as KernelBench writes them, are
held as settings, so its height and width still vary and every output shape is the model's
(a pooling of 11, its stride past what moves of one to eight show, too);
in_features equal to out_features stay apart, the bias's shape following out_features alone;
sizes in a list global vary, and the problem gets its list back;
a problem whose sizes leave even its least shape slow still has an edge shape; and a model
that reads a value while it is built is built on the CPU, its timed batch below 8 and its
drawn batches no slower than a timed launch where a batch of 8 is slow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import (
    CONV_SETTINGS,
    LIST_MLP,
    LITERAL_IMAGE,
    POOL_SETTINGS,
    READS_AT_BUILD,
    SQUARE_GEMM_BIAS,
    WIDE_POOL,
)
from test_kernelbench_import import every_checked_config

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.targets.problem import Config
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.target.configs import FIRST_DRAFT_RATES, TIMED_S
from avo_tui.kernelbench.target.own_lengths import FULL_MAX_S


def output_shape(config: Config) -> tuple[int, ...]:
    (out,) = (p for p in config.problem.parameters if p.kind == "output")
    return out.shape_on(config)


MODELS: dict[str, tuple[str, str, Any]] = {
    "pool": (POOL_SETTINGS, "height", lambda c: torch.nn.MaxPool2d(3, 2, 1, 2)(
        torch.zeros(c["batch_size"], c["channels"], c["height"], c["width"]))),
    "wide_pool": (WIDE_POOL, "height", lambda c: torch.nn.AvgPool2d(11)(
        torch.zeros(c["batch_size"], c["channels"], c["height"], c["width"]))),
    "conv": (CONV_SETTINGS, "length", lambda c: torch.nn.Conv1d(
        c["in_channels"], c["out_channels"], 3, stride=3, dilation=4)(
        torch.zeros(c["batch_size"], c["in_channels"], c["length"]))),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_settings_as_globals_are_held_and_the_spatial_sizes_vary(name: str,
                                                                 tmp_path: Path) -> None:
    source, spatial, model = MODELS[name]
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    imported = import_problem(path)
    assert not any(note.startswith(f"{spatial} is fixed") for note in imported.notes)
    configs = every_checked_config(imported.target)
    assert len({c[spatial] for c in configs}) >= 3
    with torch.no_grad():
        for config in configs:
            assert output_shape(config) == tuple(model(config).shape), config.name


def test_equal_in_and_out_features_vary_apart(tmp_path: Path) -> None:
    """in_features = out_features = 64 with bias_shape = (out_features,): the bias follows
    out_features alone, and the checked shapes move each on its own."""
    path = tmp_path / "square_gemm.py"
    path.write_text(SQUARE_GEMM_BIAS)
    imported = import_problem(path)
    text = imported.target.read_text()
    assert "'out_features': (('out_features', None), ('bias_shape', 0))," in text
    assert "'in_features': (('in_features', None),)," in text
    configs = every_checked_config(imported.target)
    assert any(c["in_features"] != c["out_features"] for c in configs)
    assert len({c["in_features"] for c in configs}) >= 3


def test_a_problem_whose_least_shape_is_slow_still_has_an_edge_shape(tmp_path: Path) -> None:
    """A 160 x 160 image the problem writes as numbers: even one image takes longer than an
    edge shape's time, and the least shape that builds (one image) is checked anyway. The
    full-length shape after it holds as many of the problem's 16 images as a launch of the
    seed, as estimated, keeps within FULL_MAX_S (all 16 are estimated at nearly twice that):
    8, which the import says, without claiming the problem's own length reached."""
    path = tmp_path / "literal_image.py"
    path.write_text(LITERAL_IMAGE)
    imported = import_problem(path)
    edges = get_target(str(imported.target)).edge_configs
    assert [c["batch_size"] for c in edges] == [1, 8]
    notes = " ".join(imported.notes)
    assert "batch_size is checked at most at 8 of its 16" in notes
    assert f"a launch of the seed under {FULL_MAX_S:g} s" in notes
    assert "at the problem's own lengths" not in notes


def test_sizes_in_a_list_global_vary_and_stay_a_list(tmp_path: Path) -> None:
    """hidden_layer_sizes = [128, 96]: each entry is a dimension of its own, moved by the
    checked shapes, and the problem gets a list back (it adds lists), so its reference runs
    at every one."""
    path = tmp_path / "list_mlp.py"
    path.write_text(LIST_MLP)
    imported = import_problem(path)
    target = get_target(str(imported.target))
    assert "hidden_layer_sizes_1" in dict(target.configs[0].dims)
    configs = every_checked_config(imported.target)
    assert len({c["hidden_layer_sizes_0"] for c in configs}) >= 3
    for config in configs:
        inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
        exact, _ = config.problem.numerics().references(config, inputs, torch.float32)
        assert exact.shape == (config["batch_size"], config["output_size"])


def test_a_model_that_reads_a_value_while_built_imports_timed_and_drawn_small(
        tmp_path: Path) -> None:
    """Its constructor calls .item() (no value on the meta device): built on the CPU and
    moved there, its reference keeps what the constructor read (the output scaled by 1.5).
    A first plain kernel takes 67 ms at a batch of 8 (16.8 MFLOP a row at 2 GFLOP/s), past
    the 50 ms of a timed launch: the timed batch goes from 10 to 5, below 8 (which had stopped
the halving), and the drawn batches, which
    went up to 65 (half a second), stop where a launch is as quick."""
    row_s = 2 * 4096 * 2048 / FIRST_DRAFT_RATES["flops"]
    assert 8 * row_s > TIMED_S[1] > 5 * row_s > 4 * row_s  # what the sizes below follow from
    path = tmp_path / "reads_at_build.py"
    path.write_text(READS_AT_BUILD)
    imported = import_problem(path, seeded=False)
    target = get_target(str(imported.target))
    assert [c["batch_size"] for c in target.configs] == [5]
    assert "rng.randint(1, 4)" in imported.target.read_text()
    checked = every_checked_config(imported.target)[len(target.configs):]  # edges, draws
    assert max(c["batch_size"] for c in checked) <= 4

    config = target.configs[0]
    inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
    exact, _ = config.problem.numerics().references(config, inputs, torch.float32)
    weight, bias = inputs["fc_weight"].double(), inputs["fc_bias"].double()
    expected = (inputs["x"].double() @ weight.T + bias) * 1.5
    torch.testing.assert_close(exact.double(), expected)

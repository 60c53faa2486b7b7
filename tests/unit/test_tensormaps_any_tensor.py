"""avo:tensormap over any of the entry point's tensors, of any dtype and rank (issue 56): the
declaration names the tensor; its box is checked against that tensor's rank and element size
and the TMA unit's limits before anything needs a GPU (Build.check_tensormaps), and again
against each launch's own tensor (gpu.tensor_box). Every target dtype has a TMA data type."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import FIXTURE_TARGETS

from avo_tui.evaluation import EvalRequest, get_target
from avo_tui.evaluation.build import tensormap_boxes
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.contract import ContractError
from avo_tui.evaluation.devices import gpu
from avo_tui.evaluation.pipeline import Pipeline
from avo_tui.evaluation.targets.torch_dtypes import DTYPES
from avo_tui.evaluation.torch_op import _device as exported

MIXED = get_target(str(FIXTURE_TARGETS / "mixed_scale.py"))  # x bf16 [rows, cols],
# weight float32 [cols], out float32 [rows, cols]


def boxes(*lines: str) -> dict[str, tuple[int, ...]]:
    declared = contract.parse("".join(f"// avo:tensormap {line}\n" for line in lines))
    return tensormap_boxes(declared, MIXED, MIXED.grid()[0])


def test_a_map_over_a_target_files_tensors_takes_each_ones_rank() -> None:
    assert boxes("tx tensor=x box=(64, 64) swizzle=128B", "tw tensor=weight box=(32,)",
                 "to tensor=out box=(8, 32)") == {"tx": (64, 64), "tw": (32,), "to": (8, 32)}


@pytest.mark.parametrize(("line", "message"), [
    ("tw tensor=weight box=(1, 32)", r"must be 1 integers, .* of weight \(rank 1\)"),
    ("tx tensor=x box=(1, 1, 64, 64)", r"must be 2 integers, .* of x \(rank 2\)"),
    ("to tensor=out box=(8, 2)", "innermost size is 8 bytes; TMA needs a multiple of 16"),
    ("to tensor=out box=(8, 64) swizzle=128B", "256 bytes, more than the 128B swizzle span"),
    ("tq tensor=q box=(64, 64)", r"tensor=q is not one of the entry point's tensors \(x, "
                                 r"weight, out\)"),
])
def test_a_box_that_does_not_fit_its_tensor_is_refused(line: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        boxes(line)


def test_a_misfit_box_fails_an_evaluation_as_contract_without_a_gpu() -> None:
    """Build checks the maps when it reads the declarations: a CUDA target on a CPU machine."""
    source = ("// avo:launch grid=(1,) block=(32,)\n"
              "// avo:tensormap tq tensor=q box=(64, 64)\n")
    request = EvalRequest("mha", {"k.cu": source}, quick=True, measure_baselines=False)
    result = Pipeline("cpu").run(request, lambda phase, detail: None)
    assert result.failure is not None and result.failure.kind == "contract"
    assert "box=(64, 64) must be 4 integers" in result.failure.message


@pytest.mark.parametrize(("dtype", "box", "fits"), [
    (torch.int8, (1, 16), True),      # 16 bytes
    (torch.int8, (1, 8), False),      # 8 bytes
    (torch.bool, (2, 32), True),
    (torch.int64, (1, 2), True),
    (torch.int32, (1, 2), False),
    (torch.float32, (1, 1, 4), True),
])
def test_each_launchs_tensor_checks_the_box_at_its_own_width(
    dtype: torch.dtype, box: tuple[int, ...], fits: bool,
) -> None:
    spec = contract.parse(f"// avo:tensormap tm tensor=t box={box}\n").tensormaps[0]
    tensor = torch.zeros((4, 64) if len(box) == 2 else (2, 4, 64), dtype=dtype)
    if fits:
        assert gpu.tensor_box(spec, box, tensor) == box
    else:
        with pytest.raises(ContractError, match="TMA needs a multiple of 16"):
            gpu.tensor_box(spec, box, tensor)


def test_a_nan_fill_is_refused_over_an_integer_tensor() -> None:
    spec = contract.parse("// avo:tensormap tm tensor=t box=(1, 16) oob=nan\n").tensormaps[0]
    with pytest.raises(ContractError, match="oob=nan over t, a int8 tensor"):
        gpu.tensor_box(spec, (1, 16), torch.zeros((4, 64), dtype=torch.int8))
    assert gpu.tensor_box(spec, (1, 16), torch.zeros((4, 64), dtype=torch.float32)) == (1, 16)


@pytest.mark.parametrize("table", [gpu.TMA_TYPES, exported.TMA_TYPES], ids=["evaluator", "export"])
def test_every_target_dtype_has_a_tma_data_type_of_its_width(
    table: dict[torch.dtype, tuple[torch.dtype, str]],
) -> None:
    from cuda.core import _tensor_map as tma

    assert set(table) == set(DTYPES.values())
    for dtype, (view, name) in table.items():
        assert view.itemsize == dtype.itemsize, dtype
        assert hasattr(tma.TensorMapDataType, name), name


def test_a_target_whose_kernel_maps_its_own_tensors_passes_check_without_a_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """tests/fixtures/targets/tma_sum.py: rank-2 maps over a float32 and an int8 tensor; its
    seed compiles and its maps fit (tests/gpu/test_tensormaps_any_tensor_gpu.py runs it)."""
    from avo_tui.cli import main

    assert main(["targets", "check", str(FIXTURE_TARGETS / "tma_sum.py")]) == 0
    assert "ok  seed tma_sum.cu: compiles" in capsys.readouterr().out
    declared = contract.parse((FIXTURE_TARGETS / "tma_sum.cu").read_text())
    spec = get_target(str(FIXTURE_TARGETS / "tma_sum.py"))
    for config in (*spec.grid(), *spec.edge_configs):
        assert tensormap_boxes(declared, spec, config) == {"tma_x": (16, 32), "tma_n": (16, 32)}

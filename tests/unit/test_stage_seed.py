"""The stage seed: a forward no fused pattern fits (a convolution, pooling, a norm, a chain of
them) is written as a loop nest per stage of its aten operations, in C (CUDA for one stage),
and the seed passes the real evaluator; a seed with a stage gone wrong does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kernelbench_problems import CONV_SETTINGS, POOL_SETTINGS
from stage_problems import PROBLEMS, RESEEDED_DROPOUT
from test_kernelbench_import import evaluate

from avo_tui.evaluation import get_target
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain
from avo_tui.kernelbench import Imported, import_problem
from avo_tui.kernelbench.target.configs import STAGE_RATES


def imported(name: str, folder: Path, text: str | None = None, kind: str = "cpu") -> Imported:
    path = folder / f"{name}.py"
    path.write_text(text or PROBLEMS[name])
    return import_problem(path, kind=kind)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_each_problem_gets_a_stage_seed_that_passes(c_compiler: None, name: str,
                                                    tmp_path: Path) -> None:
    done = imported(name, tmp_path)
    assert done.pattern == "stage", done.no_seed
    assert done.seed is not None and done.seed.suffix == ".c"
    source = done.seed.read_text()
    assert "#define THREADS 1  // avo:knob 1 2 4" in source
    result = evaluate(done.target, done.seed)
    assert result.correct, result.failure
    edges = [c for c in result.configs if c.edge]
    assert edges and all(c.passed for c in edges)


@pytest.mark.parametrize("text", [CONV_SETTINGS, POOL_SETTINGS], ids=["conv", "pool"])
def test_settings_as_module_globals_keep_their_values_in_the_seed(
        c_compiler: None, text: str, tmp_path: Path) -> None:
    """A stride, padding or dilation under 8 is a setting the configurations keep (as
    KernelBench writes them, module globals): the seed takes it as a constant, where it was
    refused as "its forward's dilation follows the problem's sizes" (4 of 40 real problems)."""
    path = tmp_path / "settings.py"
    path.write_text(text)
    done = import_problem(path)
    assert done.pattern == "stage", done.no_seed
    assert done.seed is not None
    result = evaluate(done.target, done.seed)
    assert result.correct, result.failure


def test_products_are_folded_in_vectors(tmp_path: Path) -> None:
    """A batched product folds BLOCK_N outputs along its last dim at once; a Linear's dot
    products, its weight read along the depth, LANES partial sums: each a knob."""
    bmm = imported("bmm", tmp_path).seed
    mlp = imported("mlp", tmp_path).seed
    assert bmm is not None and mlp is not None
    assert "#define BLOCK_N 64  // avo:knob 16 64 256" in bmm.read_text()
    assert "acc[c] += " in bmm.read_text() and "LANES" not in bmm.read_text()
    assert "#define LANES 8  // avo:knob 4 8 16" in mlp.read_text()
    assert "part[l] += " in mlp.read_text()
    both = imported("matmul_transposed_both", tmp_path).seed
    assert both is not None and "permute, laid out in order -> v0" in both.read_text()


def test_a_convolution_without_its_padding_is_rejected(c_compiler: None,
                                                       tmp_path: Path) -> None:
    """The check bites: the strided convolution's seed with its window not shifted by the
    padding reads the wrong inputs and fails."""
    done = imported("conv2d_strided", tmp_path)
    assert done.seed is not None
    source = done.seed.read_text()
    unpadded, count = re.subn(r"(i[23]) \* 2 - 1 \+ (r[12])", r"\1 * 2 + \2", source)
    assert count == 2, source
    wrong = evaluate(done.target, done.seed, unpadded)
    assert not wrong.correct and wrong.failure is not None


def test_the_launch_estimate_is_the_stages_own(tmp_path: Path) -> None:
    """A convolution's launch is estimated at its multiply-adds, each a step of its fold at
    the stage rate, and its outputs, each a fold's set-up, at the timed sizes the importer
    chose."""
    done = imported("conv2d_strided", tmp_path)
    timed = get_target(str(done.target)).configs[0]
    sizes = {k: v for k, v in timed.as_dict().items() if isinstance(v, int)}
    rows = (sizes["height"] + 2 - 3) // 2 + 1
    columns = (sizes["width"] + 2 - 3) // 2 + 1
    outputs = sizes["batch_size"] * sizes["out_channels"] * rows * columns
    products = outputs * sizes["in_channels"] * 9
    assert done.launch_s is not None
    assert done.launch_s == pytest.approx(products * STAGE_RATES["step"] +
                                          outputs * STAGE_RATES["element"])
    assert 0.005 <= done.launch_s <= 0.05  # the timed shape was scaled to it


@pytest.mark.parametrize("name", ["conv_transpose2d_grouped", "bmm_transposed_b"])
def test_a_one_stage_cuda_seed_compiles_with_nvrtc(name: str, tmp_path: Path) -> None:
    done = imported(name, tmp_path, kind="cuda")
    assert done.pattern == "stage" and done.seed is not None and done.seed.suffix == ".cu"
    source = done.seed.read_text()
    assert "// avo:launch grid=(ceil_div(" in source
    compiled = CudaToolchain(CompileCache(tmp_path / "cache")).compile(
        {done.seed.name: source})
    assert compiled.ok, compiled.log


def test_a_chain_of_stages_gets_no_cuda_seed_and_says_why(tmp_path: Path) -> None:
    done = imported("conv_batchnorm_relu", tmp_path, kind="cuda")
    assert done.seed is None
    assert "cannot allocate the scratch memory between them" in done.no_seed


def test_a_forward_that_draws_the_same_random_numbers_each_call_gets_no_seed(
        tmp_path: Path) -> None:
    done = imported("dropout", tmp_path, RESEEDED_DROPOUT)
    assert done.seed is None and "draws random numbers" in done.no_seed


def test_no_seed_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "conv2d_strided.py"
    path.write_text(PROBLEMS["conv2d_strided"])
    done = import_problem(path, seeded=False)
    assert done.seed is None and "--no-seed" in done.no_seed
    assert get_target(str(done.target)).seeds == ()

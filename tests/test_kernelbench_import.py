"""avo targets import (avo_tui/kernelbench/): a KernelBench problem becomes a target file and a
seed that the real commands and the real evaluator accept.

The problems are examples/kernelbench/'s (written from KernelBench's public descriptions),
copied into each test's folder with small sizes set through their own module-level globals;
the refused ones and a strided convolution are tests/kernelbench_problems.py's."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from kernelbench_problems import (
    EXAMPLES,
    EXPECTED,
    FORMS,
    REFUSED,
    STRIDED_CONV,
    UNIFORM_LOG,
    copy_problem,
    form_problem,
)
from target_example import avo

from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain
from avo_tui.kernelbench import ImportRefused, import_problem


def evaluate(target: Path, seed: Path, source: str | None = None) -> EvalResult:
    """The seed (or ``source`` in its place) through the real evaluator, on the quick grid
    and every edge and drawn shape."""
    request = EvalRequest(str(target), {seed.name: source or seed.read_text()}, quick=True,
                          seed=3, measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


def test_every_example_is_there_with_its_expectation() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_imports_as_the_table_says(name: str, tmp_path: Path) -> None:
    problem = copy_problem(name, tmp_path)
    expected = EXPECTED[name]
    if expected is not None and expected.startswith("refused: "):
        with pytest.raises(ImportRefused) as refused:
            import_problem(problem)
        assert str(refused.value).startswith(expected.removeprefix("refused: "))
        assert not list(tmp_path.glob("*_target.py"))
        return
    imported = import_problem(problem)
    assert imported.pattern == expected
    assert (imported.seed is None) == (expected is None)
    target = get_target(str(imported.target))  # it loads as any target file does
    assert target.name == name.replace("_", "-") and target.device == "cpu"
    assert (target.seeds == ()) == (expected is None)
    # a C seed's THREADS knob makes honest first moves of up to 4x: held beyond 6x, not 1.5x
    assert target.max_plausible_jump == (1.5 if expected is None else 6.0)
    if expected is None:
        assert "its forward uses Conv2d" in imported.no_seed


def test_import_check_and_eval_through_the_real_commands(c_compiler: None,
                                                         tmp_path: Path) -> None:
    problem = copy_problem("level1_softmax", tmp_path, batch_size=8, dim=2048)
    done = avo("targets", "import", problem.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "level1_softmax.py: imported as the target level1-softmax, float32 on the CPU "
        "(a C kernel)",
        "  wrote level1_softmax_target.py",
        "  wrote level1_softmax_seed.c: the importer's line seed",
    ]
    assert lines[-1] == "next: avo targets check level1_softmax_target.py"
    checked = avo("targets", "check", "level1_softmax_target.py", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "  ok  seed level1_softmax_seed.c: PASS " in checked.stdout
    assert "the seed declares no knob" not in checked.stdout
    scored = avo("eval", "--target", "level1_softmax_target.py", "--quick", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "PASS" in scored.stdout and "GB/s" in scored.stdout
    again = avo("targets", "import", problem.name, cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "level1_softmax_target.py exists (--force writes over it)" in again.stderr


# (the example, its sizes for a quick evaluation): one of each seed pattern and of each way
# a line plan indexes (reductions over the last dimension, over a middle one with lines
# inner to it, a scan, weights along the line), and both matrix layouts.
SEEDED = {
    "level1_gelu": {"batch_size": 4, "dim": 4096},
    "level1_softmax": {"batch_size": 8, "dim": 2048},
    "level1_sum_reduction": {"batch_size": 4, "dim1": 64, "dim2": 128},
    "level1_cumsum": {"batch_size": 16},
    "level1_layernorm": {"batch_size": 4, "features": 8, "dim1": 16, "dim2": 32},
    "level1_square_matmul": {"N": 96},
    "level2_gemm_add_relu": {"batch_size": 16, "in_features": 128, "out_features": 64},
}


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_each_seed_pattern_passes_the_real_evaluator(c_compiler: None, name: str,
                                                     tmp_path: Path) -> None:
    imported = import_problem(copy_problem(name, tmp_path, **SEEDED[name]))
    assert imported.seed is not None
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure
    assert result.geomean > 0
    edges = [c for c in result.configs if c.edge]
    assert edges and all(c.passed for c in edges)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_each_form_of_forward_gets_a_seed_that_passes(c_compiler: None, name: str,
                                                      tmp_path: Path) -> None:
    """A forward that uses a value twice (swish), calls with keywords, takes a norm, the
    values of torch.max or a log-softmax: each lowered to its pattern, its seed correct."""
    body, pattern = FORMS[name]
    path = tmp_path / f"{name}.py"
    path.write_text(form_problem(body))
    imported = import_problem(path)
    assert imported.pattern == pattern, imported.no_seed
    assert imported.seed is not None
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure


def test_the_weights_are_inputs_the_reference_computes_with(c_compiler: None,
                                                            tmp_path: Path) -> None:
    """The model's bias is an input drawn afresh, and the reference uses the very tensor the
    kernel read: a seed that leaves the bias out fails."""
    imported = import_problem(copy_problem("level2_gemm_add_relu", tmp_path,
                                           **SEEDED["level2_gemm_add_relu"]))
    assert imported.seed is not None
    seed = imported.seed.read_text()
    assert " + bias[nn];" in seed
    result = evaluate(imported.target, imported.seed, seed.replace(" + bias[nn];", ";"))
    assert not result.correct and result.failure is not None
    assert result.failure.kind == "incorrect", result.failure


def test_tied_sizes_vary_together(tmp_path: Path) -> None:
    """bias_shape = (out_features,) follows out_features: the edge shapes vary it."""
    imported = import_problem(copy_problem("level2_gemm_add_relu", tmp_path))
    target = get_target(str(imported.target))
    assert [name for name, _ in target.configs[0].dims] == ["batch_size", "in_features",
                                                             "out_features"]
    assert {c["out_features"] for c in target.edge_configs} >= {1, 37}
    text = imported.target.read_text()
    assert "'out_features': (('out_features', None), ('bias_shape', 0))," in text


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_problem_it_cannot_import_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    source, words = REFUSED[name]
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    with pytest.raises(ImportRefused) as refused:
        import_problem(path)
    assert words in str(refused.value) and "\n" not in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_the_command_refuses_in_one_line(tmp_path: Path) -> None:
    copy_problem("level1_argmax", tmp_path)
    done = avo("targets", "import", "level1_argmax.py", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("avo: error: cannot import level1_argmax.py: level1_argmax.py: "
                           "forward returns int64 values (indices, as argmax gives); the "
                           "importer writes floating outputs yet: declare the Output's integer "
                           "dtype in the target file by hand (docs/targets.md, integer and "
                           "bool tensors)\n")


def test_a_problem_without_a_seed_passes_check_for_the_agent(tmp_path: Path) -> None:
    problem = copy_problem("level1_conv2d", tmp_path, batch_size=2, out_channels=8,
                           width=16, height=12)
    imported = import_problem(problem)
    assert imported.seed is None
    assert "Conv2d" in imported.target.read_text() or "Conv2d" in imported.no_seed
    done = avo("targets", "check", imported.target.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].endswith("--session NAME --operator agent")


def test_a_strided_padded_output_follows_every_size(tmp_path: Path) -> None:
    """The fitted output height is the convolution's (height + 2 - kernel_size) // 2 + 1 on
    every edge and drawn shape, as the model computes it."""
    path = tmp_path / "strided_conv.py"
    path.write_text(STRIDED_CONV)
    imported = import_problem(path)
    target = get_target(str(imported.target))
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    draws = problem.draw_configs(target.edge_configs, 6, random.Random(1))
    configs = [*target.edge_configs, *(config for config, _ in draws)]
    assert len({(c["height"], c["width"]) for c in configs}) > 3
    for config in configs:
        conv = torch.nn.Conv2d(3, config["out_channels"], 3, stride=2, padding=1)
        x = torch.zeros(config["batch_size"], 3, config["height"], config["width"])
        (out,) = (p for p in problem.parameters if p.kind == "output")
        assert out.shape_on(config) == tuple(conv(x).shape), config.name


def test_uniform_inputs_are_drawn_as_the_problem_draws_them(c_compiler: None,
                                                           tmp_path: Path) -> None:
    """torch.rand inputs become values=Uniform(0.0, 1.0): the log of x + 1 stays finite, and
    the seed passes."""
    path = tmp_path / "uniform_log.py"
    path.write_text(UNIFORM_LOG)
    imported = import_problem(path)
    assert 'Input("x", x_shape, values=Uniform(0.0, 1.0))' in imported.target.read_text()
    assert imported.seed is not None
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure


def test_the_parent_reads_an_imported_target_without_torch(tmp_path: Path) -> None:
    imported = import_problem(copy_problem("level2_gemm_add_relu", tmp_path))
    code = ("import sys; sys.modules['torch'] = None\n"
            "from avo_tui.evaluation import get_target\n"
            f"target = get_target({str(imported.target)!r})\n"
            "print(target.name, target.configs[0].work)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("level2-gemm-add-relu Work(flops=")


@pytest.mark.parametrize("name", sorted(n for n, p in EXPECTED.items()
                                        if p in ("elementwise", "line", "matmul")))
def test_each_cuda_seed_compiles_with_nvrtc(name: str, tmp_path: Path) -> None:
    imported = import_problem(copy_problem(name, tmp_path), kind="cuda")
    assert imported.seed is not None and imported.seed.suffix == ".cu"
    assert imported.target.name == f"{name}_cuda_target.py"
    target = get_target(str(imported.target))
    assert target.device == "cuda" and target.name == name.replace("_", "-") + "-cuda"
    compiled = CudaToolchain(CompileCache(tmp_path / "cache")).compile(
        {imported.seed.name: imported.seed.read_text()})
    assert compiled.ok, compiled.log

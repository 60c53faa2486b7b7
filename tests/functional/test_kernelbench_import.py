"""avo targets import (avo_tui/kernelbench/): a KernelBench problem becomes a target file and a
seed that the real commands and the real evaluator accept.

The problems are examples/kernelbench/'s (written from KernelBench's public descriptions),
copied into each test's folder with small sizes set through their own module-level globals;
the refused ones and a strided convolution are tests/kernelbench_problems.py's."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import (
    ARGMIN,
    CONV_AND_MASK,
    EXAMPLES,
    EXPECTED,
    FORMS,
    INTEGER_SCALE,
    MASKED_SUM,
    REFUSED,
    STRIDED_CONV,
    UNIFORM_LOG,
    copy_problem,
    form_problem,
)
from target_example import avo

from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.declared import DeclaredProblem
from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain
from avo_tui.kernelbench import ImportRefused, import_problem
from avo_tui.kernelbench.target import integer_inputs as integer_module


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
    assert again.returncode == 1 and errors(again.stderr).count("\n") == 1
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


@pytest.mark.usefixtures("quick_timing")
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


@pytest.mark.usefixtures("quick_timing")
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


@pytest.mark.usefixtures("quick_timing")
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
    (tmp_path / "labels.py").write_text(REFUSED["int16_input"][0])
    done = avo("targets", "import", "labels.py", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert errors(done.stderr) == (
        "avo: error: cannot import labels.py: labels.py: input 1 is int16, a dtype a target "
        "file has no type for: its inputs are float32, or int8, int32, int64, uint8, bool "
        "(docs/targets.md, integer and bool tensors)\n")


def errors(stderr: str) -> str:
    """``stderr`` without the import's progress: on a loaded machine torch's own import, or
    the import's phases, may take long enough to be told ("avo targets import: ...")."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("avo targets import: "))


def outputs_of(target: Path) -> list[tuple[str, str | None]]:
    """Each Output of the target file as the evaluator loads it: its name and dtype."""
    problem = get_target(str(target)).problem
    assert isinstance(problem, DeclaredProblem)
    return [(p.name, p.dtype) for p in problem.parameters if p.kind == "output"]


def checked(target: Path) -> str:
    """``avo targets check`` on the target file (its seed compiled and run): its output."""
    done = avo("targets", "check", target.name, cwd=target.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_argmax_is_written_as_exact_int64_indices_with_a_line_seed(
        c_compiler: None, tmp_path: Path) -> None:
    """level1_argmax returns int64 indices (along its middle dimension): the target declares
    them int64, compared exactly, and the line seed writes them as int64_t; it passes `avo
    targets check` and the evaluator, and the same seed with each index one off is rejected."""
    problem = copy_problem("level1_argmax", tmp_path, batch_size=4, dim1=64, dim2=32)
    done = avo("targets", "import", problem.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  wrote level1_argmax_seed.c: the importer's line seed" in done.stdout
    assert "  outputs: out (int64, compared exactly)" in done.stdout
    target, seed = tmp_path / "level1_argmax_target.py", tmp_path / "level1_argmax_seed.c"
    assert outputs_of(target) == [("out", "int64")]
    assert 'Output("out", out_shape, dtype=\'int64\'),  # compared exactly' in target.read_text()
    source = seed.read_text()
    assert "int64_t *out" in source and "#include <stdint.h>" in source
    assert "  ok  seed level1_argmax_seed.c: PASS " in checked(target)
    result = evaluate(target, seed)
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs if c.edge)
    off_by_one, count = re.subn(r"(r\d+)\[b\] = j;", r"\1[b] = j + 1;", source)
    assert count == 1
    wrong = evaluate(target, seed, off_by_one)
    assert not wrong.correct and wrong.failure is not None
    assert wrong.failure.kind == "incorrect", wrong.failure
    assert "compared exactly" in str(wrong.failure)


@pytest.mark.usefixtures("quick_timing")
def test_an_argmin_without_init_inputs_gets_its_seed(c_compiler: None, tmp_path: Path) -> None:
    """argmin over the last dimension (contiguous lines, walked in order), in a problem with
    no get_init_inputs(): the target file builds Model() with no arguments."""
    path = tmp_path / "argmin.py"
    path.write_text(ARGMIN)
    imported = import_problem(path)
    assert imported.pattern == "line" and imported.seed is not None
    assert imported.outputs == (("out", "int64"),)
    assert " < v" in imported.seed.read_text()  # the least value wins
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure


@pytest.mark.usefixtures("quick_timing")
def test_two_outputs_softmax_and_log_sum_exp_each_checked_on_its_own(
        c_compiler: None, tmp_path: Path) -> None:
    """examples' softmax with its log-sum-exp returns (probs, lse): one Output each, named as
    its return names them; one line seed writes both (the max and the sum computed once), it
    passes check and the evaluator, and a seed whose log-sum-exp leaves out the max is
    rejected, the failure naming lse."""
    imported = import_problem(copy_problem("level1_softmax_logsumexp", tmp_path,
                                           batch_size=8, dim=2048))
    assert imported.pattern == "line" and imported.seed is not None
    assert imported.outputs == (("probs", "float32"), ("lse", "float32"))
    assert outputs_of(imported.target) == [("probs", "float32"), ("lse", "float32")]
    source = imported.seed.read_text()
    assert "float *probs, float *lse, int batch_size, int dim" in source
    assert source.count("lane[l] = fmax(") == 1 and source.count("lane[l] += ") == 1
    assert "  ok  seed level1_softmax_logsumexp_seed.c: PASS " in checked(imported.target)
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure
    lse = re.search(r"const float (t\d+) = (t\d+) \+ (r\d+)\[b\];\n\s+lse\[rbase \+ b\] = \1;",
                    source)
    assert lse is not None
    wrong = evaluate(imported.target, imported.seed,
                     source.replace(lse.group(0), lse.group(0).replace(
                         f" + {lse.group(3)}[b];", ";")))
    assert not wrong.correct and wrong.failure is not None
    assert wrong.failure.kind == "incorrect" and " of lse: " in str(wrong.failure)


@pytest.mark.usefixtures("quick_timing")
def test_torch_max_over_a_dim_is_its_values_and_its_indices(c_compiler: None,
                                                            tmp_path: Path) -> None:
    """A forward returning torch.max(x, dim=1) whole: two outputs named after its fields,
    values (float32) and indices (int64, exact); the line seed writes both, and a seed whose
    indices are one off is rejected on indices alone."""
    path = tmp_path / "max_and_where.py"
    path.write_text(form_problem("return torch.max(x, dim=1)"))
    imported = import_problem(path)
    assert imported.pattern == "line" and imported.seed is not None
    assert outputs_of(imported.target) == [("values", "float32"), ("indices", "int64")]
    assert "  ok  seed max_and_where_seed.c: PASS " in checked(imported.target)
    source = imported.seed.read_text()
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure
    off_by_one, count = re.subn(r"(r\d+)\[b\] = j;", r"\1[b] = j + 1;", source)
    assert count == 1
    wrong = evaluate(imported.target, imported.seed, off_by_one)
    assert not wrong.correct and wrong.failure is not None
    assert " of indices: " in str(wrong.failure) and "compared exactly" in str(wrong.failure)


def test_several_outputs_without_a_seed_each_declared_for_the_agent(tmp_path: Path) -> None:
    """A convolution returning its result and a bool mask of it, imported with no seed: an
    Output for each (out0 float32, out1 bool, compared exactly), and the target passes check;
    the mask, computed from floats, carries the note that rounding can flip it."""
    path = tmp_path / "conv_and_mask.py"
    path.write_text(CONV_AND_MASK)
    imported = import_problem(path, seeded=False)
    assert imported.seed is None and "--no-seed" in imported.no_seed
    assert outputs_of(imported.target) == [("out0", "float32"), ("out1", "bool")]
    assert any(note.startswith("out1 is bool computed from floating arithmetic")
               for note in imported.notes)
    assert "Outputs: out1 is bool computed" in imported.target.read_text()
    assert checked(imported.target).splitlines()[-1].endswith(
        "--session NAME --operator agent")


def test_a_problem_without_a_seed_passes_check_for_the_agent(tmp_path: Path) -> None:
    problem = copy_problem("level1_conv2d", tmp_path, batch_size=2, out_channels=8,
                           width=16, height=12)
    imported = import_problem(problem, seeded=False)
    assert imported.seed is None and "--no-seed" in imported.target.read_text()
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


@pytest.mark.usefixtures("quick_timing")
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


# The examples with an integer input, at small sizes: the input, and the size its values must
# stay below (an index into the logits' classes, the table's rows).
INTEGER_EXAMPLES = {
    "level1_cross_entropy": ("labels", "num_classes", {"batch_size": 64, "num_classes": 40}),
    "level1_embedding": ("token_ids", "vocab_size", {"batch_size": 4, "seq_len": 16,
                                                     "vocab_size": 50, "embedding_dim": 24}),
}


def every_checked_config(target_path: Path) -> list[Any]:
    """The target's timed, edge and (three evaluations') drawn configurations."""
    target = get_target(str(target_path))
    problem = target.problem
    assert isinstance(problem, DeclaredProblem)
    drawn = [config for seed in range(3) for config, _ in
             problem.draw_configs(target.edge_configs, 2, random.Random(seed))]
    return [*target.configs, *target.edge_configs, *drawn]


def references_on_draws(config: Any, draws: int = 3) -> list[dict[str, torch.Tensor]]:
    """The float64 reference on ``draws`` sets of inputs the harness draws for ``config`` by
    the target's own rules, and each set's inputs."""
    numerics = config.problem.numerics()
    named = []
    for seed in range(draws):
        inputs = make_inputs(config, torch.Generator().manual_seed(seed), "cpu")
        numerics.references(config, inputs, torch.float32)
        named.append(inputs.named)
    return named


@pytest.mark.parametrize("name", sorted(INTEGER_EXAMPLES))
def test_an_integer_input_is_drawn_within_what_the_problem_draws(name: str,
                                                                tmp_path: Path) -> None:
    """The real command writes the int64 input with Integers(least, most + 1) of the problem's
    own draws (a comment saying so), keeps the size the range follows in every checked shape,
    and the target passes check; on every timed, edge and drawn shape the harness's draws stay
    below that size and the float64 reference takes them. Without the rule (the harness's
    default int64 range) or at a smaller size, the reference fails on them."""
    field, bound, sizes = INTEGER_EXAMPLES[name]
    problem = copy_problem(name, tmp_path, **sizes)
    done = avo("targets", "import", problem.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    size = sizes[bound]
    assert f"  inputs: {field} (int64, Integers(0, {size}): the least and the most of 8 " \
        in done.stdout
    assert f"  --  {bound} stays at {size} in every checked shape: the values of {field} " \
        in done.stdout
    target = tmp_path / f"{name}_target.py"
    text = target.read_text()
    rule = f"values=Integers(0, {size})"
    assert f'        Input("{field}", {field}_shape, dtype=\'int64\', {rule}),\n' in text
    assert f"        # Integers(0, {size}): the least and the most value of {field} in 8 " \
        "draws of" in text
    assert "widen it by hand" in text
    report = checked(target)  # the stage seed (a gather by the index) passes there too
    assert f"  ok  seed {name}_seed.c: PASS " in report, report
    assert report.splitlines()[-1].endswith("--session NAME")
    configs = every_checked_config(target)
    assert len({c.name for c in configs}) >= 5 and all(c[bound] == size for c in configs)
    for config in configs:
        for named in references_on_draws(config):
            assert int(named[field].min()) >= 0 and int(named[field].max()) < size

    unruled = tmp_path / "unruled_target.py"
    unruled.write_text(text.replace(f", {rule}", ""))
    with pytest.raises((IndexError, RuntimeError)):
        references_on_draws(get_target(str(unruled)).configs[0], draws=1)
    smaller = get_target(str(target)).configs[0].with_dims(**{bound: size // 4})
    with pytest.raises((IndexError, RuntimeError)):
        references_on_draws(smaller, draws=1)


def test_without_holding_the_size_an_edge_shape_rejects_the_labels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import tries every edge shape with the labels at their least and most: with that
    search switched off (nothing held), num_classes moves with the edges below the labels'
    range, and the reference fails there; the importer's own file passes (above)."""
    monkeypatch.setattr(integer_module, "_held", lambda passes, varied: [])
    _, bound, sizes = INTEGER_EXAMPLES["level1_cross_entropy"]
    imported = import_problem(copy_problem("level1_cross_entropy", tmp_path, **sizes))
    edges = get_target(str(imported.target)).edge_configs
    assert any(c[bound] < sizes[bound] for c in edges)
    with pytest.raises((IndexError, RuntimeError)):
        for config in edges:
            references_on_draws(config, draws=1)


@pytest.mark.usefixtures("quick_timing")
def test_an_integer_input_in_a_seeded_forward_is_read_with_its_own_type(
        c_compiler: None, tmp_path: Path) -> None:
    """x * counts (int64) gets its elementwise seed, counts declared const int64_t * and read
    as a float; it passes the evaluator, and the same seed reading counts as floats is
    rejected. A bool mask in a masked sum gets its line seed (const bool *), drawn as
    Integers(0, 2), and passes."""
    path = tmp_path / "scaled.py"
    path.write_text(INTEGER_SCALE)
    imported = import_problem(path)
    assert imported.pattern == "elementwise" and imported.seed is not None
    assert imported.integer_inputs == (("counts", "int64", "Integers(0, 10)"),)
    source = imported.seed.read_text()
    assert "const int64_t *counts" in source and "((float)counts[idx])" in source
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure
    as_floats = source.replace("const int64_t *counts", "const float *counts").replace(
        "((float)counts[idx])", "counts[idx]")
    wrong = evaluate(imported.target, imported.seed, as_floats)
    assert not wrong.correct and wrong.failure is not None
    assert wrong.failure.kind == "incorrect", wrong.failure

    path = tmp_path / "masked.py"
    path.write_text(MASKED_SUM)
    imported = import_problem(path)
    assert imported.pattern == "line" and imported.seed is not None
    assert "Input(\"mask\", mask_shape, dtype='bool', values=Integers(0, 2))," in \
        imported.target.read_text()
    source = imported.seed.read_text()
    assert "const bool *mask" in source and "#include <stdbool.h>" in source
    result = evaluate(imported.target, imported.seed)
    assert result.correct, result.failure


def test_an_integer_input_seed_compiles_with_nvrtc(tmp_path: Path) -> None:
    path = tmp_path / "scaled.py"
    path.write_text(INTEGER_SCALE)
    imported = import_problem(path, kind="cuda")
    assert imported.seed is not None
    source = imported.seed.read_text()
    assert "const long long *__restrict__ counts" in source
    compiled = CudaToolchain(CompileCache(tmp_path / "cache")).compile(
        {imported.seed.name: source})
    assert compiled.ok, compiled.log

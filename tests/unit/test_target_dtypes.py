"""A target file's tensors may each name a dtype of their own (``Input(..., dtype="float32")``):
float32 weights beside bfloat16 activations, a float32 output. The harness makes each input in
its own dtype, hands the honest computation and the baselines the inputs as the kernel gets
them, and holds the output to the precision of *its* dtype; ``avo targets check`` says which
tensors differ, and the agent's contract names them (half types in C kernels:
test_c_half_types.py).

tests/fixtures/targets/mixed_scale.py is such a target (bf16 x, float32 weight and out); the
same file runs on a GPU in tests/gpu/test_target_dtypes_gpu.py."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import pytest
import torch
from engine_helpers import FIXTURE_TARGETS

from avo_tui.cli import main
from avo_tui.evaluation import Input, Output, Target, TargetFileError, get_target
from avo_tui.evaluation.measurement.tensors import empty_output, make_inputs
from avo_tui.evaluation.targets.declared import DeclaredProblem, configure
from avo_tui.evaluation.targets.problem import RowSample
from avo_tui.evaluation.targets.words import PRECISION, entry_words, precision_words

MIXED = FIXTURE_TARGETS / "mixed_scale.py"


def mixed_copy(folder: Path, edits: tuple[tuple[str, str], ...] = ()) -> Path:
    """The mixed-dtype target and its seed in ``folder``, ``edits`` applied to the target."""
    text = MIXED.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "mixed_scale.cu").write_bytes(MIXED.with_suffix(".cu").read_bytes())
    path = folder / "mixed_scale.py"
    path.write_text(text)
    return path


def test_each_input_and_the_output_are_made_in_their_own_dtypes() -> None:
    spec = get_target(str(MIXED))
    config = spec.edge_configs[1]
    inputs = make_inputs(config, torch.Generator().manual_seed(1), "cpu")
    assert inputs["x"].dtype == torch.bfloat16  # the target's dtype, named by no tensor
    assert inputs["weight"].dtype == torch.float32
    assert empty_output(config, "cpu").dtype == torch.float32
    assert config.dtype == "bfloat16"  # the configuration keeps the target's


def test_targets_check_passes_a_target_of_mixed_dtypes_and_names_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The file's honest computation and baseline raise unless handed x in bf16 and weight in
    # float32: the check passing says each reached them in its own dtype.
    assert main(["targets", "check", str(MIXED)]) == 0
    out = capsys.readouterr().out
    assert "cuda, bfloat16 (weight float32, out float32); 1 timed" in out, out
    assert "ok  numerics on cpu" in out and "target ok:" in out, out


ROUNDS_TO_BF16 = ('baselines={"torch": in_float32}',
                  'baselines={"torch": lambda **kw: in_float32(**kw).bfloat16().float()}')
DECLARED = ("honest=in_float32,",
            "tolerance=DeclaredTolerance(rel_l2=1e-2, max_abs_ulps=4, why='test'),")


@pytest.mark.parametrize("edits", [
    (ROUNDS_TO_BF16,),
    (ROUNDS_TO_BF16, DECLARED, ("import Input,", "import DeclaredTolerance, Input,")),
], ids=["derived", "declared"])
def test_a_float32_output_is_held_to_float32_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: tuple[tuple[str, str], ...],
) -> None:
    """A baseline that rounds its float32 output to bf16 loses 16 bits. It passes the built-in
    tolerance of bf16 (2e-3), and 4 ulps of bf16 at the output's scale, but not the float32
    tolerance, nor 4 ulps of float32: the output's dtype sets both."""
    path = mixed_copy(tmp_path, edits)
    assert main(["targets", "check", str(path)]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("avo: error: baseline torch disagrees with the reference on "), line
    assert "max abs error" in line or "relative error" in line, line


def test_a_float32_output_keeps_the_room_float32_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The tolerance is the output's dtype's: a baseline 100 float32 ulps off passes float32's
    (512 ulps), where bf16's, the target's dtype, allows half an ulp past the honest error."""
    path = mixed_copy(tmp_path, (('baselines={"torch": in_float32}',
                                  'baselines={"torch": lambda **kw: in_float32(**kw)'
                                  ' * (1 + 100 * 2**-24)}'),))
    assert main(["targets", "check", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("edits", "reason"), [
    ((('Input("weight", lambda c: (c["cols"],), dtype="float32")',
       'Input("weight", lambda c: (c["cols"],), dtype="int4")'),),
     "weight's dtype must be one of float32, bfloat16, float16, int8, int32, int64, uint8, "
     "bool, not 'int4'"),
], ids=["unknown"])
def test_a_tensor_dtype_the_harness_cannot_make_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    edits: tuple[tuple[str, str], ...], reason: str,
) -> None:
    path = mixed_copy(tmp_path, edits).resolve()
    assert main(["targets", "check", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"avo: error: target file {path}: {reason}"


def test_the_agent_is_told_which_tensors_differ_from_the_targets_dtype() -> None:
    def rows(c: dict[str, int]) -> tuple[int]:
        return (c["n"],)

    target = Target(
        name="t", description="d", kind="cuda", entry="k", dims=("n",),
        parameters=(Input("a", rows), Input("b", rows, dtype="float32"),
                    Output("out", rows, dtype="bfloat16")),
        configs=({"n": 8},), edge_configs=(), reference=lambda a, b: a, honest=lambda a, b: a,
        flops=lambda c: 1.0, baselines={"x": lambda a, b: a}, seed="k.cu", dtype="bfloat16")
    words = entry_words(target)
    assert "a [n] (input, read only)" in words  # the target's dtype goes without saying
    assert "b [n] float32 (input, read only)" in words
    assert "out [n] (the output" in words  # named, but the target's own
    assert words.endswith("Tensors are contiguous bfloat16 unless named otherwise."), words
    assert precision_words(target) == {"bfloat16": "a bfloat16, b float32, out bfloat16; fp32 "
                                       "accumulation; the output held to bfloat16 precision"}


def test_the_rules_name_each_tensors_precision_on_a_mixed_target() -> None:
    from avo_tui.operators.agent.instructions import rules

    assert "x bfloat16, weight float32, out float32; fp32 accumulation; the output held to " \
        "float32 precision" in rules(get_target(str(MIXED)))
    assert PRECISION["bfloat16"] in rules(get_target("rmsnorm"))  # one dtype: as before


def test_a_scalar_declares_no_dtype() -> None:
    from avo_tui.evaluation.targets.problem import Param

    with pytest.raises(ValueError, match="a scalar has no dtype of its own"):
        Param("n", "int", dtype="float32")
    with pytest.raises(TargetFileError, match="must be one of"):
        Target(name="t", description="d", kind="cuda", entry="k", dims=("n",),
               parameters=(Input("a", lambda c: (1,)), Output("o", lambda c: (1,))),
               configs=({"n": 1},), edge_configs=(), reference=lambda a: a,
               honest=lambda a: a, flops=lambda c: 1.0, baselines={"x": lambda a: a},
               seed="k.cu", dtype="float64")


def counting_problem(factor: int, calls: list[str], kind: Literal["cpu", "cuda"], seed: str,
                     dtype: str = "float32") -> DeclaredProblem:
    """A target computing ``factor * a`` whose reference and honest computation each say in
    ``calls`` when they run."""

    def exact(a: torch.Tensor) -> torch.Tensor:
        calls.append("reference")
        return a * factor

    def honest(a: torch.Tensor) -> torch.Tensor:
        calls.append("honest")
        return a * factor

    return DeclaredProblem(Target(
        name=f"times-{factor}", description="d", kind=kind, entry="k", dims=("n",),
        parameters=(Input("a", lambda c: (4, c["n"])), Output("out", lambda c: (4, c["n"]))),
        configs=({"n": 8},), edge_configs=(), reference=exact, honest=honest,
        flops=lambda c: 1.0, baselines={"x": honest}, seed=seed, dtype=dtype))


def test_a_checked_launch_computes_each_reference_once() -> None:
    """judge_sample asks for the exact rows, then the honest ones: a target file computes
    whole outputs, so each question runs its own function once, not both."""
    calls: list[str] = []
    problem = counting_problem(2, calls, "cuda", "k.cu", "bfloat16")
    config = configure(problem, {"n": 8})
    inputs = make_inputs(config, torch.Generator().manual_seed(1), "cpu")
    sample = RowSample.draw((4, 8), random.Random(1))
    numerics = problem.numerics()
    exact_rows = numerics.reference_rows(config, inputs, sample)
    assert calls == ["reference"]
    honest_rows = numerics.reference_rows(config, inputs, sample, emulate=torch.bfloat16)
    assert calls == ["reference", "honest"]
    assert torch.equal(exact_rows, honest_rows)  # a * 2 is exact in bf16

"""``avo targets check`` passes the docs' example (docs/targets.md), through the real command
in a process of its own, in a folder outside the checkout. It refuses a target file that cannot
be evolved on, in one line that says why (``avo: error: ...``, exit status 1): a baseline that
disagrees with the reference, an honest computation outside its own tolerance, a broken seed,
a malformed file, a missing one; each variant is the docs' example with one thing broken.
``avo targets list`` lists the built-in targets, one line each."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from target_example import SEED_FILE, TARGET_FILE, Edits, avo, example, write_example

from avo_tui.cli import main
from avo_tui.commands.targets import NO_CASES_NOTE
from avo_tui.evaluation import get_target
from avo_tui.evaluation.targets.api import REQUIRED, Target
from avo_tui.evaluation.targets.spec import known_names

pytestmark = pytest.mark.usefixtures("c_compiler")


def test_targets_check_passes_the_docs_example_in_a_folder_of_its_own(tmp_path: Path) -> None:
    folder = write_example(tmp_path).parent
    done = avo("targets", "check", f"./{TARGET_FILE}", cwd=folder)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("scaled-residual: out = x + alpha * r")
    assert [line.split()[1] for line in lines[1:5]] == [
        "declarations:", "draws:", "numerics", "seed"]
    assert f"ok  seed {SEED_FILE}: PASS" in done.stdout
    assert lines[-1] == f"target ok: avo run --target {folder.resolve() / TARGET_FILE} " \
                        "--session NAME"


NO_KNOB = "the seed declares no knob"


def test_a_seed_without_knobs_passes_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The tuner turns knobs alone: a seed that declares none leaves it nothing to try."""
    with_knob = write_example(tmp_path / "knob")
    assert main(["targets", "check", str(with_knob)]) == 0
    assert NO_KNOB not in capsys.readouterr().out
    without = write_example(tmp_path / "none", seed=[("  // avo:knob 1 2 4 8", "")])
    assert main(["targets", "check", str(without)]) == 0
    out = capsys.readouterr().out
    assert f"  --  {NO_KNOB}" in out and "the tuner has nothing to try" in out


NARROW = "the seed passes by a small margin"


def test_a_seed_that_passes_by_a_small_margin_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """An error of 1.2e-5 on every value sits at 0.6 of float32's 2e-5 floor: it passes the
    draws here, and a little more on another draw would fail it; an exact seed has room."""
    exact = write_example(tmp_path / "exact")
    assert main(["targets", "check", str(exact)]) == 0
    assert NARROW not in capsys.readouterr().out
    close = write_example(tmp_path / "close", seed=[
        ("out[i + u] = x[i + u] + alpha * r[i + u];",
         "out[i + u] = (x[i + u] + alpha * r[i + u]) * 1.000012f;"),
        ("out[i] = x[i] + alpha * r[i];", "out[i] = (x[i] + alpha * r[i]) * 1.000012f;")])
    assert main(["targets", "check", str(close)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if NARROW in line)
    assert line.startswith("  --  ") and "over 3 draws; another draw may fail it" in line
    ratio = float(line.split("reached ")[1].split(" of")[0])
    assert 0.5 <= ratio < 1.0, line


def test_a_target_without_a_seed_passes_and_says_the_agent_writes_version_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Everything that needs no kernel is checked; the missing seed is one line, not a
    refusal: a run with the agent writes v0 at its first step."""
    path = write_example(tmp_path, [('    seed="scaled_residual.c",\n', "")]).resolve()
    assert main(["targets", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out[1:4]] == ["declarations:", "draws:", "numerics"]
    assert out[4:] == [
        "  --  no seed: a run with the agent (--operator agent) writes version 0 at its first "
        "step; the tuner needs a seed (the target file's seed=)",
        f"target ok: avo run --target {path} --session NAME --operator agent"]


def test_a_target_without_hostile_cases_is_told_it_is_checked_on_drawn_inputs_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    without = write_example(tmp_path / "bare", [
        ('    cases={"huge": huge, "mixed": mixed},\n', ""),
        ('    seed="scaled_residual.c",\n', "")]).resolve()
    assert main(["targets", "check", str(without)]) == 0
    assert f"  --  {NO_CASES_NOTE}" in capsys.readouterr().out.splitlines()
    with_cases = write_example(tmp_path / "cases", [('    seed="scaled_residual.c",\n', "")])
    assert main(["targets", "check", str(with_cases.resolve())]) == 0
    assert NO_CASES_NOTE not in capsys.readouterr().out


def test_every_required_field_of_a_target_is_explained() -> None:
    required = {f.name for f in dataclasses.fields(Target)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert required == set(REQUIRED)


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``avo targets check`` ends with on ``path``, which it refuses."""
    assert main(["targets", "check", str(path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def broken(folder: Path, target: Edits = (), seed: Edits = ()) -> Path:
    return write_example(folder, target, seed).resolve()


def test_a_baseline_that_disagrees_with_the_reference_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = broken(tmp_path, [("torch.add(x, r, alpha=alpha)", "torch.add(x, r)")])
    line = check(path, capsys)
    assert line.startswith("avo: error: baseline torch-add disagrees with the reference on "
                           "rows1-cols1: row 0 of out: relative error "), line
    # the rule that failed, and the input case
    assert line.endswith("(tolerance 0.0002: the floor for a row); 1 of 1 rows outside their "
                         "tolerance on drawn inputs"), line


@pytest.mark.parametrize(("edits", "line"), [
    # It overflows float32 on the hostile case: no tolerance can be built on it there.
    ([("honest=scaled_add,", "honest=lambda x, r, alpha, **_: (x + alpha * r) * 1e10,")],
     "the honest computation is outside its own tolerance on rows1-cols1: 1 of 1 "
     "output values are NaN or Inf on huge inputs"),
    ([("reference=scaled_add,", "reference=lambda x, r, alpha, **_: (x + alpha * r)[:1],")],
     "the reference returned (1, 37) on rows3-cols37, not a tensor of (3, 37)"),
    ([('inputs["r"][::2]', 'inputs["y"][::2]')],
     "input case 'mixed' raised KeyError on rows1-cols1 (mixed inputs): 'y'"),
], ids=["honest", "reference", "case"])
def test_numerics_that_cannot_be_judged_on_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: Edits, line: str,
) -> None:
    assert check(broken(tmp_path, edits), capsys) == f"avo: error: {line}"


def test_a_seed_that_does_not_compile_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = broken(tmp_path, seed=[("out[i] = x[i] + alpha * r[i];",
                                   "out[i] = x[i] + alpha * r[i]")])
    line = check(path, capsys)
    assert line.startswith("avo: error: the seed scaled_residual.c fails: compile: "
                           "scaled_residual.c:"), line
    assert "expected ';'" in line, line


def test_a_seed_that_computes_something_else_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Wrong on the tail alone: the timed configurations pass, the edge ones do not.
    path = broken(tmp_path, seed=[("out[i] = x[i] + alpha * r[i];", "out[i] = x[i];")])
    assert check(path, capsys).startswith(
        "avo: error: the seed scaled_residual.c fails: incorrect [rows1-cols1]: row 0 of out: "
        "relative error ")


def line_of(text: str) -> int:
    """The line of the docs' example target file that is ``text``."""
    return example()[0].splitlines().index(text) + 1


@pytest.mark.parametrize(("edits", "reason"), [
    ([("target = Target(", "target = Target((")],
     f"line {line_of('target = Target(')}: SyntaxError: '(' was never closed"),
    ([("import torch", "import tourch")],
     f"line {line_of('import torch')}: ModuleNotFoundError: No module named 'tourch'"),
    ([("target = Target(", "targets = Target(")],
     "defines no target (target = Target(...), from avo_tui.evaluation)"),
    ([('Output("out", rows_cols),', "")], "the entry point has no Output"),
    ([('{"rows": 3, "cols": 37}', '{"rows": 3, "columns": 37}')],
     "edge_configs[1] is ['rows', 'columns']; a configuration is a dict of rows, cols, in that "
     "order"),
    ([("def rows_cols(c):\n    return (c[\"rows\"], c[\"cols\"])",
       "def rows_cols(c):\n    return (c[\"rows\"], c[\"cols\"] - 1)")],
     "the shape of x on edge_configs[0] is (1, 0), not a tuple of positive ints"),
    ([('honest=scaled_add,', '')],
     "give honest (the computation at the target's precision the tolerance is derived from) "
     "or tolerance (a DeclaredTolerance), one of the two"),
    ([('seed="scaled_residual.c"', 'seed="missing.c"')], "its seed kernel missing.c is not at "),
    ([('flops=lambda c: 2 * c["rows"] * c["cols"]', "flops=lambda c: 0")],
     "flops on rows1024-cols1024 is 0.0, not a positive number"),
    ([('seed="scaled_residual.c",', 'seed="scaled_residual.c", max_plausible_jump=0.9,')],
     "max_plausible_jump is 0.9, not a number above 1 (and at most 1000): how many times the "
     "best a result may be before it is held for review"),
])
def test_a_malformed_file_is_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: Edits, reason: str,
) -> None:
    path = broken(tmp_path, edits)
    line = check(path, capsys)
    assert line.startswith(f"avo: error: target file {path}: {reason}"), line


def test_a_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = (tmp_path / "nowhere.py").resolve()
    assert check(path, capsys) == f"avo: error: target file {path}: no such file"


def test_a_file_that_is_not_python_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert check(tmp_path / "target.txt", capsys) == (
        f"avo: error: {tmp_path / 'target.txt'}: a target file is a Python file (.py), or a "
        "shipped one's name (avo targets list)")


def test_targets_list_has_every_built_in_target_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["targets", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == known_names()
    assert lines[0].split()[1] == "cpu" and get_target("cpu-attention").description in lines[0]
    assert main(["targets"]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_a_cpu_standing_in_for_a_gpu_leaves_the_largest_edge_shapes_for_the_gpu() -> None:
    """`avo targets check mha` without a GPU: attention's float64 reference at 4,097 keys is
    137 GFLOP for every input case and baseline (minutes on a CPU); those edge shapes are
    named as left for a GPU and the others checked. On the GPU every one is checked."""
    from avo_tui.evaluation.measurement.target_check import small_configs

    mha = get_target("mha")
    on_cpu, left = small_configs(mha, "cpu")
    assert [c.name for c in left] and all("4097" in c.name for c in left)
    assert set(on_cpu) | set(left) == set(mha.edge_configs) and not set(on_cpu) & set(left)
    assert small_configs(mha, "cuda") == (mha.edge_configs, ())
    cpu_target = get_target("cpu-attention")
    assert small_configs(cpu_target, "cpu") == (cpu_target.edge_configs, ())


def test_a_target_file_sets_how_far_a_result_may_jump_before_it_is_held(tmp_path: Path) -> None:
    """A CPU target whose knobs turn threads on makes honest first moves of 2x and more: its
    file may say so; a result beyond the limit it sets is still held for review."""
    from avo_tui.evaluation import ConfigResult, EvalResult
    from avo_tui.evaluation.measurement.score import Peaks, plausibility_flags

    default = get_target(str(write_example(tmp_path / "default")))
    threads = get_target(str(write_example(tmp_path / "threads", [(
        'seed="scaled_residual.c",', 'seed="scaled_residual.c", max_plausible_jump=4.0,')])))
    assert (default.max_plausible_jump, threads.max_plausible_jump) == (1.5, 4.0)

    def flags(target: object, times_the_best: float) -> list[str]:
        assert isinstance(target, type(default))
        result = EvalResult(target.name, target.toolchain, "cpu", target.unit, seed=1,
                            quick=True)
        result.configs = [ConfigResult(c, throughput=times_the_best) for c in target.configs]
        return plausibility_flags(result, target, Peaks(flops=1e18), previous_best=1.0)

    assert flags(default, 2.5) and not flags(threads, 2.5)
    assert flags(threads, 5.0) == [f"geomean {5.0:.4g} is 5.00x the best committed score 1"]

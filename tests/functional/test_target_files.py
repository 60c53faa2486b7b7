"""A target is one Python file a user writes (docs/targets.md): the walkthrough's example,
taken from the page, in a folder outside the checkout, scored and evolved end to end
through the real ``avo`` command (its own process, the real worker, the confined C runner);
a session finds its target file again only unchanged; a declared tolerance says so in every
result."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from target_example import SEED_FILE, TARGET_FILE, avo, example_folder, tuner_run, write_example

from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.problem import Work
from avo_tui.evaluation.targets.spec import TargetFileUnusable
from avo_tui.store import Session


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_folder(tmp_path_factory, "resadd")


def test_the_docs_example_loads_as_a_target(folder: Path) -> None:
    spec = get_target(str(folder / TARGET_FILE))
    assert spec.name == "scaled-residual" and spec.ref == str((folder / TARGET_FILE).resolve())
    assert (spec.toolchain, spec.device, spec.unit, spec.entry) == (
        "c", "cpu", "GFLOP/s", "avo_scaled_residual")
    assert [c.name for c in spec.configs] == ["rows1024-cols1024", "rows256-cols4096"]
    assert [c.name for c in spec.quick_configs] == ["rows1024-cols1024"]
    config = spec.configs[0]
    assert config.work == Work(flops=2 * 1024 * 1024) and spec.score_by == "flops"
    assert spec.problem.scalars(config) == {"rows": 1024, "cols": 1024, "alpha": 0.5}
    assert spec.problem.launch_variables(config) == {"ROWS": 1024, "COLS": 1024}
    assert [p.name for p in spec.problem.parameters] == ["x", "r", "out", "rows", "cols", "alpha"]
    assert spec.problem.input_cases == ("normal", "huge", "mixed")
    # A configuration crosses the worker's pipe by reference to its file: the same problem
    assert pickle.loads(pickle.dumps(config)) == config
    assert spec.source is not None
    assert spec.source.sha256 == hashlib.sha256((folder / TARGET_FILE).read_bytes()).hexdigest()
    assert get_target(str(folder / TARGET_FILE)) is spec  # loaded once while unchanged


def test_avo_eval_scores_the_seed_and_another_kernel_on_the_file(folder: Path) -> None:
    done = avo("eval", "--target", TARGET_FILE, "--quick", "--json", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["target"] == "scaled-residual" and result["failure"] is None
    checked = [(c["name"], c["case"]) for c in result["configs"]]
    # the timed shape on drawn inputs and under each hostile case, an edge shape between
    # each (never one shape twice in a row), then the other edge shapes
    assert checked[:5] == [("rows1024-cols1024", "normal"), ("rows1-cols1", "normal"),
                           ("rows1024-cols1024", "huge"), ("rows3-cols37", "normal"),
                           ("rows1024-cols1024", "mixed")]
    assert {c["case"] for c in result["configs"][5:]} == {"normal", "huge", "mixed"}
    timed = result["configs"][0]
    assert timed["throughput"] > 0 and timed["baselines"]["torch-add"] > 0

    done = avo("eval", SEED_FILE, "--target", TARGET_FILE, "--quick", "--knob", "UNROLL=8",
               "--no-baseline", "--json", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["knobs"] == {"UNROLL": "8"}


def test_a_headless_tuner_run_on_the_file_completes(folder: Path, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    tuner_run(f"./{TARGET_FILE}", sessions, "resadd", folder)
    with Session.open(sessions / "resadd", writable=False) as session:
        path = str((folder / TARGET_FILE).resolve())
        assert session.meta["target"] == path
        assert session.meta["target_file"] == {
            "path": path, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
        assert session.run_state.step == 2


@pytest.fixture
def session_on_a_copy(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(the sessions folder, the target file) of a session made on a copy of the example."""
    copy = write_example(tmp_path / "copy")
    sessions = tmp_path / "sessions"
    done = avo("--sessions-dir", str(sessions), "sessions", "new", "kept", "--target",
               str(copy), "--seed", str(copy.parent / SEED_FILE), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    yield sessions, copy


def resume(sessions: Path, cwd: Path) -> str:
    done = avo("--sessions-dir", str(sessions), "run", "--session", "kept", "--headless",
               "--max-steps", "1", cwd=cwd)
    assert done.returncode == 1, done.stdout
    return done.stderr.strip()


def test_a_session_refuses_to_resume_on_a_changed_target_file(
    session_on_a_copy: tuple[Path, Path], tmp_path: Path,
) -> None:
    sessions, copy = session_on_a_copy
    then = hashlib.sha256(copy.read_bytes()).hexdigest()
    copy.write_text(copy.read_text().replace('Float("alpha", 0.5)', 'Float("alpha", 0.25)'))
    now = hashlib.sha256(copy.read_bytes()).hexdigest()
    path = copy.resolve()
    assert resume(sessions, tmp_path) == (
        f"avo: error: the target file {path} changed since session 'kept' began (sha256 "
        f"{then[:12]} then, {now[:12]} now); restore it to resume, or start a new session "
        f"from this one's best: avo run --target {path} --session NEW --from kept")


def test_a_session_refuses_to_resume_when_its_target_file_is_gone(
    session_on_a_copy: tuple[Path, Path], tmp_path: Path,
) -> None:
    sessions, copy = session_on_a_copy
    path = copy.resolve()
    copy.unlink()
    assert resume(sessions, tmp_path) == (
        f"avo: error: session 'kept' evolves the target file {path}, which cannot be read "
        "(no such file); put it back to resume")


def test_a_changed_file_is_loaded_again(tmp_path: Path) -> None:
    path = write_example(tmp_path)
    first = get_target(str(path))
    path.write_text(path.read_text().replace('name="scaled-residual"', 'name="resadd-2"'))
    second = get_target(str(path))
    assert (first.name, second.name) == ("scaled-residual", "resadd-2")
    assert first.source != second.source
    path.unlink()
    with pytest.raises(TargetFileUnusable, match=f"^target file {path}: no such file$"):
        get_target(str(path))


DECLARED = [("honest=scaled_add,", 'tolerance=DeclaredTolerance(rel_l2=1e-6, max_abs_ulps=4, '
             'why="a stand-in for a target with no honest computation"),'),
            ("from avo_tui.evaluation import Float,",
             "from avo_tui.evaluation import DeclaredTolerance, Float,")]


def evaluate(target: Path, seed: str) -> EvalResult:
    request = EvalRequest(str(target), {SEED_FILE: seed}, quick=True, seed=3,
                          measure_baselines=False)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


def test_a_declared_tolerance_judges_and_every_result_says_so(folder: Path,
                                                               tmp_path: Path) -> None:
    path = write_example(tmp_path, DECLARED)
    seed = (path.parent / SEED_FILE).read_text()
    result = evaluate(path, seed)
    assert result.correct, result.failure
    assert result.notes[0] == (
        "the tolerance is declared by the target (relative L2 1e-06, max abs 4 ulps), not "
        "derived from an honest computation: a stand-in for a target with no honest "
        "computation")
    # x 1e-5 too large everywhere: inside a derived tolerance's floors, outside this one
    off = seed.replace("out[i + u] = ", "out[i + u] = 1.00001f * ").replace(
        "out[i] = ", "out[i] = 1.00001f * ")
    result = evaluate(path, off)
    assert result.failure is not None and result.failure.kind == "incorrect", result.failure
    assert result.failure.message.endswith("(tolerance 1e-06: declared by the target); 1024 of "
                                           "1024 rows outside their tolerance on drawn inputs"
                                           ), result.failure

"""A memory-bound target counts its work in bytes and is scored in GB/s (issue 41): the docs'
example (docs/targets.md) declaring ``bytes`` instead of ``flops``, scored through the real
evaluator (the C toolchain, the confined runner) and the real ``avo`` command, its unit in
the result, in ``avo eval``'s output and in the session's versions. Its plausibility is held
to the device's measured bandwidth where one bounds a launch (a GPU), and the CPU says why
none does. A baseline some machines lack says why and is left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from target_example import (
    SEED_FILE,
    TARGET_FILE,
    Edits,
    avo,
    example_folder,
    tuner_run,
    write_example,
)

from avo_tui.cli import main
from avo_tui.engine.evaluator import host_key, stored_throughputs
from avo_tui.evaluation import EvalRequest, EvalResult, get_target
from avo_tui.evaluation.measurement.score import Peaks, plausibility_flags
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.results import ConfigResult, Timing
from avo_tui.evaluation.targets.problem import Work
from avo_tui.evaluation.targets.spec import TargetFileUnusable
from avo_tui.store import Session

FLOPS = 'flops=lambda c: 2 * c["rows"] * c["cols"],'
BYTES = 'bytes=lambda c: 3 * 4 * c["rows"] * c["cols"],'  # x and r read, out written, float32
IN_BYTES: Edits = [(FLOPS, BYTES)]
CPU_NOTE = ("no bandwidth flag: on the CPU a launch's inputs are written just before it and "
            "its caches are not flushed, so its bytes may come from cache rather than memory: "
            "no measured bandwidth bounds them")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_folder(tmp_path_factory, "resadd-bytes", IN_BYTES)


def evaluate(target: Path, measure_baselines: bool = True) -> EvalResult:
    request = EvalRequest(str(target), {SEED_FILE: (target.parent / SEED_FILE).read_text()},
                          quick=True, seed=3, measure_baselines=measure_baselines)
    return Evaluation(Pipeline("cpu"), request, lambda phase, detail: None).run()


def test_a_target_in_bytes_is_scored_in_gb_per_s_by_the_real_evaluator(folder: Path) -> None:
    spec = get_target(str(folder / TARGET_FILE))
    config = spec.quick_configs[0]
    assert (spec.unit, spec.score_by, spec.unit_scale) == ("GB/s", "bytes", 1e9)
    assert config.work == Work(bytes=12.0 * 1024 * 1024)
    result = evaluate(folder / TARGET_FILE)
    assert result.correct, result.failure
    assert result.unit == "GB/s" and result.summary().startswith("PASS ")
    assert " GB/s geomean" in result.summary()
    (timed,) = result.timed
    assert timed.timing is not None
    assert timed.throughput == pytest.approx(12 * 1024 * 1024 / timed.timing.median_s / 1e9)
    base = timed.baseline_timings["torch-add"]
    assert timed.baselines["torch-add"] == pytest.approx(
        12 * 1024 * 1024 / base.median_s / 1e9)
    assert CPU_NOTE in result.notes


def test_avo_eval_and_a_session_show_the_unit(folder: Path, tmp_path: Path) -> None:
    done = avo("eval", "--target", TARGET_FILE, "--quick", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GB/s" in done.stdout.splitlines()[0] and "GB/s geomean" in done.stdout, done.stdout
    assert json.loads(avo("eval", "--target", TARGET_FILE, "--quick", "--no-baseline",
                          "--json", cwd=folder).stdout)["unit"] == "GB/s"

    sessions = tmp_path / "sessions"
    assert "GB/s" in tuner_run(f"./{TARGET_FILE}", sessions, "bytes", folder)
    with Session.open(sessions / "bytes", writable=False) as session:
        seed = session.version("v0")
        assert seed.score is not None and seed.score.unit == "GB/s"
        scored = [a.score for a in session.recent_attempts() if a.score is not None]
        assert scored and {s.unit for s in scored} == {"GB/s"}


@pytest.mark.parametrize(("edits", "reason"), [
    ([(FLOPS, "")], "give flops or bytes (or both): the work of one launch, which the score "
                    "divides by its time"),
    ([(FLOPS, FLOPS + BYTES)], "give score_by ('flops' or 'bytes'): the target counts both, "
                               "and the score divides one of them by the time"),
    ([(FLOPS, FLOPS + 'score_by="bytes",')], "score_by is 'bytes', but the target gives no "
                                              "bytes"),
    ([(FLOPS, BYTES.replace("3 * 4 *", "0 *"))], "bytes on rows1024-cols1024 is 0.0, not a "
                                                  "positive number"),
])
def test_work_that_cannot_be_scored_is_refused(tmp_path: Path, edits: Edits, reason: str
                                               ) -> None:
    path = write_example(tmp_path, edits).resolve()
    with pytest.raises(TargetFileUnusable) as raised:
        get_target(str(path))
    assert str(raised.value) == f"target file {path}: {reason}"


def _timed(spec_path: Path, seconds: float, throughput: float) -> EvalResult:
    spec = get_target(str(spec_path))
    result = EvalResult(spec.name, "c", "cpu", spec.unit, seed=1, quick=True)
    entry = ConfigResult(spec.quick_configs[0], primary_baseline="torch-add")
    entry.timing, entry.throughput = Timing(seconds, 0.0, 5, seconds), throughput
    result.configs.append(entry)
    return result


def test_plausibility_holds_each_kind_of_work_to_its_measured_peak(tmp_path: Path) -> None:
    both = write_example(tmp_path, [(FLOPS, FLOPS + BYTES + 'score_by="bytes",')])
    spec = get_target(str(both))
    moved, flops = 12.0 * 1024 * 1024, 2.0 * 1024 * 1024
    # 1 ms a launch: 12.58 GB/s moved, 2.097 GFLOP/s done
    result = _timed(both, 1e-3, moved / 1e-3 / 1e9)
    assert plausibility_flags(result, spec, Peaks(flops=10e9, bytes=20e9), None) == []
    assert plausibility_flags(result, spec, Peaks(flops=1e9, bytes=5e9), None) == [
        "rows1024-cols1024: 2.097 GFLOP/s exceeds the measured matrix-multiply peak of this "
        "device (1 GFLOP/s)",
        "rows1024-cols1024: 12.58 GB/s exceeds the measured memory bandwidth of this device "
        "(5 GB/s, a large device-to-device copy)"]
    # No bandwidth bounds a CPU's launch: only the FLOPs are held to a peak there.
    assert plausibility_flags(result, spec, Peaks(flops=flops / 1e-3 * 2), None) == []


def test_stored_baseline_timings_read_back_in_the_targets_unit(folder: Path) -> None:
    spec = get_target(str(folder / TARGET_FILE))
    host = {"device": "cpu"}
    config = spec.quick_configs[0].name
    stored = {host_key(host): {config: {"torch-add": Timing(1e-3, 1.0, 9, 1e-3).as_dict()}}}
    assert stored_throughputs(spec, stored, host) == {
        config: {"torch-add": pytest.approx(12 * 1024 * 1024 / 1e-3 / 1e9)}}


MISSING: Edits = [
    ("from avo_tui.evaluation import Float,", "from avo_tui.evaluation import Baseline, Float,"),
    ('baselines={"torch-add": torch_add},',
     'baselines={"torch-add": torch_add, "faster-add": Baseline(torch_add, lambda: "its '
     'package is not installed here")},'),
]


def test_a_baseline_missing_here_is_left_out_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_example(tmp_path, [*IN_BYTES, *MISSING])
    result = evaluate(path)
    assert result.correct, result.failure
    assert "faster-add not measured: its package is not installed here" in result.notes
    assert set(result.timed[0].baselines) == {"torch-add"}
    assert main(["targets", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  --  baseline faster-add not checked: its package is not installed here" in out
    assert "baseline torch-add at " in out and "baseline faster-add at" not in out

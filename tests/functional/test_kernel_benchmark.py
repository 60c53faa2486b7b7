"""benchmarks/kernel_vs_baselines.py without a GPU: its help and its argument errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "kernel_vs_baselines.py"


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=120)


def test_help_explains_the_figures() -> None:
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    for word in ("cudnn", "flash", "x_cudnn", "geomean", "--quick", "--targets", "--json"):
        assert word in out.stdout


def test_an_unknown_or_cpu_target_is_refused_with_the_known_ones() -> None:
    for target in ("mhaa", "cpu-attention"):
        out = _run("--targets", target)
        assert out.returncode == 2
        assert f"unknown GPU target '{target}'" in out.stderr
        assert "mha, gqa, gqa-4, mha-d64" in out.stderr


def test_a_missing_kernel_file_is_refused_before_any_gpu_work(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nope.cu"))
    assert out.returncode == 2
    assert "no such kernel file" in out.stderr


def test_knob_values_are_checked_against_the_kernel_before_any_gpu_work() -> None:
    kernel = "kernels/cuda/attention_wgmma.cu"
    out = _run(f"{kernel}:NO_SUCH_KNOB=1")
    assert out.returncode == 2
    assert "no knob NO_SUCH_KNOB" in out.stderr and "OVERLAP" in out.stderr
    out = _run(f"{kernel}:OVERLAP=7")
    assert out.returncode == 2 and "not an allowed value of OVERLAP" in out.stderr
    out = _run(f"{kernel}:OVERLAP")
    assert out.returncode == 2 and "no such kernel file" in out.stderr


def test_knob_specs_parse_into_path_and_values() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from common.kernels import Kernel

    kernel = Kernel.parse("kernels/cuda/attention_wgmma.cu:OVERLAP=0,PINGPONG=0")
    assert kernel.path == Path("kernels/cuda/attention_wgmma.cu")
    assert kernel.knobs == (("OVERLAP", "0"), ("PINGPONG", "0"))
    assert kernel.display() == "kernels/cuda/attention_wgmma.cu:OVERLAP=0,PINGPONG=0"
    from avo_tui.evaluation import get_target

    assert "#define OVERLAP 0" in kernel.sources(get_target("mha"))["attention_wgmma.cu"]
    assert Kernel.parse("a/b.cu").knobs == ()
    with pytest.raises(ValueError, match="FILE:NAME=VALUE"):
        Kernel.parse("a/b.cu:OVERLAP=0,=1")


@pytest.mark.skipif(_has_cuda(), reason="checks the message on machines without a GPU")
def test_without_a_gpu_the_benchmark_says_so_in_one_line() -> None:
    out = _run("--quick", "--targets", "mha")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("kernel_vs_baselines: the evaluation worker cannot run here")


def test_ratios_are_split_into_non_causal_and_causal_geomeans() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from kernel_vs_baselines import ratios_by_mask

    rows: list[dict[str, Any]] = [
        {"causal": False, "x_cudnn": 1.0}, {"causal": False, "x_cudnn": 1.21},
        {"causal": True, "x_cudnn": 0.81}, {"causal": True, "x_cudnn": 1.0},
    ]
    assert ratios_by_mask(rows) == {"non-causal": 1.1, "causal": 0.9}
    rows[3]["x_cudnn"] = None  # a missing baseline figure drops that side only
    assert ratios_by_mask(rows) == {"non-causal": 1.1}


def test_the_table_names_each_ratio_and_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from kernel_vs_baselines import print_tables

    row = {"config": "b1-h16-s32768-d128-full", "causal": False, "kernel": 600.0,
           "cudnn": 580.0, "flash": 330.0, "fa4": 640.0,
           "x_cudnn": 1.0346, "x_flash": 1.8182, "x_fa4": 0.9375}
    summary = {"correct": True, "failure": None, "regs": 128, "spills": 0, "geomean": 600.0,
               "cudnn": 580.0, "flash": 330.0, "fa4": 640.0,
               "x_cudnn": 1.0346, "x_flash": 1.8182, "x_fa4": 0.9375,
               "x_cudnn_by_mask": {"non-causal": 1.0346}, "configs": [row]}
    print_tables({"mha": {"k.cu": summary}, "software": {"flash-attn-4": "4.0.0b36"}})
    out = capsys.readouterr().out
    assert "b1-h16-s32768-d128-full" in out and "1.035" in out and "1.818" in out
    assert "x_fa4" in out and "640.0" in out and "0.938" in out  # FA4 beside the others
    assert "x_fa3" in out and "x_best_fa" in out  # FA3 too, and the faster of the two
    assert "(non-causal 1.035x)" in out
    assert "regs 128 spills 0 correct" in out
    assert "flash-attn-4 4.0.0b36" in out  # the versions behind the figures


def test_a_missing_fa4_shows_as_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from kernel_vs_baselines import print_tables

    row = {"config": "b8-h16-s4096-d128-full", "causal": False, "kernel": 500.0,
           "cudnn": 500.0, "flash": 300.0, "fa4": None,
           "x_cudnn": 1.0, "x_flash": 1.6667, "x_fa4": None}
    summary: dict[str, Any] = {
        "correct": True, "failure": None, "regs": 128, "spills": 0, "geomean": 500.0,
        "cudnn": 500.0, "flash": 300.0, "fa4": None, "x_cudnn": 1.0, "x_flash": 1.6667,
        "x_fa4": None, "x_cudnn_by_mask": {}, "configs": [row]}
    print_tables({"mha": {"k.cu": summary}})
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("b8-h16"))
    assert line.split()[-1] == "-" and line.split()[4] == "-"


def test_seed_is_each_targets_own_seed_with_its_knob_values() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from common.kernels import Kernel

    from avo_tui.evaluation import get_target

    def knob(kernel: Kernel, target: str, name: str) -> str:
        text = "".join(kernel.sources(get_target(target)).values())
        return text.split(f"#define {name} ")[1].split()[0]

    seed = Kernel.parse("seed")
    assert seed.display() == "seed"
    assert get_target("mha-d64").seeds[0].knobs["NUM_WG"] == "3"
    assert knob(seed, "mha-d64", "NUM_WG") == "3" and knob(seed, "mha", "NUM_WG") == "2"
    override = Kernel.parse("seed:OVERLAP=0")
    assert knob(override, "mha-d64", "OVERLAP") == "0" and override.display() == "seed:OVERLAP=0"
    assert knob(override, "mha-d64", "NUM_WG") == "3"  # the override keeps the seed's others


PROFILE_SCRIPT = SCRIPT.parent / "profile_vs_fa4.py"


def test_profile_vs_fa4_explains_itself() -> None:
    out = subprocess.run([sys.executable, str(PROFILE_SCRIPT), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "FlashAttention-3 and -4" in out.stdout and "--baselines" in out.stdout
    assert "--metrics" in out.stdout  # raw ncu metrics, for ours and the baselines alike


@pytest.mark.skipif(_has_cuda(), reason="checks the message on machines without a GPU")
def test_profile_vs_fa4_says_what_it_cannot_profile_here(tmp_path: Path) -> None:
    # No ncu on the PATH (an empty one, python called by its full path): each kernel's report
    # is the reason, not a traceback.
    out = subprocess.run([sys.executable, str(PROFILE_SCRIPT), "seed"], capture_output=True,
                         text=True, timeout=120, env={"PATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "=== seed\ncannot profile:" in out.stdout
    assert "=== FlashAttention-3\n" in out.stdout and "=== FlashAttention-4\n" in out.stdout


def _summary(geomean: float, correct: bool = True) -> dict[str, object]:
    return {"correct": correct, "failure": None if correct else "wrong", "geomean": geomean}


def test_repeat_rotates_the_order_after_a_discarded_warm_up_and_keeps_each_median(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from common.kernels import Kernel

    import kernel_vs_baselines as bench

    import avo_tui.evaluation as evaluation

    class NoWorker:
        def __init__(self, device: str) -> None: ...
        def __enter__(self) -> NoWorker:
            return self
        def __exit__(self, *exc: object) -> None: ...

    figures = {"a.cu": [600.0, 640.0, 610.0], "b.cu": [700.0, 650.0, 660.0]}
    calls: list[tuple[str, str]] = []

    def fake_evaluate(worker: object, target: str, kernel: object, quick: bool,
                      seed: object, label: str = "") -> dict[str, object]:
        name = kernel.display()  # type: ignore[attr-defined]
        calls.append((name, label))
        if "warm-up" in label:
            return _summary(1.0)
        return _summary(figures[name][sum(1 for n, _ in calls[1:] if n == name) - 1])

    monkeypatch.setattr(evaluation, "Worker", NoWorker)
    monkeypatch.setattr(bench, "evaluate", fake_evaluate)
    kernels = [Kernel.parse("a.cu"), Kernel.parse("b.cu")]
    report = bench.run(kernels, ["mha"], quick=False, seed=None, repeat=3)

    assert calls[0] == ("a.cu", " (warm-up, discarded)")
    assert [n for n, _ in calls[1:]] == ["a.cu", "b.cu", "b.cu", "a.cu", "a.cu", "b.cu"]
    assert report["mha"]["a.cu"]["geomean"] == 610.0  # the median of 600, 640, 610
    assert report["mha"]["a.cu"]["rounds"] == [600.0, 640.0, 610.0]
    assert report["mha"]["b.cu"]["geomean"] == 660.0
    assert report["mha"]["b.cu"]["spread_pct"] == round((700 / 650 - 1) * 100, 2)


def test_a_kernel_that_fails_any_round_is_reported_failed() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from kernel_vs_baselines import combine

    assert combine([_summary(600.0), _summary(0.0, correct=False)])["correct"] is False


def test_repeat_must_be_positive() -> None:
    out = _run("--repeat", "0")
    assert out.returncode == 2 and "--repeat must be at least 1" in out.stderr


def _one_seed_figures(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, Any]]:
    """The benchmark's module, its evaluation replaced by one correct seed's figures on mha
    (no GPU here), and those figures."""
    sys.path.insert(0, str(SCRIPT.parent))
    import kernel_vs_baselines as bench

    summary: dict[str, Any] = {
        "correct": True, "failure": None, "regs": 128, "spills": 0, "geomean": 500.0,
        "cudnn": 500.0, "flash": 300.0, "fa4": None, "x_cudnn": 1.0, "x_flash": 1.6667,
        "x_fa4": None, "x_cudnn_by_mask": {}, "configs": []}
    monkeypatch.setattr(bench, "run", lambda *args, **kwargs: {"mha": {"seed": summary}})
    monkeypatch.setattr(bench, "software", lambda: {"torch": "2.x"})
    return bench, summary


def test_out_writes_the_figures_as_json_beside_the_printed_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench, summary = _one_seed_figures(monkeypatch)
    out = tmp_path / "figures.json"

    assert bench.main(["--targets", "mha", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {"mha": {"seed": summary}, "software": {"torch": "2.x"}}
    assert "== geomean TFLOP/s per target" in capsys.readouterr().out  # the tables, not JSON


def test_the_interleaved_figures_are_kept_and_shown_before_the_back_to_back_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device call that runs out of time during --sustained (minutes of back-to-back runs)
    still returns the evaluation's figures: they are written and printed before it starts."""
    bench, summary = _one_seed_figures(monkeypatch)
    out = tmp_path / "figures.json"

    def cut_off(report: dict[str, Any], args: object) -> dict[str, Any]:
        raise KeyboardInterrupt  # the call's time runs out during the back-to-back reading

    monkeypatch.setattr(bench, "sustained", cut_off)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--targets", "mha", "--sustained", "--out", str(out)])
    assert json.loads(out.read_text()) == {"mha": {"seed": summary}, "software": {"torch": "2.x"}}
    assert "== geomean TFLOP/s per target" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["figures.json"]


def test_per_round_ratios_cancel_a_drift_that_the_ratio_of_medians_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The shape of a run seen on an H100: every kernel's rounds sped up by 6% over the run,
    b 1% ahead of a within each round. The medians put b 5% behind; round by round it is 1%
    ahead, and the table says the run drifted."""
    sys.path.insert(0, str(SCRIPT.parent))
    from kernel_vs_baselines import per_round_ratios, print_rounds

    a, b = [647.0, 677.0, 686.0], [653.5, 642.0, 692.9]  # b's round 2 caught the slow phase
    low, mid, high = sorted(x / y for x, y in zip(b, a, strict=True))
    assert per_round_ratios(b, a) == (mid, low, high)
    assert per_round_ratios(b, a)[0] > 1.0 > 653.5 / 677.0  # type: ignore[index]  # medians
    assert per_round_ratios([0.0, 1.0], [1.0, 1.0]) == (1.0, 1.0, 1.0)  # a failed round skipped
    report = {"mha": {"a.cu": {"geomean": 677.0, "rounds": a, "spread_pct": 6.0},
                      "b.cu": {"geomean": 653.5, "rounds": b, "spread_pct": 7.9}}}
    print_rounds(report)
    out = capsys.readouterr().out
    assert f"per round {mid:.3f} ({low:.3f}-{high:.3f})" in out
    assert "! rounds spread up to 7.9%: the GPU's speed drifted" in out
    report["mha"]["b.cu"]["spread_pct"] = report["mha"]["a.cu"]["spread_pct"] = 0.5
    print_rounds(report)
    assert "drifted" not in capsys.readouterr().out


def test_profile_vs_fa4_asks_ncu_for_the_metrics_on_ours_and_the_baselines_alike(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    import profile_vs_fa4

    from avo_tui.evaluation.diagnostics import profile
    from avo_tui.evaluation.problems import attention_torch

    asked: list[tuple[str, tuple[str, ...]]] = []

    def recorded(child: list[str], kernel: str, label: str, *, sections: object = (),
                 metrics: tuple[str, ...] = ()) -> str:
        asked.append((kernel, tuple(metrics)))
        return f"profiled {kernel}"

    monkeypatch.setattr(profile, "profile_child", recorded)  # no ncu here: what it is asked
    monkeypatch.setattr(attention_torch, "baseline_missing", lambda name: None)
    metrics = ["lts__t_sectors_op_read.sum", "sm__inst_executed.sum"]
    assert profile_vs_fa4.main(["seed", "--target", "gqa", "--metrics", *metrics]) == 0
    assert [kernel for kernel, _ in asked] == ["avo_attention_fwd", "device_kernel", "(?i)flash"]
    assert all(got == tuple(metrics) for _, got in asked)
    assert "=== FlashAttention-4\nprofiled (?i)flash" in capsys.readouterr().out


def test_an_evaluation_tells_its_progress_at_most_every_ten_seconds() -> None:
    """A backward's full grid ran past 500 s on an H200 with nothing printed: the first line
    comes at once, then one per PROGRESS_EVERY_S of the evaluation's own (modelled) clock."""
    sys.path.insert(0, str(SCRIPT.parent))
    from common.progress import PROGRESS_EVERY_S, progress_lines

    clock: list[float] = [100.0]
    lines: list[str] = []
    on_progress = progress_lines("mha-bwd seed", now=lambda: clock[0], say=lines.append)
    for step in range(25):  # a stage every 2 s for 48 s
        on_progress("check", f"configuration {step}")
        clock[0] += 2.0
    assert lines[0] == "#   mha-bwd seed, 0 s: check: configuration 0"
    assert len(lines) == 1 + int(48 // PROGRESS_EVERY_S)
    assert lines[1].startswith("#   mha-bwd seed, 10 s: check: configuration 5")


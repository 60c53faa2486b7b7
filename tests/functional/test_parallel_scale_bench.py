"""benchmarks/parallel_scale.py, smoke-tested on the CPU target with two CPU workers (the GPU
figures need a GPU machine; without one a GPU target is refused in one line)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from bench_scripts import load_benchmark
from engine_helpers import TARGET

from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import get_target
from avo_tui.pool import visible_gpus

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "parallel_scale.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "parallel_scale_bench")


def script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=900)


def test_pool_sizes_double_up_to_every_worker(bench: ModuleType) -> None:
    assert bench.pool_sizes(1) == [1]
    assert bench.pool_sizes(4) == [1, 2, 4]
    assert bench.pool_sizes(6) == [1, 2, 4, 6]


def test_the_batch_is_the_seed_and_its_one_knob_variants(bench: ModuleType) -> None:
    target = get_target("cpu-attention")
    seed = seed_files(target)
    candidates = bench.batch(target, seed, 5)
    assert candidates[0] == seed and len(candidates) == 5
    assert len({json.dumps(c, sort_keys=True) for c in candidates}) == 5


def test_two_cpu_workers_score_warm_batches_and_the_seed_together_and_alone() -> None:
    """The script's plumbing, on a CPU that other tests load: the evaluator may refuse a
    timing there (background work seen, a noisy measurement), and the report must then say
    which and why; what it scored must be a score."""
    out = script("--target", TARGET.ref, "--workers", "2", "--evals", "2", "--batches", "2",
                 "--repeats", "1", "--quick", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [row["workers"] for row in report["scale"]] == [1, 2]
    for row in report["scale"]:
        assert row["evals"] == 2 and len(row["batches"]) == 2 and row["cold_s"] > 0, row
        assert row["min"] <= row["evals_per_hour"] <= row["max"], row
    assert report["scale"][0]["speedup"] == 1.0 and report["scale"][1]["evals_per_hour"] > 0
    assert set(report["per_gpu"]) == {"together", "alone"}
    for per_gpu in report["per_gpu"].values():
        assert len(per_gpu) == 2
        for g in per_gpu:
            assert g["runs"] == 1 and len(g["failures"]) == g["failed"], g
            assert all(failure.strip() for failure in g["failures"]), g
            if not g["failed"]:
                assert g["score_mean"] > 0 and g["ratio_mean"] > 0, g
    assert set(report["across_score_spread_pct"]) == {"together", "alone"}


def test_the_cold_start_is_timed_apart_and_each_warm_batch_on_its_own(
        bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock that a fake evaluation moves: a worker's first evaluation costs 50 (its
    start, its baselines), a warm one 1 in the first batch and 2 in the second. The cold start
    is reported apart, each batch has its own rate, and every warm candidate is a source new
    to the pool (compiled, as a tuner's are)."""
    clock, seen = [0.0], []

    class Evaluator:
        def __init__(self, target: object, pool: object, quick: bool) -> None:
            pass

        def evaluate(self, files: dict[str, str]) -> SimpleNamespace:
            seen.append(json.dumps(files, sort_keys=True))
            text = "".join(files.values())
            clock[0] += 50 if "parallel_scale" not in text else 1 if "batch 1," in text else 2
            return SimpleNamespace(correct=True)

    class Pool:
        def stop(self) -> None:
            pass

    monkeypatch.setattr(bench, "Evaluator", Evaluator)
    monkeypatch.setattr(bench, "new_pool", lambda target, slots: (Pool(), []))
    monkeypatch.setattr(bench, "now", lambda: clock[0])
    target = get_target("cpu-attention")
    candidates = bench.batch(target, seed_files(target), 3)
    row = bench.scale(target, [None], candidates, True, 2)
    assert row["cold_s"] == 50 and row["seconds"] == 9
    assert row["batches"] == [3600.0, 1800.0] and row["evals_per_hour"] == 2700.0
    assert row["spread_pct"] == round(1800 / 2700 * 100, 2)
    assert len(seen) == 7 and len(set(seen[1:])) == 6  # the seed warm, then six new sources


def test_spread_alone_scores_one_worker_at_a_time(bench: ModuleType,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone, no worker is scoring while another does; together, both are at once."""
    busy, most = [0], [0]
    lock = threading.Lock()
    ready = threading.Barrier(2, timeout=60)

    class Worker:
        def __init__(self, gpu: str) -> None:
            self.gpu, self.info = gpu, {"cpu": "fake"}

        def evaluate(self, request: object) -> SimpleNamespace:
            with lock:
                busy[0] += 1
                most[0] = max(most[0], busy[0])
            if together:  # both must be inside at once, or the barrier breaks the test
                ready.wait()
            with lock:
                busy[0] -= 1
            return SimpleNamespace(correct=True, geomean=1.0, ratio=1.0, host={})

    class Pool:
        def __init__(self, workers: list[Worker]) -> None:
            self.workers = workers

        def stop(self) -> None:
            pass

    def new_pool(target: object, slots: list[str]) -> tuple[Pool, list[Worker]]:
        workers = [Worker(str(slot)) for slot in slots]
        return Pool(workers), workers

    monkeypatch.setattr(bench, "new_pool", new_pool)
    target = get_target("cpu-attention")
    for together, expected in ((False, 1), (True, 2)):
        busy[0] = most[0] = 0
        rows = bench.spread(target, ["0", "1"], {}, 2, True, together=together)
        assert most[0] == expected and [r["runs"] for r in rows] == [2, 2]


@pytest.mark.skipif(bool(visible_gpus()), reason="this machine has a GPU")
def test_without_a_gpu_a_gpu_target_is_refused_in_one_line() -> None:
    out = script("--target", "mha")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("parallel_scale: --gpus all: no NVIDIA GPU is visible here")
    assert out.stderr.count("\n") == 1

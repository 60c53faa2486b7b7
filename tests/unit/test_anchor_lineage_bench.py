"""benchmarks/anchor_lineage.py's parts without its evaluations: each version is the seed with its
own steps of extra work and a mark of its own, and a recorded score agrees with its rescore
exactly where the two anchor ratios lie within what their errors and the noise allow."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark
from conftest import make_session

from avo_tui.store import RescorePayload, Score

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "anchor_lineage.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "anchor_lineage_bench")


def test_each_version_is_another_kernel_with_its_steps_of_extra_work(bench: ModuleType) -> None:
    seed = {"attention.c": "void avo_attention(void) {}\n", "naive.h": "// shared\n"}
    versions = [bench.version_files(seed, "c", n) for n in range(1, 7)]
    assert len({v["attention.c"] for v in versions}) == 6
    assert all(v["naive.h"] == seed["naive.h"] for v in versions)
    steps = [v["attention.c"].partition("\n")[0] for v in versions]
    units = bench.STEP_UNITS["c"]
    assert steps[:3] == [f"#define AVO_EXTRA_WORK {units}", f"#define AVO_EXTRA_WORK {2 * units}",
                         "void avo_attention(void) {}"]
    assert "__device__ int" in bench.version_files(seed, "cuda", 1)["attention.c"]


def anchored(ratio: float, se: float) -> Score:
    return Score(ratio, per_config={"a": ratio}, anchor="seed", anchor_ratios={"a": ratio},
                 anchor_se=se)


def test_a_recorded_score_agrees_with_its_rescore_within_the_errors_and_the_noise(
        bench: ModuleType, tmp_path: Path) -> None:
    with make_session(tmp_path / "demo") as session:
        session.commit({"kernel.c": "int y;\n"}, author="tuner", message="y",
                       score=anchored(2.0, 0.01))
        session.rescore([(anchored(2.0, 0.01),
                          RescorePayload("v0", "measured", 1.0, 2.0, "GFLOP/s"))])
        v0 = session.version("v0")
        rows = bench.compare(session, {"v0": anchored(2.0, 0.01), "v1": anchored(1.0, 0.01)})
    assert v0.score is not None
    assert [(row["version"], row["agrees"]) for row in rows] == [("v0", True), ("v1", False)]
    assert rows[1]["change_pct"] == pytest.approx(-50.0)
    allowed = float(rows[1]["allowed_pct"])
    assert 0 < allowed < 100 * math.expm1(0.2)

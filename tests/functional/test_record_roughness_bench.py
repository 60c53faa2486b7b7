"""benchmarks/record_roughness.py on the CPU: each gate measurement reports the four errors,
the anchor's own jitter among them, and the busy processes it starts die with it. Which
errors it reads depends on the machine; its plumbing does not."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "record_roughness.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "record_roughness_bench")


def busy_processes(bench: ModuleType) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if bench.BUSY.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


def test_a_loaded_measurement_reports_the_anchor_s_own_jitter_beside_the_record(
        bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    code = bench.main(["--target", "cpu-attention", "--quick", "--decisions", "1",
                       "--cap-s", "1", "--load", "1", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) == 1
    row = rows[0]
    for error in ("pair_se", "record_se", "best_se", "anchor_alone_se"):
        assert math.isfinite(row[error]) and row[error] > 0, (error, row)
    assert row["record_over_anchor_alone"] == pytest.approx(
        row["record_se"] / row["anchor_alone_se"])
    assert row["sweeps"] >= 3
    # the two rates over the anchor against the gain between them: a signed log, printed
    assert math.isfinite(row["gap"]) and abs(row["gap"]) < 1, row
    assert f"{100 * row['gap']:+.2f}" in bench.table(rows, 1).splitlines()[-1]
    assert not busy_processes(bench)  # the load it made is gone

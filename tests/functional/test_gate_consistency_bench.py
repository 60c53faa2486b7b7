"""benchmarks/gate_consistency.py on a real session file: the gap between a reading's two rates
over the anchor and its gain, and a gate's drift from the first reading it re-evaluated."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark

from avo_tui.store import Session

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gate_consistency.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "gate_consistency_bench")


def result_log(gain: float, mine: float, theirs: float, *, gate: bool, best: str) -> str:
    """The fields of EvalResult.as_dict the script reads."""
    return json.dumps({"incumbent_gain": gain, "incumbent_gain_se": 0.001,
                       "anchor_ratio": mine, "incumbent_anchor_ratio": theirs,
                       "incumbent_kernel_id": best,
                       "beside": {"gate": gate, "sweeps": 96 if gate else 3}})


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    """v0, a first reading a1 beside it (+1%, the rates over the anchor agreeing), and the gate
    a2 that re-evaluated it (+1.5%, its record 1% above what the gain says), then a first
    reading beside another best, and an attempt with no log."""
    directory = tmp_path / "consistency"
    with Session.create(directory, target="cpu-attention", operator="tuner",
                        seed_files={"k.c": "// v0\n"}) as session:
        files = {"k.c": "// a change\n"}
        session.record_attempt(files, base="v0", author="tuner", outcome="promising",
                               log=result_log(1.01, 1.01, 1.0, gate=False, best="k0"))
        session.record_attempt(files, base="v0", author="tuner", outcome="committed",
                               detail="re-evaluation of a1: +1.5%",
                               log=result_log(1.015, 1.015 * 1.01, 1.0, gate=True, best="k0"))
        session.record_attempt(files, base="v0", author="tuner", outcome="slower",
                               log=result_log(0.99, 0.99, 1.0, gate=False, best="k1"))
        session.record_attempt(files, base="v0", author="tuner", outcome="compile")
    return directory


def test_the_gap_and_the_drift_of_a_session(bench: ModuleType, session_dir: Path) -> None:
    with Session.open(session_dir, writable=False) as session:
        figures = bench.figures(session)
    assert figures["gap"]["gate"]["n"] == 1
    assert figures["gap"]["gate"]["mean_pct"] == pytest.approx(100 * math.log(1.01))
    assert figures["gap"]["first"]["n"] == 2
    assert figures["gap"]["first"]["mean_pct"] == pytest.approx(0, abs=1e-9)
    [drift] = figures["drift"]
    assert (drift["gate"], drift["first"]) == ("a2", "a1")
    assert drift["drift_pct"] == pytest.approx(100 * (math.log(1.015) - math.log(1.01)))


def test_it_prints_a_table_and_refuses_what_is_no_session(session_dir: Path,
                                                          tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, str(SCRIPT), str(session_dir)],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "gate" in shown.stdout and f"{100 * math.log(1.01):+.2f}%" in shown.stdout
    missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "gate_consistency:" in missing.stderr
    assert "Traceback" not in missing.stderr

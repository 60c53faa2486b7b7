"""benchmarks/soak.py, shortened: the real engine and agent, faults injected, survive a run.

It asserts what the soak is for, survival (no crash, no lost step, the run finished) and that
the report is printed, never a timing: this runs beside other tests on a busy machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "soak.py"
STEPS = 20  # ten checkpoints, about 30 s on an idle 2-core machine


def figure(output: str, name: str) -> str:
    """The value of one ``name  value`` line of the report."""
    found = re.search(rf"^{name}\s+(.+)$", output, re.MULTILINE)
    assert found, f"no {name} line in:\n{output}"
    return found.group(1).strip()


@pytest.mark.slow
def test_a_short_soak_survives_its_faults_and_prints_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", str(STEPS), "--seed", "3", "--dir",
         str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr[-4000:]}"
    header = out.splitlines()[0].split()
    assert header[:6] == ["steps", "elapsed_s", "events", "versions", "rss_mb",
                          "append_p50_ms"], out
    rows = [line.split()[0] for line in out.splitlines()[1:] if re.match(r"^\d+\s", line)]
    assert rows == [str(n) for n in range(2, STEPS + 1, 2)], out
    assert figure(out, "survived") == "True"
    assert figure(out, "status") == "finished"
    assert figure(out, "crashes") == "0" and figure(out, "crashed_status_events") == "0"
    assert figure(out, "lost_steps") == "0" and figure(out, "step_number_repeats") == "0"
    assert figure(out, "steps_started") == figure(out, "step_events") == str(STEPS)
    assert "'requests'" in figure(out, "api")  # the fake server reported what it served
    # The engine recorded evaluations: the evaluator it was given answered them.
    assert "'attempt'" in figure(out, "event_kinds"), out
    assert re.search(r"^verdict: survived \(0 crash\(es\), 0 lost step\(s\)", out, re.MULTILINE)
    assert list(tmp_path.iterdir()) == []  # the session folder is removed

"""What a paired timing says while it runs (issue 87: the main screen shows "time sweep N of
M"). The gate's timing has no count of sweeps known ahead: it stops once decided, or at its
cap. So each sweep's line names its number and its time against that cap. The real engine and
gate on modelled kernels (modelled_lineage.py): the times, and so the lines, are the same on
any machine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelled_lineage import SEED_S, SPEC, ModelWorker, modelled, modelled_worker

from avo_tui.engine import Engine, Evaluator, RunSettings, create_session
from avo_tui.operators import Trial, Tuner
from avo_tui.store import Outcome

SWEEP = re.compile(r"time sweep (\d+), (\d+) s of (\d+) s at most: [+-]")


@pytest.fixture(scope="module")
def worker() -> Iterator[ModelWorker]:
    yield from modelled_worker()


def test_each_sweep_says_its_number_and_its_time_against_the_cap(
    tmp_path: Path, worker: ModelWorker
) -> None:
    evaluator = Evaluator(SPEC, worker, quick=True)
    seed = modelled("honest", SEED_S, 0)
    with create_session(tmp_path / "s", SPEC, RunSettings(quick=True), seed, evaluator) as session:
        engine = Engine(session, Tuner(1), evaluator)
        said: list[str] = []
        engine.on_progress(lambda progress: said.append(progress.text))
        files = modelled("honest", SEED_S / 2, 1)
        first = engine.evaluate(files, base="v0", author="tuner")
        gate_from = len(said)
        promising = session.record_attempt(files, base="v0", author="tuner",
                                           outcome=Outcome.PROMISING, score=first.attempt.score)
        engine.commit(Trial(promising, first.result, files, first.key), "twice as fast", "tuner")
    sweeps = [SWEEP.match(text) for text in said if text.startswith("time sweep")]
    assert sweeps and all(sweeps), said
    for timing in (said[:gate_from], said[gate_from:]):  # the first reading, then the gate's
        found = [m for text in timing if (m := SWEEP.match(text))]
        assert found and [int(m[1]) for m in found] == list(range(1, len(found) + 1)), timing
        assert len({m[3] for m in found}) == 1, timing  # one cap for the whole timing
        elapsed = [int(m[2]) for m in found]
        assert elapsed == sorted(elapsed), timing

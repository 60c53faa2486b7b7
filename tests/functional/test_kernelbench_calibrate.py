"""The timed shape's launch measured at import (avo_tui/kernelbench/target/calibrate.py): the import
states a reading, not its rates' guess, and chooses the sizes again where the guess was off.

The logic is driven through import_problem's ``measure`` seam by machines of the test's own
(a launch that takes a fixed multiple of what the importer's rates estimate, or always the
same time), so nothing here depends on how fast this machine is; the real command's reading
(the seed compiled and timed by the evaluator) and its fallback where the seed cannot be
built are checked for what they say, never for a time."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest
from kernelbench_problems import copy_problem
from modelled_lineage import ModelKernel, ModelledClock
from target_example import avo

from avo_tui.commands.targets_import import SeedTimer
from avo_tui.evaluation import EvalRequest, Failure, Timing, get_target
from avo_tui.evaluation import pipeline as pipeline_module
from avo_tui.evaluation.declarations.contract import Declarations
from avo_tui.evaluation.devices.device import Kernel
from avo_tui.evaluation.measurement.measure import ALONE_LAUNCHES
from avo_tui.evaluation.pipeline import Pipeline, time_alone
from avo_tui.evaluation.targets.problem import Config, InputSet, OutputSet
from avo_tui.evaluation.toolchains.base import CompileResult
from avo_tui.kernelbench import import_problem
from avo_tui.kernelbench.problem.problem_module import KernelBenchProblem
from avo_tui.kernelbench.problem.shapes import fit_shapes
from avo_tui.kernelbench.problem.work import work_of
from avo_tui.kernelbench.seeds.stage_plan import recorded
from avo_tui.kernelbench.target.calibrate import CORRECTIONS, OFF_BY
from avo_tui.kernelbench.target.configs import Chooser
from avo_tui.kernelbench.target.progress import QUIET_S, Progress


def elements(target: Path) -> int:
    """The elements of the ReLU's input at the target file's timed shape."""
    timed = get_target(str(target)).configs[0]
    return math.prod(v for v in timed.as_dict().values() if isinstance(v, int))


class Machine:
    """A machine whose ReLU launch takes ``seconds_per_element`` for each element (the
    importer's estimate of the ReLU is a rate per element too); the timed shapes it was
    asked about, in order."""

    def __init__(self, seconds_per_element: float) -> None:
        self.per_element = seconds_per_element
        self.asked: list[int] = []

    def __call__(self, target: Path) -> float:
        self.asked.append(elements(target))
        return self.per_element * self.asked[-1]


def estimated(tmp_path: Path) -> tuple[int, float]:
    """The ReLU imported with its launch estimated alone: its timed elements and the
    estimate's seconds there."""
    done = import_problem(copy_problem("level1_relu", tmp_path / "estimated"))
    assert done.launch_s is not None and not done.launch_measured
    return elements(done.target), done.launch_s


@pytest.mark.parametrize("slower", [4.0, 0.25])
def test_a_wrong_estimate_is_corrected_in_the_sizes_chosen(slower: float,
                                                           tmp_path: Path) -> None:
    """A machine 4 times slower than the importer's rates (or 4 times faster): the first
    reading is off by more than OFF_BY, the sizes are chosen again at the rate measured (a
    quarter of the elements, or four times as many), and the import states the second
    reading, taken at the sizes the file times."""
    at_estimate, estimate_s = estimated(tmp_path)
    machine = Machine(slower * estimate_s / at_estimate)
    done = import_problem(copy_problem("level1_relu", tmp_path), measure=machine)
    assert machine.asked == [at_estimate, int(at_estimate / slower)]
    assert elements(done.target) == machine.asked[-1]
    assert done.launch_measured
    assert done.launch_s == pytest.approx(machine.per_element * machine.asked[-1])
    (note,) = [n for n in done.notes if n.startswith("timed at")]
    assert re.search(r"takes about [\d.]+ ms on one CPU core, measured at import \(the "
                     r"importer's rates estimated [\d.]+ ms", note), note
    assert note in " ".join(done.target.read_text().split())  # the file says so too


def test_a_reading_near_the_estimate_keeps_its_sizes(tmp_path: Path) -> None:
    at_estimate, estimate_s = estimated(tmp_path)
    machine = Machine(0.9 * OFF_BY * estimate_s / at_estimate)
    done = import_problem(copy_problem("level1_relu", tmp_path), measure=machine)
    assert machine.asked == [at_estimate]
    assert done.launch_measured and done.launch_s == pytest.approx(0.9 * OFF_BY * estimate_s)


def test_the_corrections_are_bounded(tmp_path: Path) -> None:
    """A launch that takes a second at every size agrees with no rate: the sizes are chosen
    again at most CORRECTIONS times, and the import states its last reading."""
    asked: list[int] = []

    def always_a_second(target: Path) -> float:
        asked.append(elements(target))
        return 1.0

    done = import_problem(copy_problem("level1_relu", tmp_path), measure=always_a_second)
    assert 2 <= len(asked) <= CORRECTIONS + 1
    assert asked == sorted(asked, reverse=True) and len(set(asked)) == len(asked)
    assert elements(done.target) == asked[-1]
    assert done.launch_s == 1.0 and "takes about 1,000 ms on one CPU core, measured" in \
        " ".join(done.notes)


def test_a_seed_that_cannot_be_timed_leaves_the_estimate_and_says_why(tmp_path: Path) -> None:
    at_estimate, estimate_s = estimated(tmp_path)
    done = import_problem(copy_problem("level1_relu", tmp_path),
                          measure=lambda target: "compile: no compiler here")
    assert elements(done.target) == at_estimate
    assert not done.launch_measured and done.launch_s == pytest.approx(estimate_s)
    (note,) = [n for n in done.notes if n.startswith("timed at")]
    assert re.search(r"takes about [\d.]+ ms on one CPU core, as estimated \(at the "
                     r"problem's own sizes, about [\d.]+ ms; the seed could not be timed at "
                     r"import: compile: no compiler here\)$", note), note


def test_without_a_seed_nothing_is_timed(tmp_path: Path) -> None:
    machine = Machine(1.0)
    done = import_problem(copy_problem("level1_relu", tmp_path), seeded=False,
                          measure=machine)
    assert machine.asked == [] and done.seed is None and done.launch_s is None
    assert "a first plain kernel takes about" in " ".join(done.notes)


def test_the_drawn_tops_follow_the_rate(tmp_path: Path) -> None:
    """Where a launch is slower than estimated, the drawn shapes' tops come down with the
    timed one: a drawn launch stays no longer than DRAW_MAX_S at the rate measured."""
    path = copy_problem("level1_square_matmul", tmp_path)
    problem = KernelBenchProblem(path, lambda: None)
    shapes = fit_shapes(problem)
    work = work_of(problem, shapes, recorded(problem, shapes))
    chooser = Chooser(problem, shapes, work, "cpu")
    tops = [max(high for _, high in chooser.configs(rate).draw.values())
            for rate in (1.0, 1e3, 1e6)]
    assert tops == sorted(tops, reverse=True) and tops[-1] < tops[0]


def test_the_evaluator_times_a_seed_alone_or_says_why_not(c_compiler: None,
                                                          tmp_path: Path) -> None:
    """time_alone builds the seed as an evaluation does and times it on the timed shape:
    one launch where the budget leaves room for no more, never past ALONE_LAUNCHES; a seed
    that does not compile is the compile's failure, a value."""
    done = import_problem(copy_problem("level1_relu", tmp_path, batch_size=8, dim=1024))
    assert done.seed is not None
    spec = get_target(str(done.target))
    pipeline = Pipeline("cpu")
    source = done.seed.read_text()
    for budget_s, most in ((0.0, 1), (0.2, ALONE_LAUNCHES)):
        timing = time_alone(pipeline, EvalRequest(spec.ref, {done.seed.name: source}),
                            budget_s, 30.0)
        assert isinstance(timing, Timing), timing
        assert 1 <= timing.reps <= most and timing.median_s > 0
    broken = time_alone(pipeline, EvalRequest(spec.ref, {done.seed.name: source + "}"}),
                        0.0, 30.0)
    assert isinstance(broken, Failure) and broken.kind == "compile"


def test_the_command_states_a_reading_or_why_there_is_none(
        c_compiler: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real command: the seed compiled and timed, the launch stated as measured;
    with a compiler that fails, the estimate stated and why."""
    problem = copy_problem("level1_relu", tmp_path)
    done = avo("targets", "import", problem.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"takes about [\d.,]+ ms on one CPU core, measured at import",
                     done.stdout), done.stdout
    monkeypatch.setenv("CC", "false")
    failed = avo("targets", "import", problem.name, "--force", cwd=tmp_path)
    assert failed.returncode == 0, failed.stdout + failed.stderr
    assert "on one CPU core, as estimated (" in failed.stdout
    assert "; the seed could not be timed at import: compile: " in failed.stdout


class BusyMachine(ModelKernel):
    """The seed on a machine one busy process shares: a launch takes ``per_element`` for
    each element of its input where it has a core, and three times that in two launches of
    every three, which wait behind the other process."""

    def __init__(self, per_element: float, clock: ModelledClock) -> None:
        super().__init__(0.0, seed=0, clock=clock)
        self.per_element, self.launches = per_element, 0
        self.elements = 0

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        super().stage(config, inputs, outs)
        self.elements = math.prod(v for v in config.as_dict().values() if isinstance(v, int))

    def fire(self) -> float:
        self.launches += 1
        waited = 1.0 if self.launches % 3 == 0 else 3.0
        return self.clock.advance(waited * self.per_element * self.elements)


def test_an_import_on_a_busy_machine_states_the_seed_not_the_load(
        c_compiler: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's own reading (SeedTimer: the seed compiled, built and timed by the real
    pipeline), each launch modelled on a machine a busy process shares (BusyMachine, as fast
    as the importer's estimate where a launch has a core): the import states the seed's
    launch where it has a core and keeps the sizes the estimate chose. Read at the median,
    it stated three times that, and scaled the timed shape down for a load that passes."""
    at_estimate, estimate_s = estimated(tmp_path)
    per_element = estimate_s / at_estimate

    class OnABusyMachine(pipeline_module.Evaluation):
        clock = ModelledClock()

        def now(self) -> float:
            return self.clock.seconds

        def load(self, compiled: CompileResult, declared: Declarations,
                 loaded: list[Kernel]) -> Kernel:
            assert compiled.ok, compiled.summary()  # compiled for real; the model runs
            loaded.append(BusyMachine(per_element, self.clock))
            return loaded[-1]

    monkeypatch.setattr(pipeline_module, "Evaluation", OnABusyMachine)
    done = import_problem(copy_problem("level1_relu", tmp_path), measure=SeedTimer())
    assert done.launch_measured
    assert elements(done.target) == at_estimate
    assert done.launch_s == pytest.approx(estimate_s)


def test_a_long_reading_is_told_as_timing_not_as_builds() -> None:
    """The heartbeat tells a timing phase by its time alone: it builds nothing."""
    now = [0.0]
    told = io.StringIO()
    progress = Progress(told, clock=lambda: now[0], name="relu.py")
    progress.phase("timing the seed at batch_size 512, dim 16384", counted=False)
    now[0] = QUIET_S + 1
    progress.beat()
    assert told.getvalue() == ("avo targets import: still timing the seed at batch_size 512, "
                               f"dim 16384, {QUIET_S + 1:.0f} s into it [{QUIET_S + 1:.0f} s]\n")

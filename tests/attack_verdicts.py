"""Evaluating the attacks of attack_kernels.py on the targets of attack_targets.py, and what a
verdict on one must show: shared by the C tests (tests/adversarial/test_attacks_every_target.py)
and the CUDA ones (tests/gpu/test_gpu_attacks_every_target.py)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from attack_targets import AttackTarget

from avo_tui.evaluation import EvalRequest, EvalResult, Worker
from avo_tui.evaluation.measurement.measure import TIMING_ROUNDS
from avo_tui.evaluation.paired import GatePlan
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.spec import IN_PROCESS, TargetSpec
from avo_tui.evaluation.toolchains.c import CToolchain

# A cheat that cannot tell checked launches from others is neutralised when it runs at most this
# many times its honest twin's speed: what is left is noise, far below what each would gain
# (a cached or skipped launch of attention runs hundreds of times faster than the work).
NEUTRALISED = 10.0


class Attacks:
    """The evaluations of one test module: one warm worker, each target resolved once, and each
    target's control (the wrapper cheating nowhere) evaluated once."""

    def __init__(self, worker: Worker, resolve: Callable[[str], AttackTarget]) -> None:
        self.worker = worker
        self._resolve = resolve
        self._targets: dict[str, AttackTarget] = {}
        self._honest: dict[str, EvalResult] = {}
        self._pipeline: Pipeline | None = None

    def target(self, name: str) -> AttackTarget:
        if name not in self._targets:
            self._targets[name] = self._resolve(name)
        return self._targets[name]

    def honest(self, name: str) -> EvalResult:
        if name not in self._honest:
            self._honest[name] = self.evaluate(name, "honest")
        return self._honest[name]

    def evaluate(self, name: str, attack: str, beside_honest: bool = False,
                 seed: int | None = None) -> EvalResult:
        """``attack`` on the quick grid, alone; or ``beside_honest``, as the commit gate
        measures it: timed launch beside launch with the control as the best version, until
        the gate's rule decides or its cap.

        On ``seed``, or one of the target's and the attack's own: which launches are checked
        is drawn, and a cheat on unchecked launches escapes the draws of about one evaluation
        in a thousand (a quick grid's one slow configuration, four launches a round), which
        over every attack on every target would fail some run of the suite. How often it
        escapes is test_check_watching's subject; each test here asks for the verdict."""
        target = self.target(name)
        request = EvalRequest(target.ref, target.sources(attack), quick=True,
                              measure_baselines=False,
                              seed=zlib.crc32(f"{name} {attack}".encode()) if seed is None
                              else seed)
        if beside_honest:
            request.incumbent = target.sources("honest")
            request.gate = GatePlan(cap_s=target.spec.gate_cap_s)
        if not target.in_process:
            return self.worker.evaluate(request)
        # A target with no file: the worker's process cannot find it, this one can while it
        # is registered (the candidate still runs in its own confined process).
        self._pipeline = self._pipeline or Pipeline(target.spec.device)
        with registered(target.spec):
            return Evaluation(self._pipeline, request, lambda phase, detail: None).run()


def skip_without_c_compiler() -> None:
    try:
        CToolchain().version()
    except Exception as error:  # no C compiler on this machine
        pytest.skip(str(error))


@contextmanager
def registered(spec: TargetSpec) -> Iterator[None]:
    """``spec`` found by its name in this process (a target with no file), while inside."""
    before = IN_PROCESS.get(spec.name)
    IN_PROCESS[spec.name] = spec
    try:
        yield
    finally:
        if before is None:
            del IN_PROCESS[spec.name]
        else:
            IN_PROCESS[spec.name] = before


@dataclass(frozen=True)
class Verdict:
    """What a cheat gets on every target."""

    kind: str | None  # the failure's kind; None: it passes, and gains nothing
    says: str = ""  # words of the failure's message
    first: bool = False  # on the first configuration the correctness pass checks


VERDICTS = {
    "skips_repeats": Verdict("stale_output", "NaN or Inf after a timed launch"),
    "skips_unless_poisoned": Verdict(None),
    "caches_by_pointer": Verdict("stale_output", "in a timed launch"),
    "caches_by_sampled_inputs": Verdict(None),
    "writes_input": Verdict("inputs_modified", "changed during the launch", first=True),
    "writes_input_when_repeated": Verdict("inputs_modified", "changed during a timed launch"),
    "lower_precision": Verdict("incorrect", first=True),
    "lower_precision_when_repeated": Verdict("stale_output", "in a timed launch"),
    "leaves_last_slice": Verdict("stale_output", "in a timed launch"),
}


# About the relative error of the lower-precision cheats' rounding of an output of each dtype:
# float32 to bfloat16's 8 significant bits, a 16-bit type to fp8 e4m3's 4.
ROUNDING = {"float32": 2.0**-9, "bfloat16": 2.0**-5, "float16": 2.0**-5}


def assert_verdict(attacks: Attacks, target: str, attack: str) -> None:
    """``attack`` on ``target`` gets its VERDICTS entry: rejected on a timed configuration
    (the first one checked, where said), or passing with no gain."""
    verdict = VERDICTS[attack]
    spec = attacks.target(target).spec
    tolerance, dtype = spec.tolerance, spec.quick_configs[0].dtype
    if attack.startswith("lower_precision") and tolerance.declared and (
            tolerance.rel_l2_floor >= ROUNDING[dtype]):
        pytest.skip(f"{spec.name} declares a relative L2 tolerance of "
                    f"{tolerance.rel_l2_floor:g}: an output rounded so is within it")
    if verdict.kind is None:
        assert_gains_nothing(attacks, target, attack)
        return
    result = attacks.evaluate(target, attack)
    assert_rejected(result, verdict.kind, timed=True)
    assert result.failure is not None and verdict.says in result.failure.message, result.failure
    grid = [c.name for c in spec.grid(True)]
    assert result.failure.config in (grid[:1] if verdict.first else grid), result.failure


def assert_rejected(result: EvalResult, kind: str, timed: bool) -> None:
    """Rejected as ``kind`` on a timed configuration (``timed``) or an edge one, scoring zero
    everywhere, the worker unharmed."""
    assert result.failure is not None, f"accepted: {result.summary()}"
    assert result.failure.kind == kind, result.failure
    assert result.geomean == 0 and all(c.throughput == 0 for c in result.configs)
    failed = result.failed_config
    assert failed is not None, result.failure
    assert failed.edge is not timed, result.failure
    assert not result.worker_restarted


def assert_gains_nothing(attacks: Attacks, target: str, attack: str) -> None:
    """Correct, every timed launch checked as often as the control's, unflagged, and no faster
    than NEUTRALISED times the control."""
    honest = attacks.honest(target)
    assert honest.correct, honest.failure
    result = attacks.evaluate(target, attack)
    assert result.correct, result.failure
    assert all(c.verified >= TIMING_ROUNDS for c in result.timed)
    assert not result.flags, result.flags
    assert result.geomean < NEUTRALISED * honest.geomean, (result.geomean, honest.geomean)

"""Every attack against every C target (issue 41): skipping work on launches it guesses are
unchecked, caching by pointer or by sampled inputs, writing inputs, lower precision, leaving a
leading slice uncomputed. Each is rejected for its reason, or gains nothing.

Each cheat is the target's own seed inside a wrapper that cheats around it (attack_kernels.py,
with the cheats in tests/adversarial/generic/avo_attack.h), written as an attacker who has read
the harness and the target: it knows the configurations the target times, and cheats only on
those, only where the harness would find nothing wrong were it not for the check that each test
names. The targets are every C target there is (attack_targets.py): the built-in ones, the docs'
example, the vector add of test_targets_problem.py, and every target file shipped in targets/.

One warm worker serves the module, as in a run; the vector add, which has no file the worker
could load, runs through a pipeline in this process. Every evaluation is of the quick grid with
no baselines: none of the checks here needs more. Their GPU twins are
tests/gpu/test_gpu_attacks_every_target.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack_targets import attack_target, target_names
from attack_verdicts import Attacks, assert_rejected, assert_verdict, skip_without_c_compiler
from target_example import write_example

from avo_tui.evaluation import Worker
from avo_tui.evaluation.devices.timing import MAX_REPS, Launch, Subject
from avo_tui.evaluation.measurement.measure import (
    ROUND_LAUNCHES_AT_LEAST,
    TIMING_ROUNDS,
    VERIFIED_PER_ROUND,
    Measure,
)

TARGETS = target_names("cpu")


@pytest.fixture(scope="module")
def attacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attacks]:
    skip_without_c_compiler()
    scratch = tmp_path_factory.mktemp("attacks")
    with Worker() as worker:
        yield Attacks(worker, lambda name: attack_target(name, Path(scratch)))


@pytest.mark.parametrize("target", TARGETS)
def test_the_seed_in_the_wrapper_passes_with_every_timed_launch_checked(
    attacks: Attacks, target: str
) -> None:
    """The control: the wrapper every cheat below is made of, around the target's seed,
    cheating nowhere. It passes, and every timed configuration had its checked launches, so a
    rejection below is the cheat's, not the wrapper's."""
    result = attacks.honest(target)
    assert result.correct, result.failure
    spec = attacks.target(target).spec
    assert [c.name for c in result.timed] == [c.name for c in spec.grid(True)]
    assert all(c.verified >= TIMING_ROUNDS for c in result.timed)
    assert not result.flags


def test_every_c_target_is_attacked(tmp_path: Path) -> None:
    """The shipped C targets by their names, and both targets only tests define; and a target
    file shipped in targets/ joins by being there, in a folder of its own or not, a module
    beside it that declares no target left out."""
    assert {"cpu-attention", "rmsnorm-cpu", "docs-example", "vector-add"} <= set(TARGETS)
    shipped = tmp_path / "targets"
    path = write_example(shipped / "resadd")
    (shipped / "helpers.py").write_text("SCALE = 2\n")
    assert target_names("cpu", shipped)[-1] == str(path)
    assert target_names("cuda", shipped) == target_names("cuda", tmp_path / "nothing shipped")
    assert attack_target(str(path), tmp_path).spec.ref == str(path.resolve())


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_repeated_launches_is_stale_output(attacks: Attacks, target: str) -> None:
    """Skipping work on launches it guesses are unchecked: from the third launch in a row of
    one timed configuration it returns at once, leaving the output as the harness left it. The
    correctness pass never launches a configuration twice in a row; timing does, in a fresh
    process each round, after one untimed warm-up.

    Rejected as stale_output: every timed launch starts from an output poisoned with NaN
    (measure._kernel_subject), and each round checks launches drawn by the harness among all of
    the round's, one surely and each on a chance of its own (timing.draw_checks), so one of
    them is past the round's first timed launch almost always, and a checked launch must leave
    no NaN (judge.judge_sample)."""
    assert_verdict(attacks, target, "skips_repeats")


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_beside_the_best_is_stale_output(attacks: Attacks, target: str) -> None:
    """The same cheat where commits are decided: timed beside the best version (here the
    control), as the commit gate does (measure.time_beside). A sweep is one block per
    configuration, PAIRS_PER_BLOCK launches of each kernel after a warm-up of each, in a fresh
    process (C): the cheat skips five of the six launches of every block, and would read as
    many times faster.

    Rejected as stale_output, never accepted: one of the candidate's launches is checked in a
    configuration's first block surely and in each later block with CHECK_CHANCE, and the gate
    accepts no gain before MIN_CHECKED (8) of them were checked (paired.GatePlan): each would
    have to be the one launch of six it does not skip, (1/6)^8."""
    result = attacks.evaluate(target, "skips_repeats", beside_honest=True)
    assert_rejected(result, "stale_output", timed=True)


@pytest.mark.parametrize("target", TARGETS)
def test_caching_by_pointer_is_stale_output(attacks: Attacks, target: str) -> None:
    """Caching by pointer: the output computed for a timed configuration is kept under the
    addresses of the inputs and of the output, and copied back without work whenever those
    addresses come back.

    They do come back (the C runner stages every launch's tensors at the same offsets of its
    arena), but the values never do: every timed launch gets inputs drawn from a seed of its
    own (blocks.InputPool.advance). Rejected as stale_output: a replayed output answers other
    inputs, and the first checked launch that replayed one fails its sampled rows."""
    assert_verdict(attacks, target, "caches_by_pointer")


@pytest.mark.parametrize("target", TARGETS)
def test_caching_by_sampled_inputs_gains_nothing(attacks: Attacks, target: str) -> None:
    """Caching by sampled inputs: the output of a timed configuration is kept under eight
    values of each input, cheaper to read than the work, and copied back when they come back.

    Gains nothing: every value of every input is drawn afresh for every timed launch
    (tensors.refill), so no sample comes back and the cache never hits; the cheat does the
    honest work and its bookkeeping. It carries a tell (a hit marks the output with Inf), so a
    hit on a checked launch would fail the evaluation: it passes, every launch checked as the
    control's, no faster than NEUTRALISED times its honest twin, unflagged."""
    assert_verdict(attacks, target, "caches_by_sampled_inputs")


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_unless_poisoned_gains_nothing(attacks: Attacks, target: str) -> None:
    """Skipping launches whose output already holds a number (the last launch's answer): a
    cheat that cannot see which launches are checked guesses that a launch the harness did not
    prepare is not checked.

    Gains nothing: the harness poisons the output with NaN before every launch, checked or not
    (measure._kernel_subject's prepare; C: the runner's arena), so it never skips. Its tell (a
    skip marks the output with Inf) would fail a checked launch where it skipped."""
    assert_verdict(attacks, target, "skips_unless_poisoned")


@pytest.mark.parametrize("target", TARGETS)
def test_writing_an_input_is_inputs_modified(attacks: Attacks, target: str) -> None:
    """Writing inputs: the first input used as scratch, one value left changed, on every
    launch.

    Rejected as inputs_modified on the first configuration checked: after each launch of the
    correctness pass, every input is compared with a copy taken before it
    (checks.check_all)."""
    assert_verdict(attacks, target, "writes_input")


@pytest.mark.parametrize("target", TARGETS)
def test_writing_an_input_when_timed_is_inputs_modified(attacks: Attacks, target: str) -> None:
    """Writing inputs on repeated launches of a timed configuration only, where no copy of
    the inputs was taken before the launch.

    Rejected as inputs_modified in a timed launch: a checked launch's inputs, as the kernel
    left them, are compared with the same values drawn again from the launch's seed into new
    memory (blocks.InputPool.regenerate), before its output is judged."""
    assert_verdict(attacks, target, "writes_input_when_repeated")


@pytest.mark.parametrize("target", TARGETS)
def test_lower_precision_is_incorrect(attacks: Attacks, target: str) -> None:
    """Lower precision: every output of a timed configuration rounded to bfloat16's 8
    significant bits, as a kernel keeping its output in a narrower format would.

    Rejected as incorrect on the first configuration checked: the tolerance is a margin (8 for
    float32) over the error an honest computation at the target's precision makes on the same
    inputs, over the whole output and each row (judge.judge_output); that error is near
    float32's 2^-24, the rounding's near 2^-9."""
    assert_verdict(attacks, target, "lower_precision")


@pytest.mark.parametrize("target", TARGETS)
def test_lower_precision_when_timed_is_stale_output(attacks: Attacks, target: str) -> None:
    """Lower precision on repeated launches of a timed configuration only.

    Rejected as stale_output: a checked timed launch is judged on its sampled rows against
    the same tolerance, derived on its own inputs, each row on its own
    (judge.judge_sample)."""
    assert_verdict(attacks, target, "lower_precision_when_repeated")


@pytest.mark.parametrize("target", TARGETS)
def test_leaving_the_last_slice_uncomputed_is_stale_output(attacks: Attacks, target: str) -> None:
    """Leaving a leading slice uncomputed on repeated launches of a timed configuration, with
    zeros written there so that no NaN is left for the check of the whole output to find: the
    last index of the output's leading dimensions (attention: the last (batch, head) pair), or
    the last eighth of the rows of an output that has none. Where a prefix of one dimension is
    the rest of the output (rows, n), the seed is called with that dimension shortened and the
    cheat does an eighth less work; elsewhere it computes it all and zeroes the slice.

    Rejected as stale_output: a checked launch samples rows of every leading index, at least 3
    each and 256 in all (problem.RowSample), so a whole slice is always sampled; 256 rows miss
    an eighth of the rows with probability (7/8)^256, about 1e-15."""
    assert_verdict(attacks, target, "leaves_last_slice")


# Evaluation seeds under which the vector add's lower-precision cheat passed when a round's
# checks were drawn over the launches its first launch's time predicted (one, on the quick
# grid's slow configuration) rather than the four the round makes: all six, every time.
ESCAPED_ONE_ROUNDS_CHECKS = (730314610412018983, 738327231216495837, 303030758735680818,
                             742811289976479130, 1444270882903060723, 2042972471864899354)


@pytest.mark.parametrize("seed", ESCAPED_ONE_ROUNDS_CHECKS)
def test_a_round_checks_every_launch_it_makes_not_the_ones_it_expected(
    attacks: Attacks, seed: int
) -> None:
    """A cheat on a configuration's repeated launches from the second timed one on, under the
    seeds that let it through in 2% of evaluations: the first round, expecting one launch from
    a slow first one, drew its checks over that one alone and left the round's three others
    unchecked (measure.ROUND_LAUNCHES_AT_LEAST). Rejected now, as the cheat is on every seed."""
    result = attacks.evaluate("vector-add", "lower_precision_when_repeated", seed=seed)
    assert_rejected(result, "stale_output", timed=True)


class InstantDevice:
    """Times every launch at a microsecond, checks nothing: what time_cycles decides alone."""

    def time_sequence(self, warm: list[Subject], launches: list[Launch]) -> list[float]:
        return [1e-6] * len(launches)


def test_a_round_checks_the_launches_it_makes_past_those_it_expected() -> None:
    """A round that makes far more launches of the candidate than it expected (its first launch
    slower than the rest, as a cold one is) checks those too, each on the chance the expected
    ones had: none is left unchecked by rule for a cheat on repeated launches to use. Here the
    round expects the fewest launches it makes and runs to MAX_REPS."""
    measure = object.__new__(Measure)  # time_cycles uses the draws and the device alone
    measure.draws = random.Random(5)
    measure.device = InstantDevice()  # type: ignore[assignment]
    candidate = Subject("candidate", prepare=lambda: None, run=lambda: None)
    best = Subject("best", prepare=lambda: None, run=lambda: None)
    expected = ROUND_LAUNCHES_AT_LEAST
    measured = measure.time_cycles([candidate, best], candidate, 3600.0, expected,
                                   random.Random(6))
    flags = [checked for (subject, checked), _ in measured if subject is candidate]
    assert len(flags) >= MAX_REPS
    assert not any(checked for (subject, checked), _ in measured if subject is best)
    past = flags[expected:]
    chance = (VERIFIED_PER_ROUND - 1) / expected
    assert sum(past) / len(past) == pytest.approx(chance, rel=0.1)  # 2,500 of 10,000 expected
    longest = max(len(run) for run in "".join("x" if f else "." for f in past).split("x"))
    assert longest < 60  # at a chance of 1/4, a run of 60 unchecked launches is 3e-8 a place

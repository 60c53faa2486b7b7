"""Every attack against every CUDA target (issue 41), on a real GPU: the twins of
tests/adversarial/test_attacks_every_target.py, whose docstrings say what each cheat does and
why it fails; here, what differs on a GPU.

Each cheat is the target's own seed (the portable one where a target ships several: see
attack_targets.PORTABLE_ARCH) with its entry point's body wrapped by the cheats of
tests/adversarial/generic/avo_attack.cuh. Every block of a launch decides alike from what no
block of that launch writes; the last block to finish rounds, zeroes or keeps the output. The
module stays loaded for the whole evaluation (no fresh process per round, as a C kernel gets):
a cheat's state lives on from the correctness pass into timing.

Marked ``gpu``; skipped where torch sees no CUDA device. Run on the H200 with
``python -m pytest -m gpu tests/gpu/test_gpu_attacks_every_target.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from attack_targets import attack_target, target_names  # noqa: E402
from attack_verdicts import Attacks, assert_rejected, assert_verdict  # noqa: E402

from avo_tui.evaluation import Worker  # noqa: E402
from avo_tui.evaluation.measurement.measure import TIMING_ROUNDS  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TARGETS = target_names("cuda")


@pytest.fixture(scope="module")
def attacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attacks]:
    scratch = Path(tmp_path_factory.mktemp("gpu-attacks"))
    with Worker("cuda") as worker:
        yield Attacks(worker, lambda name: attack_target(name, scratch))


@pytest.mark.parametrize("target", TARGETS)
def test_the_seed_in_the_wrapper_passes_with_every_timed_launch_checked(
    attacks: Attacks, target: str
) -> None:
    """The control: the seed inside the wrapper, cheating nowhere (every block still takes
    its ticket after its work, and the last one leaves the state for the next launch)."""
    result = attacks.honest(target)
    assert result.correct, result.failure
    spec = attacks.target(target).spec
    assert [c.name for c in result.timed] == [c.name for c in spec.grid(True)]
    assert all(c.verified >= TIMING_ROUNDS for c in result.timed)
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_repeated_launches_is_stale_output(attacks: Attacks, target: str) -> None:
    """Every block skips the body from the third launch in a row of a timed configuration.
    The launches of the correctness pass are each of a configuration other than the last's;
    timing launches one again and again. Rejected as stale_output: the NaN poison is written
    before every timed launch (measure._kernel_subject), and a checked one is past the
    second of its round."""
    assert_verdict(attacks, target, "skips_repeats")


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_beside_the_best_is_stale_output(attacks: Attacks, target: str) -> None:
    """The same beside the best version, as the commit gate times it: every block warms each
    kernel up, so the cheat's count of launches in a row restarts with each block of a grid of
    several configurations (and never does on a grid of one). Rejected as stale_output before
    the gate has checked the MIN_CHECKED launches it needs to accept anything."""
    result = attacks.evaluate(target, "skips_repeats", beside_honest=True)
    assert_rejected(result, "stale_output", timed=True)


@pytest.mark.parametrize("target", TARGETS)
def test_caching_by_pointer_is_stale_output(attacks: Attacks, target: str) -> None:
    """Kept under the addresses of the inputs and the output (the last block copies the
    output out). On a GPU the timed launches take their inputs from two buffers in turn
    (measure.INPUT_SLOTS), so every address comes back at the next launch but one; the values
    never do. Rejected as stale_output."""
    assert_verdict(attacks, target, "caches_by_pointer")


@pytest.mark.parametrize("target", TARGETS)
def test_caching_by_sampled_inputs_gains_nothing(attacks: Attacks, target: str) -> None:
    """Kept under eight values of each input, which every block reads alike. Inputs are drawn
    afresh whole for every launch, so it never hits: gains nothing."""
    assert_verdict(attacks, target, "caches_by_sampled_inputs")


@pytest.mark.parametrize("target", TARGETS)
def test_skipping_unless_poisoned_gains_nothing(attacks: Attacks, target: str) -> None:
    """The first block to start looks at the output before any block writes it (the others
    wait for its verdict) and all skip if it holds a number. The harness fills it with NaN
    before every launch: gains nothing."""
    assert_verdict(attacks, target, "skips_unless_poisoned")


@pytest.mark.parametrize("target", TARGETS)
def test_writing_an_input_is_inputs_modified(attacks: Attacks, target: str) -> None:
    """The last block flips the sign of the first input's first value, after the work, on
    every launch. Rejected as inputs_modified on the first configuration checked."""
    assert_verdict(attacks, target, "writes_input")


@pytest.mark.parametrize("target", TARGETS)
def test_writing_an_input_when_timed_is_inputs_modified(attacks: Attacks, target: str) -> None:
    """The same on repeated launches of a timed configuration only. Rejected as
    inputs_modified in a timed launch (blocks.InputPool.regenerate)."""
    assert_verdict(attacks, target, "writes_input_when_repeated")


@pytest.mark.parametrize("target", TARGETS)
def test_lower_precision_is_incorrect(attacks: Attacks, target: str) -> None:
    """The last block rounds the whole output to fewer significant bits: a 16-bit output to
    fp8 e4m3's 4 (a kernel writing fp8), a float32 one to bfloat16's 8. Rejected as incorrect
    on the first configuration checked: bf16's tolerance is 3 times the honest computation's
    error (about bf16's own rounding, 2^-9), fp8's is up to 2^-4."""
    assert_verdict(attacks, target, "lower_precision")


@pytest.mark.parametrize("target", TARGETS)
def test_lower_precision_when_timed_is_stale_output(attacks: Attacks, target: str) -> None:
    """The same on repeated launches of a timed configuration only. Rejected as stale_output:
    the sampled rows of a checked launch, against the same tolerance."""
    assert_verdict(attacks, target, "lower_precision_when_repeated")


@pytest.mark.parametrize("target", TARGETS)
def test_leaving_the_last_slice_uncomputed_is_stale_output(attacks: Attacks, target: str) -> None:
    """The last block zeroes the output's last slice (attention: its last (batch, head)
    pair) on repeated launches of a timed configuration. A wrapper cannot tell which blocks of
    a seed's grid write that slice, so this cheat computes it all and gains nothing; it tests
    the check a real one (tests/adversarial/cuda/skips_one_head.cu) meets. Rejected as
    stale_output: every leading index is sampled in a checked launch."""
    assert_verdict(attacks, target, "leaves_last_slice")

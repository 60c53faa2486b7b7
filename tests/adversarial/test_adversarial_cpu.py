"""Kernels that break or cheat: each is rejected for its class's reason, or gains nothing.

These are attention's own (a naive attention forward, naive.h, plus one way of breaking or
cheating each). The cheats every target meets (skipping repeated launches, caching by pointer
or by sampled inputs, writing inputs, lower precision, a slice left undone) are
test_attacks_every_target.py's, cpu-attention among the targets.

One warm worker serves the whole module, as in a run. After every rejected kernel an honest one
is evaluated on the same worker and must pass, so a failure can never poison what follows. The
cheats are written as an attacker who has read the harness would write them; each passed the
evaluator before issue 17 (the note of that issue has the figures).

Where a cheat is not rejected but neutralised (it ends up doing the honest work), the test
compares it with the honest kernel it is built on: the cheats were worth 15x to 2,600x, the
bar is 10x, so machine noise cannot decide these tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target
from avo_tui.evaluation.devices.device import Kernel
from avo_tui.evaluation.measurement.back_to_back import slower_back_to_back
from avo_tui.evaluation.measurement.measure import CANDIDATE, INCUMBENT, TIMING_ROUNDS
from avo_tui.evaluation.measurement.sustained import Figures
from avo_tui.evaluation.paired import MIN_SWEEPS, GatePlan
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.results import ConfigResult, Timing
from avo_tui.evaluation.targets.problem import Config

KERNELS = Path(__file__).parent / "kernels"
TARGET = "cpu-attention"
HANG_TIMEOUT_S = 4.0
TIMED_HEADS_Q = 4  # as the caching cheats define it
NEUTRALISED = 10.0  # a neutralised cheat is at most this many times the honest kernel's speed


def sources(name: str, text: str | None = None) -> dict[str, str]:
    return {
        name: text if text is not None else (KERNELS / name).read_text(),
        "naive.h": (KERNELS / "naive.h").read_text(),
    }


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker() as w:
        yield w


def evaluate(
    worker: Worker,
    name: str,
    timeout_s: float | None = None,
    text: str | None = None,
    **options: object,
) -> EvalResult:
    request = EvalRequest(TARGET, sources(name, text), quick=True, measure_baselines=False)
    for key, value in options.items():
        setattr(request, key, value)
    return worker.evaluate(request, timeout_s=timeout_s)


def assert_recovers(worker: Worker) -> EvalResult:
    result = evaluate(worker, "honest.c")
    assert result.correct, result.failure
    assert result.geomean > 0
    return result


def assert_rejected(result: EvalResult, kind: str, edge_only: bool | None = None) -> None:
    """Rejected as ``kind`` (``a|b``: either, where the inputs drawn decide which shows first)."""
    assert result.failure is not None, f"accepted: {result.summary()}"
    assert result.failure.kind in kind.split("|"), result.failure
    assert result.geomean == 0 and all(c.throughput == 0 for c in result.configs)
    if edge_only is not None:
        failed = result.failed_config
        assert failed is not None, result.failure
        assert failed.edge == edge_only


def test_honest_kernel_passes_with_every_timed_configuration_checked(worker: Worker) -> None:
    result = evaluate(worker, "honest.c")
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs)
    assert not any(c.edge for c in result.timed)
    assert all(c.verified >= TIMING_ROUNDS for c in result.timed)


def test_compile_error_reports_its_line(worker: Worker) -> None:
    text = (KERNELS / "compile_error.c").read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "EXPECT-ERROR" in row)
    result = evaluate(worker, "compile_error.c")
    assert result.failure is not None and result.failure.kind == "compile"
    assert result.compile is not None and not result.compile.ok
    errors = result.compile.errors
    assert errors and errors[0].file == "compile_error.c"
    # gcc reports a missing ';' on the line after the statement that lacks it
    assert errors[0].line in (line, line + 1)
    assert f"compile_error.c:{errors[0].line}" in result.failure.message
    assert_recovers(worker)


def test_a_crashing_kernel_costs_its_own_process_not_the_worker(worker: Worker) -> None:
    restarts = worker.restarts
    result = evaluate(worker, "segfault.c")
    assert result.failure is not None and result.failure.kind == "crash", result.failure
    assert "SIGSEGV" in result.failure.message
    assert not result.worker_restarted and worker.restarts == restarts
    assert result.geomean == 0
    assert_recovers(worker)


def test_a_hanging_kernel_is_ended_as_its_own_hang_and_the_worker_is_kept(worker: Worker) -> None:
    # The worker ends a launch past half its parent's silence limit and names the kernel: the
    # parent never has to kill a silent worker that would name no one (issue 52: a hang must
    # be the candidate's failure, not "no decision").
    restarts = worker.restarts
    result = evaluate(worker, "infinite_loop.c", timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind == "hang", result.failure
    assert result.failure.phase == "check" and result.failure.config
    assert f"ran past {HANG_TIMEOUT_S / 2:g} s" in result.failure.message
    assert not result.worker_restarted and worker.restarts == restarts
    assert_recovers(worker)


def test_the_caching_cheats_can_tell_the_timed_problems() -> None:
    # cached_output.c caches only problems with four query heads, as an attacker who has read
    # targets.py would: those of the quick grid, which alone are timed.
    # The drawn shapes take the first edge shape's heads, and may repeat an edge shape.
    target = get_target(TARGET)
    assert {c["heads_q"] for c in target.grid(quick=True)} == {TIMED_HEADS_Q}
    assert target.edge_configs[0]["heads_q"] != TIMED_HEADS_Q


@pytest.mark.parametrize(
    ("kernel", "kind", "edge_only"),
    [
        ("nan_output.c", "nonfinite", False),
        ("partial_write.c", "nonfinite", False),
        ("no_causal_mask.c", "incorrect", False),
        ("multiple_of_64.c", "incorrect", True),
        ("cached_output.c", "stale_output", False),
        ("slower_after_first.c", "unstable_timing", False),
        # class 1: tells timed launches by the time since the last call
        ("skips_when_called_recently.c", "stale_output", False),
        # class 3: a thread left spinning after the launch returns
        ("hog_thread.c", "background_work", False),
        # class 5: inputs that are not N(0, 1), lengths nobody fixed in advance, a tolerance
        # derived from the honest computation's own error
        # overflows to NaN on large logits; on a row of two keys they may stay finite and
        # merely wrong (seen once in 12 runs): either is its rejection, on large inputs
        ("no_running_max.c", "nonfinite|incorrect", True),
        ("tail_residue.c", "incorrect", True),
        ("low_precision_weights.c", "incorrect", None),
    ],
)
def test_wrong_or_cheating_kernel_is_rejected(
    worker: Worker, kernel: str, kind: str, edge_only: bool | None
) -> None:
    result = evaluate(worker, kernel)
    assert_rejected(result, kind, edge_only)
    assert result.failure is not None
    if kind == "incorrect":
        failed = result.failed_config
        assert failed is not None, result.failure
        assert failed.passed is False and failed.tolerance is not None
        assert failed.rel_l2_err is not None and failed.max_abs_err is not None
        assert failed.rel_l2_err > failed.tolerance[0] or failed.max_abs_err > failed.tolerance[1]
    if kernel == "no_causal_mask.c":
        failed = result.failed_config
        assert failed is not None, result.failure
        assert failed.config["causal"]
    if kernel == "no_running_max.c":
        failed = result.failed_config
        assert failed is not None, result.failure
        assert failed.case == "large"
    assert not result.worker_restarted
    assert_recovers(worker)


@pytest.mark.parametrize(
    "kernel",
    [
        "patches_clock.c",  # class 3: rewrites time.perf_counter_ns in its process
    ],
)
def test_cheat_that_cannot_tell_gains_nothing(worker: Worker, kernel: str) -> None:
    honest = assert_recovers(worker)
    result = evaluate(worker, kernel)
    assert result.correct, result.failure
    assert result.geomean < NEUTRALISED * honest.geomean, (result.geomean, honest.geomean)
    assert not result.flags
    assert_recovers(worker)


def test_a_planted_cache_entry_is_never_loaded(worker: Worker, tmp_path: Path) -> None:
    honest = assert_recovers(worker)
    assert honest.compile is not None and honest.compile.artifact is not None
    library = honest.compile.artifact
    before = library.read_bytes()
    text = (KERNELS / "writes_cache.c").read_text()
    text = f'#define CACHED_LIBRARY "{library}"\n' + text
    result = evaluate(worker, "writes_cache.c", text=text)
    assert result.correct, result.failure  # its own work is honest; the write was refused
    assert library.read_bytes() == before
    again = assert_recovers(worker)
    assert again.compile is not None
    assert again.compile.artifact_sha256 == honest.compile.artifact_sha256


def test_the_incumbent_is_timed_beside_the_candidate(worker: Worker) -> None:
    honest = (KERNELS / "honest.c").read_text()
    # the same work eight times over: structurally slower, whatever the machine's noise
    slow = honest.replace(
        "naive_attention(seq_len, seq_len);",
        "for (int r = 0; r < 8; ++r) naive_attention(seq_len, seq_len);",
    )
    result = evaluate(worker, "honest.c", incumbent=sources("honest.c", slow))
    assert result.correct, result.failure
    assert all(c.incumbent_timing is not None for c in result.timed)
    assert result.incumbent_gain is not None and result.incumbent_gain > 3
    # never fewer sweeps than a standard error needs, however slow the pair is for the cap
    sweeps = result.beside["sweeps"]
    assert isinstance(sweeps, int) and sweeps >= MIN_SWEEPS
    assert result.incumbent_gain_se is not None and result.incumbent_gain_se < 0.5


def test_a_comment_or_an_unused_macro_does_not_make_a_new_kernel(worker: Worker) -> None:
    honest = (KERNELS / "honest.c").read_text()
    dressed = "/* tuned */\n#define UNUSED_TILE 128\n" + honest + "\n// again\n"
    result = evaluate(worker, "honest.c", text=dressed, incumbent=sources("honest.c"))
    assert result.correct and result.same_as_incumbent
    assert result.kernel_id is not None and result.kernel_id == result.incumbent_kernel_id
    assert not result.timed  # nothing was timed: there is nothing new to decide
    changed = evaluate(worker, "honest.c", text=honest + "\nint avo_marker = 1;\n",
                       incumbent=sources("honest.c"))
    assert changed.correct and not changed.same_as_incumbent and changed.timed
    assert changed.kernel_id != changed.incumbent_kernel_id


@pytest.mark.parametrize(
    ("incumbent", "why"), [("cached_output.c", "stale_output"), ("hog_thread.c", "background_work")]
)
def test_an_incumbent_that_fails_its_checks_is_named_not_the_candidate(
    worker: Worker, incumbent: str, why: str
) -> None:
    # A best version committed by an older, foolable evaluator: timed beside the candidate, it
    # is checked like the candidate, and its failure is reported as its own.
    result = evaluate(worker, "honest.c", incumbent=sources(incumbent))
    assert_rejected(result, "incumbent_failed")
    assert result.failure is not None
    assert "the best version" in result.failure.message and why in result.failure.message
    assert_recovers(worker)


def test_the_honest_kernel_is_read_back_to_back_beside_interleaved(worker: Worker) -> None:
    """issue 70: asked for, each timed configuration gets the kernel's reading back to back
    (medians of rounds; no power on the CPU), in its result as the JSON gives it."""
    result = evaluate(worker, "honest.c", sustained_s=0.05)
    assert result.correct, result.failure
    assert not result.flags
    for config in result.timed:
        ours = config.sustained["candidate"]
        assert ours["rate"] > 0 and ours["watts"] == 0 and ours["mhz"] == 0
    assert all("sustained" in config.as_dict() for config in result.timed)


def test_a_cache_keyed_on_inputs_is_withheld_back_to_back(worker: Worker) -> None:
    """A kernel that returns the kept output of inputs it saw before does the honest work
    interleaved (every launch's inputs are new) and passes; back to back, where a stretch's
    inputs come round again, it copies where it should compute, many times faster: its
    back-to-back reading is withheld, with a flag that says why."""
    result = evaluate(worker, "caches_by_sampled_inputs.c", sustained_s=0.05)
    assert result.correct, result.failure
    withheld = [flag for flag in result.flags if "back to back the kernel read" in flag]
    assert len(withheld) == len(result.timed)
    assert all(not config.sustained for config in result.timed)
    assert not result.sustained_ratios


def test_no_back_to_back_reading_unless_asked(worker: Worker) -> None:
    result = evaluate(worker, "honest.c")
    assert result.correct and all(not config.sustained for config in result.timed)


HONEST_TWICE = ('#include "naive.h"\n\nvoid avo_attention_fwd(NAIVE_ARGS) {\n'
                "    naive_attention(seq_len, seq_len);\n"
                "    naive_attention(seq_len, seq_len);\n}\n")


def beside_a_slower_best(worker: Worker, name: str) -> EvalResult:
    """The gate's evaluation of ``name`` beside a best version that does the honest work twice,
    read back to back once the gate accepts."""
    return evaluate(worker, name, sustained_s=0.2, incumbent=sources("honest.c", HONEST_TWICE),
                    gate=GatePlan(cap_s=get_target(TARGET).gate_cap_s))


def test_a_kernel_slower_back_to_back_than_the_best_it_beats_is_flagged(worker: Worker) -> None:
    """issue 70: the gate accepts the kernel, 2x faster than the best launch by launch; back to
    back, as a kernel hungrier for power is at the limit, it is 2x slower. The flag holds its
    commit for the operator."""
    result = beside_a_slower_best(worker, "throttles_when_busy.c")
    assert result.correct and result.beside.get("decision") == "accept", result.summary()
    assert result.sustained_ratios["incumbent"] < 0.75
    assert any(flag.startswith("slower back to back") for flag in result.flags), result.flags
    assert any("read again" in note for note in result.notes), result.notes


def test_a_kernel_faster_back_to_back_too_is_not_flagged(worker: Worker) -> None:
    result = beside_a_slower_best(worker, "honest.c")
    assert result.correct and result.beside.get("decision") == "accept", result.summary()
    assert "incumbent" in result.sustained_ratios
    assert not any(flag.startswith("slower back to back") for flag in result.flags)


class BestReadFastFirst(Evaluation):
    """An evaluation whose first back-to-back reading of the best came out fast enough to put
    the kernel at 0.9 of the floor that flags it, as one reading's spread can; the reading
    taken again is the true one. Set from the candidate's own reading: the best's true rate
    (half the kernel's) swings with the machine's load, and three times it read the kernel
    at 0.79x on CI's 2 cores, over the floor, so it was never read again."""

    def read_back_to_back(self, kernel: Kernel, entry: ConfigResult, where: str,
                          baselines: Sequence[str]) -> dict[str, Figures]:
        medians = super().read_back_to_back(kernel, entry, where, baselines)
        if "again" in where:
            return medians
        floor = 1 - slower_back_to_back(self.device.name)
        rate = medians[CANDIDATE].rate / (0.9 * floor)
        return medians | {INCUMBENT: replace(medians[INCUMBENT], rate=rate)}

    def time_all(self, kernel: Kernel, incumbent: Kernel | None) -> None:
        # The gate's decision is not this test's subject: the reading back to back follows an
        # accept, given here, as CI's loaded cores left the gate undecided at its cap once.
        # So the candidate is timed alone (the rate its reading back to back is set beside),
        # not in the gate's sweeps beside the best, which took longer than all the rest; the
        # best stays loaded for the readings back to back.
        assert incumbent is not None and self.incumbent is incumbent
        super().time_all(kernel, None)
        self.result.beside["decision"] = "accept"


def test_a_first_reading_under_the_floor_is_read_again_before_it_flags() -> None:
    """honest.c beside a best that does its work twice, the best's first reading too fast:
    that reading puts the kernel at 0.9 of the floor back to back; read again, about twice
    the best's, and the two together are over the floor: not flagged, and a note says what
    was read."""
    request = EvalRequest(TARGET, sources("honest.c"), quick=True, seed=12,
                          measure_baselines=False, sustained_s=0.2,
                          incumbent=sources("honest.c", HONEST_TWICE),
                          gate=GatePlan(cap_s=get_target(TARGET).gate_cap_s))
    result = BestReadFastFirst(Pipeline("cpu"), request, lambda phase, detail: None).run()
    assert result.correct, result.summary()
    assert result.sustained_ratios["incumbent"] < 1 - slower_back_to_back("cpu")
    assert any("read again" in note for note in result.notes), result.notes
    assert not any(flag.startswith("slower back to back") for flag in result.flags)


class SpikedFirstLaunch(Evaluation):
    """An evaluation on a machine whose load spiked during the correctness pass's first
    launch of each configuration: that launch read a third of the timed launches' median,
    under the 4x that rejects by itself (a spike of 2.5x on it did this to a kernel 10x slower
    after its first launch). Set from the median itself, so no load can move it; and the only
    first launch read: the warm-ups' fresh first launches are left out, as on a busy machine
    one of them read under a quarter of a loaded median (a full suite beside two spinners),
    and the machine's load was then rightly named in a note, which is not this test's subject.
    Whether a kernel is rejected does not depend on them: only the looks again reject."""

    def check_steady(self, kernel: Kernel, config: Config, timing: Timing | None) -> None:
        if timing is not None:
            self.first_launch_s[config] = timing.median_s / 3
            self.fresh_first_s.pop(config, None)
        super().check_steady(kernel, config, timing)


def spiked(name: str) -> EvalResult:
    request = EvalRequest(TARGET, sources(name), quick=True, seed=11, measure_baselines=False)
    return SpikedFirstLaunch(Pipeline("cpu"), request, lambda phase, detail: None).run()


def test_a_load_spike_on_the_first_launch_does_not_hide_a_kernel_slower_after_it() -> None:
    """slower_after_first.c is 10x slower after its first call. A spike of 2.5x on the one
    first launch the correctness pass timed left its timed launches under 4x that launch, and
    it passed (1 clean suite run in 2 on two busy cores): timed launches over 2x the first
    are looked at again against first launches in fresh processes."""
    assert_rejected(spiked("slower_after_first.c"), "unstable_timing")


def test_a_spiked_first_launch_leaves_an_honest_kernel_accepted_without_a_word() -> None:
    result = spiked("honest.c")
    assert result.correct, result.summary()
    assert not any("first launch" in note for note in result.notes)

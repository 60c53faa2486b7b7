"""The idea check tuned for precision (issue 72): on a corpus of fresh pairs of ideas
(tests/fixtures/idea_pairs.json, written for this issue, the issue's own examples among them),
the free-text check (repeats.same) never merges opposite directions, different numbers or
different places, and catches rewordings; measured with benchmarks/repeat_detection.py."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from bench_scripts import load_benchmark

from avo_tui.operators.agent import changes, repeats

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "repeat_detection.py"
PAIRS = ROOT / "tests" / "fixtures" / "idea_pairs.json"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "repeat_detection_ideas")


def test_free_text_alone_meets_the_issue_s_bar_on_fresh_pairs(bench: ModuleType) -> None:
    pairs = bench.load(PAIRS)
    assert len(pairs["same"]) + len(pairs["different"]) >= 70
    assert min(len(pairs["same"]), len(pairs["different"])) >= 35
    found = bench.measure(pairs)
    assert found.precision >= 0.9, found.misses
    assert found.recall >= 0.6, found.misses


@pytest.mark.parametrize(("a", "b"), [
    ("increase the number of pipeline stages", "reduce the number of pipeline stages"),
    ("more registers for the consumer warps", "fewer registers for the consumer warps"),
    ("unroll the inner loop 4x", "unroll the inner loop 8x"),
    ("swizzle the K tile", "swizzle the output tile"),
    ("fuse the bias", "fuse the GELU"),
])
def test_the_issue_s_false_merges_are_two_experiments(a: str, b: str) -> None:
    assert not repeats.same(a, b) and not repeats.same(b, a)
    assert repeats.apart(a, b)  # told apart by a rule, not by a low score


@pytest.mark.parametrize(("a", "b"), [
    ("raise BLOCK_N to 128", "use 128-wide key tiles"),
    ("FMA-contract the PV update", "use fused multiply-add for the P.V accumulation"),
])
def test_the_issue_s_missed_rewordings_are_one_experiment(a: str, b: str) -> None:
    assert repeats.same(a, b) and repeats.same(b, a)


# (technique, place, direction, value), each stated twice in other words and other cases.
# One per line: technique | place | direction | value ("-": none).
STATED = [tuple("" if part == "-" else part for part in line.split(" | ")) for line in """\
tile size | key tile | increase | 128
tile size | query tile | decrease | 64
pipeline stages | KV loads | increase | 3
pipeline stages | KV loads | decrease | 2
unrolling | inner loop | increase | 4
unrolling | inner loop | increase | 8
unrolling | outer loop | increase | 4
swizzle | K tile | enable | 128B
swizzle | output tile | enable | 128B
swizzle | K tile | enable | 64B
tma | Q load | enable | -
tma | O store | enable | -
warp specialisation | producer warpgroup | enable | 1
warp specialisation | producer warpgroup | enable | 2
ping-pong | consumer warpgroups | enable | -
ping-pong | consumer warpgroups | disable | -
persistent scheduling | causal shapes | enable | -
persistent scheduling | full shapes | enable | -
exp2 | softmax | replace | exp2f
exp2 | softmax | replace | polynomial
fusion | GEMM epilogue | enable | bias
fusion | GEMM epilogue | enable | gelu
registers | consumer warps | increase | 240
registers | consumer warps | decrease | 232
split-k | K reduction | set | 4
split-k | K reduction | set | 8
lazy rescale | O accumulator | enable | 8
prefetch | next V tile | enable | -
prefetch | next K tile | enable | -
tile order | causal tiles | set | LPT
cluster | CTA pair | set | 2
precision | PV accumulator | replace | fp16
""".splitlines()]
WORDINGS = ("first try at it", "the same, measured again on a quieter machine")


def _idea(words: str, change: tuple[str, ...], upper: bool = False) -> str:
    technique, place, direction, value = change
    if upper:
        place, value = f"the {place.upper()}", f"{value.upper()}x" if value.isdigit() else value
    return changes.tagged(words, [changes.Change.of(technique, place, direction, value)])


@pytest.mark.parametrize("change", STATED, ids=lambda c: "-".join(c))
def test_a_stated_change_repeats_exactly_when_all_four_fields_agree(
    change: tuple[str, ...]
) -> None:
    """Over 32 pairs: the same change in other words (and cases, articles, "4x" for 4) is
    caught every time; any other stated change is never merged with it, however alike the
    words."""
    first, again = _idea(WORDINGS[0], change), _idea(WORDINGS[1], change, upper=True)
    assert repeats.same(first, again) and repeats.same(again, first)
    for other in STATED:
        if other != change:
            assert not repeats.same(first, _idea(WORDINGS[0], other)), (change, other)


def test_knob_changes_are_read_from_the_diff_exactly() -> None:
    seed = "\n".join(["#define BLOCK_N 64       // avo:knob 64 128 176",
                      "#define STAGES 2        // avo:knob 2 3 4", "int x;"])
    wider = seed.replace("BLOCK_N 64 ", "BLOCK_N 128")
    assert changes.from_diff({"k.cu": seed}, {"k.cu": wider}) == [
        changes.Change("knob", "block_n", "increase", "128")]
    narrower = seed.replace("STAGES 2 ", "STAGES 3 ").replace("BLOCK_N 64 ", "BLOCK_N 128")
    read = changes.from_diff({"k.cu": seed}, {"k.cu": narrower})
    assert sorted(read) == [changes.Change("knob", "block_n", "increase", "128"),
                            changes.Change("knob", "stages", "increase", "3")]
    # Tagged from the diff, whatever the words: one knob's two values are two experiments.
    a = changes.tagged("try wider tiles", changes.from_diff({"k.cu": seed}, {"k.cu": wider}))
    b = changes.tagged("try wider tiles", read)
    assert repeats.same(a, a.replace("try wider tiles", "BLOCK_N up")) and not repeats.same(a, b)


def test_the_diffs_knob_tags_alone_repeat_only_where_the_rest_of_the_diff_is_the_same() -> None:
    """Neither idea states a change: the knob tags come from the diff, and the rest of the
    diff rides along (changes.rest_of_diff), so two candidates that set BLOCK_N 128 and
    differ elsewhere are two experiments; the same edit in other words is still one."""
    seed = "\n".join(["#define BLOCK_N 64       // avo:knob 64 128 176",
                      "float scale = 1.0f;", "int x;"])
    wider = {"k.cu": seed.replace("BLOCK_N 64 ", "BLOCK_N 128")}
    wider_and_exp2 = {"k.cu": wider["k.cu"].replace("1.0f;", "1.4427f; // exp2")}

    def idea(words: str, files: dict[str, str]) -> str:
        knobs = changes.from_diff({"k.cu": seed}, files)
        return changes.tagged(words, [*knobs, changes.rest_of_diff({"k.cu": seed}, files,
                                                                   knobs)])

    alone, elsewhere = idea("wider tiles", wider), idea("wider tiles", wider_and_exp2)
    assert "[change: knob | block_n | increase | 128]" in alone
    assert "[change: other code | outside the knobs | set | none]" in alone
    assert not repeats.same(alone, elsewhere) and not repeats.same(elsewhere, alone)
    assert repeats.same(alone, idea("BLOCK_N up to 128", wider))
    assert repeats.same(elsewhere, idea("BLOCK_N 128 and exp2 scale", wider_and_exp2))


def test_the_diffs_knobs_count_whatever_the_fields_say() -> None:
    """Issue 86: one diff (BLOCK_N 64 to 128, nothing else), tagged once with a stated change
    and once without, in other words: one experiment, both ways round. Another stated change
    over the same diff is still the same experiment; another value of the knob never is."""
    seed = "\n".join(["#define BLOCK_N 64       // avo:knob 64 128 176", "int x;"])
    base = {"k.cu": seed}

    def idea(words: str, value: str, stated: list[changes.Change]) -> str:
        files = {"k.cu": seed.replace("BLOCK_N 64 ", f"BLOCK_N {value} ")}
        knobs = changes.from_diff(base, files)
        return changes.tagged(words, [*stated, *knobs,
                                      changes.rest_of_diff(base, files, knobs)])

    fields = [changes.Change.of("tile size", "key tile", "increase", "128")]
    with_fields = idea("wider key tiles", "128", fields)
    without = idea("BLOCK_N up, to halve the loop trips", "128", [])
    other_fields = idea("longer wgmma", "128", [changes.Change.of("registers", "", "set", "")])
    assert repeats.same(with_fields, without) and repeats.same(without, with_fields)
    assert repeats.same(with_fields, other_fields)
    assert not repeats.same(with_fields, idea("wider key tiles", "176", fields))

"""What the operator says is what happens (issue 71): guidance was read backwards. Measured:
"BLOCK_K=16 is bad" and "BLOCK_K=16 was slow" were read as "BLOCK_K=16" and applied (the next
plan was BLOCK_K 64->16); "keep UNROLL away from 8" as "UNROLL as it is"; "try BLOCK_K=16
first", given as standing guidance, became a pin for every step.

A bad judgement now reads as avoiding the values it names; praise and "not bad" are refused
with the forms that are read; "first", "next" and "once" ask it of one step; whatever the
reader is unsure of is refused whole."""

from __future__ import annotations

from typing import cast

import pytest
from test_guidance_corpus import read_as_expected
from test_guidance_reading import KNOBS

from avo_tui.evaluation.declarations.contract import Knob
from avo_tui.operators import Tuner
from avo_tui.operators.hints import read_knob_request
from avo_tui.operators.tuner import TunerContext

ONE = "for one step"

# text -> how it is read ("read as: ..."), or a part of the one line that refuses it
CORPUS = [
    # measured in issue 71
    ("BLOCK_K=16 is bad", "read as: BLOCK_K never 16"),
    ("BLOCK_K=16 was slow", "read as: BLOCK_K never 16"),
    ("keep UNROLL away from 8", "read as: UNROLL never 8"),
    ("try BLOCK_K=16 first", f"read as: BLOCK_K=16 {ONE}"),
    # bad judgements, and good ones negated: the values named are avoided
    ("BLOCK_K=16 was slower", "read as: BLOCK_K never 16"),
    ("UNROLL 8 hurt", "read as: UNROLL never 8"),
    ("UNROLL=8 made it worse", "read as: UNROLL never 8"),
    ("UNROLL 8 is a dead end", "read as: UNROLL never 8"),
    ("UNROLL=8 was a dead-end", "read as: UNROLL never 8"),
    ("BLOCK_K 16 regressed", "read as: BLOCK_K never 16"),
    ("BLOCK_K 16 didn't help", "read as: BLOCK_K never 16"),
    ("BLOCK_K 16 did not help", "read as: BLOCK_K never 16"),
    ("no gain from UNROLL 8", "read as: UNROLL never 8"),
    ("UNROLL 8 gave no gain", "read as: UNROLL never 8"),
    ("UNROLL=8 never helped", "read as: UNROLL never 8"),
    ("UNROLL=8 wasn't any faster", "read as: UNROLL never 8"),
    ("UNROLL 4 or 8 hurt performance", "read as: UNROLL never 4 8"),
    ("stay away from UNROLL 8", "read as: UNROLL never 8"),
    ("avoid UNROLL 8, it was slow", "read as: UNROLL never 8"),
    ("UNROLL=8 and BLOCK_K=16 were both slow", "read as: BLOCK_K never 16, UNROLL never 8"),
    ("BLOCK_K=16 was slow; try BLOCK_K=32", "read as: BLOCK_K=32, BLOCK_K never 16"),
    # praise is no pin
    ("BLOCK_K=16 is good", "praises, and praise is not read as a request: say 'keep BLOCK_K "
                           "at 16' for every step, or 'try BLOCK_K=16 next' for one"),
    ("BLOCK_K=16 was fast", "praises"),
    ("UNROLL 8 helped", "praises"),
    ("UNROLL=8 is the best", "praises"),
    ("UNROLL 8 fast, BLOCK_K 16 slow", "praises"),
    # a bad judgement negated asks nothing
    ("BLOCK_K=16 is not bad", "says what is not bad, which asks nothing for sure: say 'avoid "
                              "BLOCK_K 16' or 'keep BLOCK_K at 16'"),
    ("UNROLL=8 didn't hurt", "says what is not bad"),
    ("UNROLL=8 is not a dead end", "says what is not bad"),
    ("UNROLL 8 wasn't slower", "says what is not bad"),
    # unsure: refused whole, never read in part
    ("UNROLL is slow", "'UNROLL is slow' judges UNROLL but names no value to avoid"),
    ("BLOCK_K 64->16 was slow", "beside the judgement it says '->'"),
    ("BLOCK_K=16 was slower than 64", "beside the judgement it says 'than'"),
    ("BLOCK_K=16. It was slow.", "'It was slow' judges no knob it names"),
    ("don't use UNROLL 8, it was slow", "beside the judgement it says \"don't\""),
    ("BLOCK_K=3 was slow", "BLOCK_K=3 is not a declared value (16 32 64 128)"),
    ("UNROLL=8 since v3", "cannot tell what 'UNROLL=8 since v3' asks: it does not read "
                          "'since', 'v3'"),
    ("try BLOCK_K=16 first, then UNROLL=2", "not a sequence (first ..., then ...)"),
    ("BLOCK_K=16 was slow first", "beside the judgement it says 'first'"),
    # one step
    ("try BLOCK_K=16 next", f"read as: BLOCK_K=16 {ONE}"),
    ("UNROLL=2 once", f"read as: UNROLL=2 {ONE}"),
    ("use UNROLL 2 for this step", f"read as: UNROLL=2 {ONE}"),
    ("set BLOCK_Q to 16 for one step", f"read as: BLOCK_Q=16 {ONE}"),
    ("vary BLOCK_K first", f"read as: vary BLOCK_K {ONE} (the other knobs stay as they are)"),
    # the ordinary forms keep working
    ("keep UNROLL at 8", "read as: UNROLL=8"),
    ("UNROLL=8", "read as: UNROLL=8"),
    ("keep UNROLL at 8 for now", "read as: UNROLL=8"),
    ("UNROLL 2 please", "read as: UNROLL=2"),
    ("never touch THREADS", "read as: THREADS as it is"),
    ("avoid UNROLL 1 or 2", "read as: UNROLL never 1 2"),
    ("no BLOCK_K=16", "read as: BLOCK_K never 16"),
    ("only vary BLOCK_K", "read as: vary BLOCK_K (the other knobs stay as they are)"),
    ("vary UNROLL more", "read as: vary UNROLL (the other knobs stay as they are)"),
]


@pytest.mark.parametrize(("text", "expected"), CORPUS)
def test_each_phrasing_is_read_as_meant_or_refused_whole(text: str, expected: str) -> None:
    read_as_expected(text, expected, KNOBS)


def test_the_corpus_is_wide() -> None:
    assert len(CORPUS) >= 40 and len({text for text, _ in CORPUS}) == len(CORPUS)


def test_a_judged_value_is_never_kept() -> None:
    """Whatever word judges it, a value said to be bad or good is never read as one to keep."""
    for judgement in ("is bad", "was slow", "is slower", "hurt", "made it worse", "regressed",
                      "didn't help", "is a dead end", "is good", "was fast", "is not bad",
                      "didn't hurt", "helped"):
        request = read_knob_request(f"BLOCK_K=16 {judgement}", KNOBS)
        assert "BLOCK_K" not in request.pins and "BLOCK_K" not in request.held, (
            judgement, request)


# -- the tuner: guidance that says "first" is one step's, not a standing pin ---------------------

KERNEL_KNOBS = {name: Knob(name, choices[-1], choices, line) for line, (name, choices)
                in enumerate(KNOBS.items())}


class Steering:
    """What the tuner reads of a step's context to know what it is asked: the standing
    guidance, the hints, and where its acknowledgements go."""

    def __init__(self, guidance: str) -> None:
        self.standing: str | None = guidance
        self.spent: str | None = None
        self.notes: list[tuple[str, bool, str]] = []

    @property
    def guidance(self) -> str | None:  # as the engine's: none once one step's guidance is spent
        return None if self.standing == self.spent else self.standing

    def spend_guidance(self, text: str) -> None:
        self.spent = text

    def take_hints(self) -> list[str]:
        return []

    def acknowledge_hint(self, text: str, used: bool, note: str) -> None:
        self.notes.append((text, used, note))


def asked_of_steps(guidance: str, steps: int) -> tuple[list[dict[str, str]], Steering]:
    """The pins the tuner takes from ``guidance`` in each of ``steps`` steps."""
    tuner, steering = Tuner(seed=1), Steering(guidance)
    ctx = cast(TunerContext, steering)
    return [tuner._requests(ctx, KERNEL_KNOBS).pins for _ in range(steps)], steering


def test_guidance_that_says_first_pins_one_step_and_says_so() -> None:
    pins, steering = asked_of_steps("try BLOCK_K=16 first", 3)
    assert pins == [{"BLOCK_K": "16"}, {}, {}]
    [(_, used, note)] = steering.notes
    assert used and note.startswith("BLOCK_K=16 for the next candidate only"), note


def test_guidance_without_first_pins_every_step() -> None:
    pins, steering = asked_of_steps("try BLOCK_K=16", 3)
    assert pins == [{"BLOCK_K": "16"}] * 3
    assert steering.notes[0][2] == "BLOCK_K=16 for every step while it stands"


def test_the_tuner_draws_only_the_values_a_comparison_allows() -> None:
    """Issue 87: "UNROLL > 2" was read as UNROLL=2 and a run moved UNROLL onto it. Every
    candidate has an allowed value, where the head's own (UNROLL 8, BLOCK_K 128 here) is not."""
    tuner = Tuner(seed=3)
    request = read_knob_request("UNROLL < 8, BLOCK_K between 16 and 32, avoid 16 for BLOCK_Q",
                                KNOBS)
    assert request.usable, request
    current = {name: knob.value for name, knob in KERNEL_KNOBS.items()}
    children = [tuner._child(current, KERNEL_KNOBS, request) for _ in range(200)]
    assert {c["UNROLL"] for c in children} <= {"1", "2", "4"}
    assert {c["BLOCK_K"] for c in children} <= {"16", "32"}
    assert all(c["BLOCK_Q"] != "16" for c in children)
    assert len({c["UNROLL"] for c in children}) > 1  # the allowed values are drawn, not one

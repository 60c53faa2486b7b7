"""What the operator means, exactly (issue 87), on a corpus of phrasings with the reading each
must get. Measured at 0375f55: "UNROLL > 2" and "BLOCK_K < 64" were read as "UNROLL=2" and
"BLOCK_K=64" (a run then moved UNROLL to the one value ruled out); "avoid 8 threads" as
"THREADS as it is"; "keep 8 threads" as keeping the head's value; "should THREADS be 4?" as
"THREADS=4"; "BLOCK_K=16 is bad, BLOCK_K=32 is the best" was refused with "say 'keep BLOCK_K
at 16'", the value just called bad.

Comparisons and ranges read as the set of declared values they allow; a negation takes its
value wherever it stands; a question, and anything read only in part, is refused in one line
with the forms that are read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from avo_tui.operators.hints import FORMS, read_knob_request, reading_line

KNOBS = {"UNROLL": ("1", "2", "4", "8"), "BLOCK_N": ("64", "128", "256"),
         "BLOCK_K": ("16", "32", "64", "128"), "THREADS": ("0", "1", "2", "4", "8"),
         "STAGES": ("1", "2", "3"), "BLOCK_Q": ("8", "16", "32", "64"),
         "LAYOUT": ("row", "col")}

ONE = "for one step"
REFUSED = "refused: "  # then a part of the one line that refuses it

# text -> its reading ("read as: ..."), or "refused: " and a part of the refusal
CORPUS = [
    # -- comparisons: the declared values they allow -------------------------------------------
    ("UNROLL > 2", "read as: UNROLL one of 4 8"),
    ("UNROLL>2", "read as: UNROLL one of 4 8"),
    ("BLOCK_K < 64", "read as: BLOCK_K one of 16 32"),
    ("BLOCK_K >= 64", "read as: BLOCK_K one of 64 128"),
    ("BLOCK_K <= 32", "read as: BLOCK_K one of 16 32"),
    ("BLOCK_K ≥ 64", "read as: BLOCK_K one of 64 128"),
    ("BLOCK_K ≤ 32", "read as: BLOCK_K one of 16 32"),
    ("UNROLL above 2", "read as: UNROLL one of 4 8"),
    ("UNROLL below 8", "read as: UNROLL one of 1 2 4"),
    ("UNROLL at most 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL at least 4", "read as: UNROLL one of 4 8"),
    ("UNROLL up to 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL more than 2", "read as: UNROLL one of 4 8"),
    ("UNROLL less than 4", "read as: UNROLL one of 1 2"),
    ("UNROLL greater than 2", "read as: UNROLL one of 4 8"),
    ("UNROLL over 2", "read as: UNROLL one of 4 8"),
    ("UNROLL under 4", "read as: UNROLL one of 1 2"),
    ("keep UNROLL above 2", "read as: UNROLL one of 4 8"),
    ("keep UNROLL at least 4", "read as: UNROLL one of 4 8"),
    ("UNROLL must be at least 4", "read as: UNROLL one of 4 8"),
    ("UNROLL should be more than 2", "read as: UNROLL one of 4 8"),
    ("UNROLL should stay below 8", "read as: UNROLL one of 1 2 4"),
    ("UNROLL no more than 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL no less than 4", "read as: UNROLL one of 4 8"),
    ("UNROLL not above 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL must not exceed 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL 4 or more", "read as: UNROLL one of 4 8"),
    ("UNROLL 4 or less", "read as: UNROLL one of 1 2 4"),
    ("UNROLL 4 or higher", "read as: UNROLL one of 4 8"),
    ("UNROLL > 3", "read as: UNROLL one of 4 8"),
    ("at least 64 for BLOCK_K", "read as: BLOCK_K one of 64 128"),
    ("at most 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("more than 2 stages", "read as: STAGES only 3"),
    ("avoid UNROLL above 4", "read as: UNROLL one of 1 2 4"),
    ("no UNROLL below 4", "read as: UNROLL one of 4 8"),
    ("never more than 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("UNROLL > 2 and BLOCK_K <= 32", "read as: BLOCK_K one of 16 32, UNROLL one of 4 8"),
    ("UNROLL > 2, BLOCK_K < 64", "read as: BLOCK_K one of 16 32, UNROLL one of 4 8"),
    ("UNROLL > 1 and UNROLL < 8", "read as: UNROLL one of 2 4"),
    ("UNROLL > 2 but avoid UNROLL 8", "read as: UNROLL only 4"),
    ("keep UNROLL above 2 and vary BLOCK_K",
     "read as: UNROLL one of 4 8, vary BLOCK_K (the other knobs stay as they are)"),
    ("UNROLL at least 2 for one step", f"read as: UNROLL one of 2 4 8 {ONE}"),
    ("use no more than 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("don't use more than 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("do not go beyond 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("threads should not exceed 4", "read as: THREADS one of 0 1 2 4"),
    ("do not use UNROLL above 4", "read as: UNROLL one of 1 2 4"),
    ("never go below 2 stages", "read as: STAGES one of 2 3"),
    ("BLOCK_K at least 32 and at most 64", "read as: BLOCK_K one of 32 64"),
    ("BLOCK_K >= 32 and <= 64", "read as: BLOCK_K one of 32 64"),
    ("at least 32 and at most 64 for BLOCK_K", "read as: BLOCK_K one of 32 64"),
    ("avoid BLOCK_K values below 32", "read as: BLOCK_K one of 32 64 128"),
    ("UNROLL max 4", "read as: UNROLL one of 1 2 4"),
    ("UNROLL less than or equal to 4", "read as: UNROLL one of 1 2 4"),
    ("BLOCK_K 64 or above", "read as: BLOCK_K one of 64 128"),
    ("more threads", f"{REFUSED}cannot tell what 'more threads' asks of THREADS"),
    ("set THREADS to 4, not 8", f"{REFUSED}which knob is '8' for?"),
    ("max 4 threads", "read as: THREADS one of 0 1 2 4"),
    ("at most four threads", "read as: THREADS one of 0 1 2 4"),
    ("UNROLL at least 4 and BLOCK_K 32", "read as: BLOCK_K=32, UNROLL one of 4 8"),
    ("BLOCK_K > 32 and < 16", f"{REFUSED}allows none of BLOCK_K's declared values"),
    # ranges and sets
    ("UNROLL between 2 and 8", "read as: UNROLL one of 2 4 8"),
    ("keep BLOCK_K between 32 and 64", "read as: BLOCK_K one of 32 64"),
    ("BLOCK_K between 64 and 32", "read as: BLOCK_K one of 32 64"),
    ("UNROLL 2..4", "read as: UNROLL one of 2 4"),
    ("UNROLL in 2..8", "read as: UNROLL one of 2 4 8"),
    ("keep UNROLL at 4 or 8", "read as: UNROLL one of 4 8"),
    ("UNROLL 4 or 8", "read as: UNROLL one of 4 8"),
    ("UNROLL either 4 or 8", "read as: UNROLL one of 4 8"),
    ("UNROLL only 4 or 8", "read as: UNROLL one of 4 8"),
    ("UNROLL one of 2, 4, 8", "read as: UNROLL one of 2 4 8"),
    ("UNROLL in {4, 8}", "read as: UNROLL one of 4 8"),
    # comparisons that allow nothing, or cannot be read for sure
    ("UNROLL > 8", f"{REFUSED}UNROLL > 8 allows none of UNROLL's declared values (1 2 4 8)"),
    ("BLOCK_K < 16", f"{REFUSED}allows none of BLOCK_K's declared values (16 32 64 128)"),
    ("UNROLL > 4 and UNROLL < 8", f"{REFUSED}leaves UNROLL no value"),
    ("keep UNROLL at 2, UNROLL > 2", f"{REFUSED}UNROLL=2 is kept but allowed are only 4 8"),
    ("LAYOUT > row", f"{REFUSED}LAYOUT's values (row col) are not numbers to compare"),
    ("UNROLL > fast", f"{REFUSED}UNROLL is compared with 'fast', which is no number"),
    ("UNROLL from 2 to 8", f"{REFUSED}say 'UNROLL between 2 and 8' for a range"),
    ("UNROLL 2 to 8", f"{REFUSED}say 'UNROLL between 2 and 8' for a range"),
    ("UNROLL in [2, 8]", f"{REFUSED}it does not read '['"),
    ("UNROLL >> 2", f"{REFUSED}it does not read '>>'"),
    ("UNROLL > 2 * 2", f"{REFUSED}it does not read '*'"),
    ("increase UNROLL above 2", f"{REFUSED}it does not read 'increase'"),
    # -- negations, the value before or after the knob ----------------------------------------
    ("avoid 8 threads", "read as: THREADS never 8"),
    ("never 8 threads", "read as: THREADS never 8"),
    ("don't use 8 threads", "read as: THREADS never 8"),
    ("do not use 8 threads", "read as: THREADS never 8"),
    ("no 8 threads", "read as: THREADS never 8"),
    ("avoid 128 for BLOCK_K", "read as: BLOCK_K never 128"),
    ("never use 128 for BLOCK_K", "read as: BLOCK_K never 128"),
    ("not 128 for BLOCK_K", "read as: BLOCK_K never 128"),
    ("never set BLOCK_K to 128", "read as: BLOCK_K never 128"),
    ("don't set UNROLL to 8", "read as: UNROLL never 8"),
    ("never use UNROLL=8", "read as: UNROLL never 8"),
    ("avoid BLOCK_K of 128", "read as: BLOCK_K never 128"),
    ("UNROLL should never be 8", "read as: UNROLL never 8"),
    ("UNROLL must not be 8", "read as: UNROLL never 8"),
    ("UNROLL shouldn't be 8", "read as: UNROLL never 8"),
    ("UNROLL not 8", "read as: UNROLL never 8"),
    ("THREADS: avoid 8", "read as: THREADS never 8"),
    ("BLOCK_K: never 128", "read as: BLOCK_K never 128"),
    ("avoid 4 or 8 threads", "read as: THREADS never 4 8"),
    ("exclude 1 and 2 for UNROLL", "read as: UNROLL never 1 2"),
    ("avoid UNROLL 8 and 16 for BLOCK_K", "read as: BLOCK_K never 16, UNROLL never 8"),
    ("avoid 8 threads and 2 stages", "read as: STAGES never 2, THREADS never 8"),
    ("avoid using 8 threads", "read as: THREADS never 8"),
    ("avoid keeping 8 threads", "read as: THREADS never 8"),
    ("don't try 8 threads", "read as: THREADS never 8"),
    ("THREADS other than 8", "read as: THREADS never 8"),
    ("THREADS except 8", "read as: THREADS never 8"),
    ("never 8 for THREADS", "read as: THREADS never 8"),
    ("keep THREADS away from 8", "read as: THREADS never 8"),
    ("THREADS 8 never", f"{REFUSED}what does 'never' negate?"),
    ("UNROLL 8 not 4", f"{REFUSED}which knob is '4' for?"),
    ("avoid UNROLL != 8", f"{REFUSED}it avoids a negation"),
    ("keep THREADS, avoid UNROLL 8", "read as: THREADS as it is, UNROLL never 8"),
    # value before the knob, kept
    ("keep 8 threads", "read as: THREADS=8"),
    ("use 4 threads", "read as: THREADS=4"),
    ("try 2 stages", "read as: STAGES=2"),
    ("4 threads", "read as: THREADS=4"),
    ("pin 16 for BLOCK_Q", "read as: BLOCK_Q=16"),
    ("use 128 for BLOCK_K", "read as: BLOCK_K=128"),
    ("try 1 stage", "read as: STAGES=1"),
    ("keep 8 threads and 2 stages", "read as: THREADS=8, STAGES=2"),
    ("unroll by 4", "read as: UNROLL=4"),
    ("THREADS: keep at 8", "read as: THREADS=8"),
    ("stick with 8 threads", "read as: THREADS=8"),
    ("switch to 4 threads", "read as: THREADS=4"),
    ("try 4 threads first", f"read as: THREADS=4 {ONE}"),
    ("keep UNROLL at one", "read as: UNROLL=1"),
    # -- questions: refused with the forms that are read ---------------------------------------
    ("should THREADS be 4?", f"{REFUSED}'should THREADS be 4?' is a question"),
    ("should THREADS be 4", f"{REFUSED}is a question"),
    ("is UNROLL 8 better?", f"{REFUSED}is a question"),
    ("what about UNROLL=8?", f"{REFUSED}is a question"),
    ("can you try UNROLL 8?", f"{REFUSED}is a question"),
    ("would BLOCK_K 32 be faster", f"{REFUSED}is a question"),
    ("does UNROLL 8 help", f"{REFUSED}is a question"),
    ("UNROLL=8?", f"{REFUSED}is a question"),
    ("keep UNROLL at 8. Should BLOCK_K be 32?", f"{REFUSED}is a question"),
    ("maybe UNROLL 8", f"{REFUSED}'maybe UNROLL 8' is unsure"),
    ("perhaps try BLOCK_K=32", f"{REFUSED}is unsure"),
    ("why not UNROLL 8", f"{REFUSED}is a question"),
    ("should we use 4 threads?", f"{REFUSED}is a question"),
    ("what if THREADS=4", f"{REFUSED}is a question"),
    # -- pins, as before ----------------------------------------------------------------------
    ("keep UNROLL at 8", "read as: UNROLL=8"),
    ("UNROLL=8", "read as: UNROLL=8"),
    ("UNROLL must stay 8", "read as: UNROLL=8"),
    ("set BLOCK_K to 32", "read as: BLOCK_K=32"),
    ("pin THREADS = 4", "read as: THREADS=4"),
    ("UNROLL 8 please", "read as: UNROLL=8"),
    ("keep UNROLL at 8 and BLOCK_K at 32", "read as: UNROLL=8, BLOCK_K=32"),
    ("keep UNROLL", "read as: UNROLL as it is"),
    ("never touch THREADS", "read as: THREADS as it is"),
    ("only vary BLOCK_K", "read as: vary BLOCK_K (the other knobs stay as they are)"),
    ("try BLOCK_K=16 first", f"read as: BLOCK_K=16 {ONE}"),
    ("UNROLL=8 first, BLOCK_K=32 next", f"{REFUSED}not a sequence (first ..., then ...)"),
    ("vary THREADS except 8",
     "read as: THREADS never 8, vary THREADS (the other knobs stay as they are)"),
    ("never set UNROLL above 4", "read as: UNROLL one of 1 2 4"),
    ("exclude UNROLL < 4", "read as: UNROLL one of 4 8"),
    ("UNROLL should not be less than 4", "read as: UNROLL one of 4 8"),
    ("LAYOUT=col", "read as: LAYOUT=col"),
    ("avoid LAYOUT row", "read as: LAYOUT never row"),
    # read only in part: refused whole
    ("UNROLL 2 then 8", f"{REFUSED}cannot tell"),
    ("keep UNROLL at 8 and 4", f"{REFUSED}cannot tell"),
    ("UNROLL=8 and 4 threads or so", f"{REFUSED}it does not read 'so'"),
    ("keep UNROLL at 8, 16", f"{REFUSED}UNROLL=16 is not a declared value (1 2 4 8)"),
    ("UNROLL 8 (BLOCK_K 16 was slow)", "read as: UNROLL=8, BLOCK_K never 16"),
    ("set it to 8", f"{REFUSED}names no knob of this kernel"),
    ("keep UNROLL at 8 and 32", f"{REFUSED}UNROLL=32 is not a declared value (1 2 4 8)"),
    # -- judgements: a refusal never advises the value just called bad -------------------------
    ("BLOCK_K=16 is bad, BLOCK_K=32 is the best",
     f"{REFUSED}say 'keep BLOCK_K at 32' for every step"),
    ("BLOCK_K=16 is bad", "read as: BLOCK_K never 16"),
    ("8 threads was slow", "read as: THREADS never 8"),
    ("128 for BLOCK_K hurt", "read as: BLOCK_K never 128"),
    ("avoid BLOCK_K 16, it's slow", "read as: BLOCK_K never 16"),
    ("BLOCK_K 16 is not good", "read as: BLOCK_K never 16"),
    ("UNROLL=8 is good", f"{REFUSED}praises, and praise is not read as a request"),
    ("UNROLL above 2 was slow", f"{REFUSED}cannot tell"),
]


def read_as_expected(text: str, expected: str, knobs: Mapping[str, Sequence[str]]) -> None:
    """``text`` gets the reading ``expected`` ("read as: ..."), or is refused whole in one
    line that holds ``expected`` (after "refused: ") and the forms that are read."""
    request = read_knob_request(text, knobs)
    line = reading_line(request, knobs)
    if expected.startswith("read as: "):
        assert request.usable and line == expected, line
    else:
        assert not request.usable and expected.removeprefix(REFUSED) in line, line
        assert FORMS in line and "\n" not in line, line


@pytest.mark.parametrize(("text", "expected"), CORPUS)
def test_each_phrasing_gets_its_reading_or_is_refused_whole(text: str, expected: str) -> None:
    read_as_expected(text, expected, KNOBS)


def test_the_corpus_is_wide_and_each_phrasing_once() -> None:
    assert len(CORPUS) >= 100 and len({text for text, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("text", ["UNROLL > 2", "UNROLL more than 2", "UNROLL above 2",
                                  "UNROLL >= 4", "UNROLL at least 4", "UNROLL 4 or more"])
def test_a_comparison_never_allows_the_value_it_rules_out(text: str) -> None:
    request = read_knob_request(text, KNOBS)
    assert "UNROLL" not in request.pins and request.allowed["UNROLL"] <= {"4", "8"}, request


def test_a_judged_value_is_never_advised() -> None:
    """A refusal's example is never a value the same words call bad."""
    for text in ("BLOCK_K=16 is bad, BLOCK_K=32 is the best",
                 "BLOCK_K=16 was slow but BLOCK_K 32 is good",
                 "BLOCK_K=16 is bad and BLOCK_K 16 helped"):
        line = reading_line(read_knob_request(text, KNOBS), KNOBS)
        assert "at 16" not in line and "BLOCK_K=16 next" not in line, line

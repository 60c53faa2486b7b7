"""Reading a person's hint or guidance as knob requests, for operators that only turn knobs.

Knob names are matched case-insensitively against the knobs the kernel declares (a plural or
singular too: "8 threads"). What is said of a knob is read after its name or, a value or a
comparison, before it ("avoid 8 threads", "at least 64 for BLOCK_K"). A verb sets what the
knob names after it (up to the end of the sentence, or the next verb) ask:

- keep a value: ``keep|hold|pin|fix|lock|set|use|try KNOB at|to|= V``, ``KNOB=V``, ``KNOB: V``,
  ``KNOB to V``, ``KNOB V``, ``KNOB must stay (at) V``, ``KNOB should be V``, ``V KNOB``,
  ``use V for KNOB``;
- allow only some values: a comparison ``KNOB > V`` (``<``, ``>=``, ``<=``, ``above``,
  ``below``, ``more|less than``, ``at most|least``, ``up to``, ``V or more|less``), a range
  ``KNOB between V and W`` (``V..W``), or a set ``KNOB V or W``, ``KNOB one of V, W``: the
  knob's declared values that fit (issue 87: "UNROLL > 2" was read as "UNROLL=2");
- keep it as it is: ``keep|hold|freeze KNOB``, ``never touch KNOB``, ``don't change KNOB``,
  ``do not vary KNOB``, ``leave KNOB alone``, ``KNOB must not change``, ``KNOB stays``;
- vary only these: ``only vary KNOB``, ``vary only KNOB``, ``vary KNOB and KNOB``, ``focus on
  KNOB``, or the bare names ``KNOB KNOB``;
- avoid values: ``avoid KNOB V``, ``never KNOB V``, ``no KNOB=V``, ``KNOB != V``,
  ``don't use KNOB V``, ``KNOB must not be V``, ``avoid V KNOB``, ``avoid V for KNOB``, a
  negated comparison (``no more than V``: the rest), and a judgement of values as bad:
  ``KNOB=V is bad|slow|worse``, ``KNOB V hurt|regressed|made it worse|didn't help|was a dead
  end``, ``no gain from KNOB V``, ``keep KNOB away from V``.

``first``, ``next``, ``once``, ``this step`` ask it of one step only, guidance included.

What it cannot read for sure is a problem, never a guess: a knob with an undeclared value, a
knob named beside words that set nothing (``increase UNROLL``), a word or a symbol it does not
read, a value no knob is said of, a negation with no known verb (``don't keep UNROLL``), a
comparison that allows no declared value, two requests that contradict each other, a question
(``should THREADS be 4?``) or a hedge (``maybe``). A judgement that is not plainly bad is one
too: praise (``KNOB=V is good``) is no request to keep V, and ``KNOB=V is not bad`` asks
nothing; a refusal's example never names a value the same words call bad. A request with a
problem is not usable as a whole, so nothing is ever read backwards or in part (issue 53: "keep
UNROLL at 8" was read as "vary UNROLL"; issue 71: "BLOCK_K=16 is bad" as "BLOCK_K=16"; issue
87: "avoid 8 threads" as "THREADS as it is").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..evaluation.declarations import contract
from ..evaluation.declarations.contract import ContractError, Knob
from .hint_reader import Reader
from .knob_request import KnobRequest

__all__ = ["FORMS", "KnobRequest", "declared_knobs", "read_knob_request", "reading",
           "reading_line", "refusal"]

FORMS = ("keep|hold|pin|fix KNOB at V, KNOB=V, KNOB must stay V, use V for KNOB, "
         "KNOB > V|< V|at least V|at most V, KNOB between V and W, KNOB V or W, only vary KNOB, "
         "never touch KNOB, don't change KNOB, avoid KNOB V, avoid V KNOB, "
         "KNOB=V is slow|bad|hurt (avoid V), try KNOB=V first|next|once (one step)")


def declared_knobs(files: Mapping[str, str]) -> dict[str, Knob]:
    """Every knob the files declare (``// avo:knob``), by name."""
    knobs: dict[str, Knob] = {}
    for text in files.values():
        try:
            knobs |= {k.name: k for k in contract.parse(text).knobs}
        except ContractError:
            continue
    return knobs


def read_knob_request(text: str, knobs: Mapping[str, Sequence[str]]) -> KnobRequest:
    """What ``text`` asks of the knobs ``knobs`` (name -> declared choices)."""
    return Reader(text, knobs).read()


def reading(request: KnobRequest) -> str:
    """How the tuner reads a usable request, in words."""
    once = " for one step" if request.once else ""
    rest = " (the other knobs stay as they are)" if request.focus else ""
    return f"{request.describe()}{once}{rest}"


def reading_line(request: KnobRequest, knobs: Mapping[str, Sequence[str]]) -> str:
    """One line: how the tuner reads a request, or why it cannot and the forms it takes."""
    return f"read as: {reading(request)}" if request.usable else refusal(request, knobs)


def refusal(request: KnobRequest, knobs: Mapping[str, Sequence[str]]) -> str:
    why = "; ".join(request.problems) or "names no knob of this kernel"
    return (f"the tuner cannot read it: {why}. It reads: {FORMS} "
            f"(this kernel's knobs: {', '.join(sorted(knobs)) or 'none'})")

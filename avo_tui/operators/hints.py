"""Reading a person's hint or guidance as knob requests, for operators that only turn knobs.

Knob names are matched case-insensitively against the knobs the kernel declares. A verb sets
what the knob names after it (up to the end of the sentence, or the next verb) ask:

- keep a value: ``keep|hold|pin|fix|lock|set|use|try KNOB at|to|= V``, ``KNOB=V``, ``KNOB: V``,
  ``KNOB to V``, ``KNOB V``, ``KNOB must stay (at) V``, ``KNOB should be V``;
- keep it as it is: ``keep|hold|freeze KNOB``, ``never touch KNOB``, ``don't change KNOB``,
  ``do not vary KNOB``, ``leave KNOB alone``, ``KNOB must not change``, ``KNOB stays``;
- vary only these: ``only vary KNOB``, ``vary only KNOB``, ``vary KNOB and KNOB``, ``focus on
  KNOB``, or the bare names ``KNOB KNOB``;
- avoid values: ``avoid KNOB V``, ``never KNOB V``, ``no KNOB=V``, ``KNOB != V``,
  ``don't use KNOB V``.

What it cannot read for sure is a problem, never a guess: a knob with an undeclared value, a
knob named beside words that set nothing (``increase UNROLL``), a negation with no known verb
(``don't keep UNROLL``), two requests that contradict each other. A request with a problem
is not usable as a whole, so nothing is ever read backwards (issue 53: "keep UNROLL at 8" was
read as "vary UNROLL").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..evaluation.declarations import contract
from ..evaluation.declarations.contract import ContractError, Knob

FORMS = ("keep|hold|pin|fix KNOB at V, KNOB=V, KNOB must stay V, only vary KNOB, "
         "never touch KNOB, don't change KNOB, avoid KNOB V")

_TOKEN = re.compile(
    r"(?P<num>[-+]?\d+(?:\.\d+)?)(?![A-Za-z_])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:'[A-Za-z]+)?)"
    r"|(?P<op>!=|==|->|→|≠|=|:)"
    r"|(?P<stop>[;.!?\n]+)"
    r"|(?P<comma>[,/&])"
)


class Mode(Enum):
    KEEP = "keep"  # a value if one follows, else as it is
    HOLD = "hold"  # as it is (a negated change)
    VARY = "vary"
    AVOID = "avoid"  # the values that follow; a knob with none is held
    UNREAD = "unread"  # a negated verb whose sense is not clear ("don't keep")


_NEGATIONS = {"not", "never", "no", "don't", "dont", "doesn't", "mustn't", "shouldn't",
              "can't", "cannot", "won't", "without", "nor"}
_KEEP = {"keep", "keeps", "keeping", "kept", "hold", "holds", "holding", "held", "pin", "pins",
         "pinned", "fix", "fixes", "fixed", "lock", "locks", "locked", "freeze", "freezes",
         "frozen", "leave", "leaves", "stay", "stays", "remain", "remains", "stick", "retain",
         "preserve", "maintain"}
_USE = {"set", "use", "using", "try", "put", "choose", "pick", "go", "make"}
_VARY = {"vary", "varies", "varying", "tune", "tuning", "explore", "exploring", "focus",
         "search", "sweep", "mutate", "change", "changing", "adjust", "modify", "alter", "touch",
         "move", "play", "experiment", "optimize", "optimise", "randomize", "randomise"}
_ONLY = {"only", "just", "solely"}
_AVOID = {"avoid", "avoiding", "exclude", "excluding", "except", "skip", "ban", "forbid",
          "reject", "drop"}
_CLAUSE = {"but", "while", "whereas", "then", "otherwise"}
# After a knob: "UNROLL must stay 8", "THREADS should not change", "STAGES stays as is".
_MODAL = {"must", "should", "shall", "will", "has", "have", "to", "needs", "need", "always",
          "can", "may", "ever", "is", "are", "be", "being", "get", "gets"}
_STAY = {"stay", "stays", "remain", "remains", "fixed", "pinned", "held", "kept", "locked",
         "frozen", "unchanged", "alone", "constant", "put", "same", "untouched"}
_CHANGED = {"change", "changes", "changed", "move", "moves", "moved", "vary", "varies", "varied",
            "touched", "touch", "altered", "modified", "tuned"}
_VALUE_OPS = {"=", ":", "==", "->", "→", "to", "at", "of", "on", "is", "be", "as"}
_NOT_OPS = {"!=", "≠"}
# Words that set nothing and hide nothing: a bare knob name among them is a knob to vary.
_FILLER = {"the", "a", "an", "please", "knob", "knobs", "value", "values", "and", "or", "for",
           "now", "it", "its", "of", "on", "at", "to", "as", "is", "with", "all", "others",
           "other", "rest", "let", "lets", "let's", "us", "we", "you", "i", "ever", "also",
           "do", "does", "in", "from", "here", "there", "setting", "settings", "first", "again",
           "same", "time", "be"}
_KNOWN = (_NEGATIONS | _KEEP | _USE | _VARY | _ONLY | _AVOID | _CLAUSE | _MODAL | _STAY | _CHANGED
          | _FILLER)


@dataclass
class KnobRequest:
    pins: dict[str, str] = field(default_factory=dict)  # knob -> value to use
    focus: set[str] = field(default_factory=set)  # the only knobs to vary
    held: set[str] = field(default_factory=set)  # knobs kept as the version built on has them
    avoid: dict[str, set[str]] = field(default_factory=dict)  # knob -> values never to use
    problems: list[str] = field(default_factory=list)  # what could not be read for sure

    @property
    def usable(self) -> bool:
        return bool(self.pins or self.focus or self.held or self.avoid) and not self.problems

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.pins.items()]
        parts += [f"{k} as it is" for k in sorted(self.held - self.pins.keys())]
        parts += [f"{k} never {' '.join(sorted(v, key=_order))}"
                  for k, v in sorted(self.avoid.items())]
        if focus := sorted(self.focus - self.pins.keys()):
            parts.append(f"vary {', '.join(focus)}")
        return ", ".join(parts)

    def fixed(self, current: Mapping[str, str]) -> dict[str, str]:
        """The values every candidate has: the pinned ones and the held knobs' ``current``."""
        return {k: current[k] for k in self.held if k in current} | self.pins

    def merge(self, other: KnobRequest) -> None:
        self.pins |= other.pins
        self.focus |= other.focus
        self.held |= other.held
        for name, values in other.avoid.items():
            self.avoid.setdefault(name, set()).update(values)


def _order(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


@dataclass
class _Token:
    kind: str
    text: str
    start: int

    @property
    def low(self) -> str:
        return self.text.lower()


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
    return _Reader(text, knobs).read()


def reading_line(request: KnobRequest, knobs: Mapping[str, Sequence[str]]) -> str:
    """One line: how the tuner reads a request, or why it cannot and the forms it takes."""
    if request.usable:
        rest = " (the other knobs stay as they are)" if request.focus else ""
        return f"read as: {request.describe()}{rest}"
    return refusal(request, knobs)


def refusal(request: KnobRequest, knobs: Mapping[str, Sequence[str]]) -> str:
    why = "; ".join(request.problems) or "names no knob of this kernel"
    return (f"the tuner cannot read it: {why}. It reads: {FORMS} "
            f"(this kernel's knobs: {', '.join(sorted(knobs)) or 'none'})")


class _Reader:
    def __init__(self, text: str, knobs: Mapping[str, Sequence[str]]) -> None:
        self.text = text.replace("’", "'").replace("‘", "'")
        self.knobs = knobs
        self.by_lower = {name.lower(): name for name in knobs}
        self.tokens = [_Token(m.lastgroup or "", m.group(), m.start())
                       for m in _TOKEN.finditer(self.text)]
        self.request = KnobRequest()
        self.named = False

    def knob(self, token: _Token) -> str | None:
        return self.by_lower.get(token.low) if token.kind == "word" else None

    def read(self) -> KnobRequest:
        clause: list[_Token] = []
        for token in self.tokens:
            if token.kind == "stop" or token.low in _CLAUSE:
                self.clause(clause)
                clause = []
            else:
                clause.append(token)
        self.clause(clause)
        if not self.named:
            self.request.problems.insert(0, "it names no knob of this kernel")
        self.check()
        return self.request

    def clause(self, tokens: list[_Token]) -> None:
        if not any(self.knob(t) for t in tokens):
            return
        mode: Mode | None = None
        negated = False
        # A bare knob name is one to vary only among words that set nothing: never beside a
        # word that keeps, avoids or negates ("UNROLL, keep it"), nor one not known at all.
        bare_ok = all(self.knob(t) or t.low in _FILLER | _VARY | _ONLY
                      for t in tokens if t.kind == "word")
        end = tokens[-1].start + len(tokens[-1].text)
        words = self.text[tokens[0].start:end]
        i = 0
        while i < len(tokens):
            token = tokens[i]
            low = token.low
            name = self.knob(token)
            if name is None:
                if low in _NEGATIONS:
                    negated = True
                elif low in _KEEP:
                    mode, negated = (Mode.UNREAD if negated else Mode.KEEP), False
                elif low in _USE:
                    mode, negated = (Mode.AVOID if negated else Mode.KEEP), False
                elif low in _VARY:
                    mode, negated = (Mode.HOLD if negated else Mode.VARY), False
                elif low in _AVOID:
                    mode, negated = (Mode.UNREAD if negated else Mode.AVOID), False
                elif low in _ONLY and mode is None:
                    mode = Mode.VARY
                i += 1
                continue
            self.named = True
            i = self.one_knob(name, tokens, i + 1, mode, negated, bare_ok, words)
            negated = False if mode is not None else negated

    def one_knob(self, name: str, tokens: list[_Token], i: int, mode: Mode | None,
                 negated: bool, bare_ok: bool, words: str) -> int:
        """Read what is asked of ``name``, whose mention ends before ``tokens[i]``; the index
        after what was read."""
        choices = self.knobs[name]
        while i < len(tokens) and tokens[i].low in {"knob", "value"}:
            i += 1
        values, i, against = self.values(name, tokens, i, mode == Mode.AVOID or negated)
        if not values:
            after, i = self.after(tokens, i)
            if after is not None:
                mode, negated = after, False
                values, i, _ = self.values(name, tokens, i, False)
        if values is None:
            return i
        if against:
            mode = Mode.AVOID
        elif negated and mode is None:
            mode = Mode.AVOID if values else Mode.HOLD
        request = self.request
        if mode == Mode.UNREAD:
            request.problems.append(f"cannot tell what {words!r} asks of {name}")
        elif values and mode == Mode.AVOID:
            request.avoid.setdefault(name, set()).update(values)
        elif values:
            if len(values) > 1:
                request.problems.append(f"{name}: one value to keep, not {' or '.join(values)}")
            elif request.pins.get(name, values[0]) != values[0]:
                request.problems.append(f"{name} is asked to be both {request.pins[name]} and "
                                        f"{values[0]}")
            request.pins[name] = values[0]
        elif mode in (Mode.KEEP, Mode.HOLD, Mode.AVOID):
            request.held.add(name)
        elif mode == Mode.VARY or (mode is None and bare_ok):
            request.focus.add(name)
        else:
            request.problems.append(f"cannot tell what {words!r} asks of {name} "
                                    f"(choices {' '.join(choices)})")
        return i

    def values(self, name: str, tokens: list[_Token], i: int,
               listing: bool) -> tuple[list[str] | None, int, bool]:
        """The values written after ``name`` at ``tokens[i]`` (several only where ``listing``:
        "avoid UNROLL 1 or 2"), the index after them, and whether they are to be avoided
        (``!=``). None: a value the knob does not declare (a problem, noted)."""
        choices = self.knobs[name]
        against = False
        j = i
        if j < len(tokens) and (tokens[j].text in _NOT_OPS or (
                tokens[j].low in _NEGATIONS and _is_value(tokens, j + 1))):
            against, j = True, j + 1
        symbol = False  # "UNROLL=fast": a value meant, but not one the knob declares
        if j < len(tokens) and (tokens[j].low in _VALUE_OPS):
            symbol, j = tokens[j].kind == "op", j + 1
        if not _is_value(tokens, j) or self.knob(tokens[j]):
            return [], i, False
        value = tokens[j].text
        if value not in choices:
            if tokens[j].kind == "num" or (symbol and tokens[j].low not in _KNOWN):
                self.request.problems.append(
                    f"{name}={value} is not a declared value ({' '.join(choices)})")
                return None, j + 1, against
            if tokens[j].kind != "num":
                return [], i, False
        found = [value]
        j += 1
        while listing and j < len(tokens):
            k = j + (tokens[j].kind == "comma" or tokens[j].low in {"or", "and", "nor"})
            if k >= len(tokens) or tokens[k].text not in choices or self.knob(tokens[k]):
                break
            found.append(tokens[k].text)
            j = k + 1
        return found, j, against

    def after(self, tokens: list[_Token], i: int) -> tuple[Mode | None, int]:
        """What the words right after a knob ask: "must stay", "should not change"."""
        j = i + (i < len(tokens) and tokens[i].text in {":", "-", "->"})
        negated = False
        while j < len(tokens) and tokens[j].kind == "word":
            low = tokens[j].low
            if low in _NEGATIONS:
                negated = True
            elif low in _STAY | _KEEP | {"be", "is", "are"} and not negated:
                return Mode.KEEP, j + 1
            elif low in _CHANGED | _VARY and negated:
                return Mode.HOLD, j + 1
            elif low not in _MODAL and low not in {"as", "it", "is", "do", "does", "be"}:
                break
            j += 1
        return None, i

    def check(self) -> None:
        request = self.request
        for name, values in request.avoid.items():
            choices = self.knobs[name]
            if request.pins.get(name) in values:
                request.problems.append(f"{name}={request.pins[name]} is both kept and avoided")
            if not set(choices) - values:
                request.problems.append(f"avoiding {' '.join(sorted(values, key=_order))} "
                                        f"leaves {name} no value")
        for name in sorted(request.focus & (request.held | request.pins.keys())):
            request.problems.append(f"{name} is asked to vary and to stay")


def _is_value(tokens: list[_Token], j: int) -> bool:
    return j < len(tokens) and tokens[j].kind in ("num", "word")

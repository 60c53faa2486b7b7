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
  ``don't use KNOB V``, and a judgement of values as bad: ``KNOB=V is bad|slow|worse``,
  ``KNOB V hurt|regressed|made it worse|didn't help|was a dead end``, ``no gain from KNOB V``,
  ``keep KNOB away from V``.

``first``, ``next``, ``once``, ``this step`` ask it of one step only, guidance included.

What it cannot read for sure is a problem, never a guess: a knob with an undeclared value, a
knob named beside words that set nothing (``increase UNROLL``), a word it does not read, a
negation with no known verb (``don't keep UNROLL``), two requests that contradict each other.
A judgement that is not plainly bad is one too: praise (``KNOB=V is good``) is no request to
keep V, and ``KNOB=V is not bad`` asks nothing. A request with a problem is not usable as a
whole, so nothing is ever read backwards (issue 53: "keep UNROLL at 8" was read as "vary
UNROLL"; issue 71: "BLOCK_K=16 is bad" was read as "BLOCK_K=16", "keep UNROLL away from 8"
as "UNROLL as it is").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..evaluation.declarations import contract
from ..evaluation.declarations.contract import ContractError, Knob

FORMS = ("keep|hold|pin|fix KNOB at V, KNOB=V, KNOB must stay V, only vary KNOB, "
         "never touch KNOB, don't change KNOB, avoid KNOB V, KNOB=V is slow|bad|hurt (avoid V), "
         "try KNOB=V first|next|once (one step)")

_TOKEN = re.compile(
    r"(?P<num>[-+]?\d+(?:\.\d+)?)(?![A-Za-z_])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:'[A-Za-z]+)?)"
    r"|(?P<op>!=|==|->|→|≠|=|:)"
    r"|(?P<stop>[;.!?\n]+)"
    r"|(?P<comma>[,/&])"
)

_APART = re.compile(r"[\s-]+")  # between the words of a phrase: "dead end", "dead-end"


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
           "do", "does", "in", "from", "here", "there", "setting", "settings", "again",
           "same", "time", "be", "more"}
# One step only, even in standing guidance: "try BLOCK_K=16 first" is no pin (issue 71).
_ONCE = {"first", "next", "once", "this step", "one step", "next step", "this time"}
# Words read together, as one ("keep UNROLL away from 8", "a dead end", "for one step").
_PHRASES = (("away", "from"), ("dead", "end"), ("this", "step"), ("one", "step"),
            ("next", "step"), ("this", "time"))
_KNOWN = (_NEGATIONS | _KEEP | _USE | _VARY | _ONLY | _AVOID | _CLAUSE | _MODAL | _STAY | _CHANGED
          | _FILLER | _ONCE)

# Judgements of values (issue 71: "BLOCK_K=16 is bad" was read as "BLOCK_K=16"). A bad one, or
# a good one negated ("didn't help", "no gain"), is read as avoiding the values it names; a good
# one and a negated bad one ("is not bad") are refused.
_BAD = {"bad", "worse", "worst", "slow", "slower", "slowest", "slowed", "hurt", "hurts",
        "hurting", "regressed", "regresses", "regression", "poor", "poorly", "useless",
        "pointless", "harmful", "terrible", "awful", "failed", "fails", "broken", "lost",
        "loses", "counterproductive", "away from", "dead end"}
_GOOD = {"good", "better", "best", "fast", "faster", "fastest", "quick", "quicker", "great",
         "help", "helps", "helped", "helpful", "work", "works", "worked", "win", "wins", "won",
         "improved", "improves", "improvement", "gain", "gains", "promising", "speedup",
         "excellent", "nice", "fine"}
# Negations of a statement, read only as they bind a judgement ("wasn't slow", "didn't help").
_STATEMENT_NEGATIONS = {"isn't", "wasn't", "aren't", "weren't", "didn't", "hasn't", "haven't",
                        "hadn't", "wouldn't", "couldn't", "isnt", "wasnt", "didnt"}
# Words a judgement is said with, which ask nothing.
_JUDGING = {"was", "were", "been", "seem", "seems", "seemed", "look", "looks", "looked",
            "really", "very", "much", "quite", "too", "clearly", "definitely", "made", "makes",
            "gave", "gives", "give", "got", "far", "way", "lot", "real", "any", "that", "this",
            "things", "performance", "perf", "speed", "throughput", "score", "results", "did",
            "had", "both"}
# Between a negation and the judgement it binds: "is not a dead end", "did not really help".
_BETWEEN = _JUDGING | {"is", "are", "be", "it", "a", "an", "the", "at", "all", "of", "do",
                       "does", "has", "have"}
# Beside a bad judgement, the avoiding verbs agree with it ("avoid UNROLL 8, it was slow"), and
# these too where they keep a knob "away from" a value.
_KEEPING_AWAY = {"keep", "keeps", "stay", "stays", "steer", "move"}


@dataclass
class KnobRequest:
    pins: dict[str, str] = field(default_factory=dict)  # knob -> value to use
    focus: set[str] = field(default_factory=set)  # the only knobs to vary
    held: set[str] = field(default_factory=set)  # knobs kept as the version built on has them
    avoid: dict[str, set[str]] = field(default_factory=dict)  # knob -> values never to use
    problems: list[str] = field(default_factory=list)  # what could not be read for sure
    once: bool = False  # for one step only ("first", "next", "once"), even as guidance

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
        if self.kind != "word":
            return self.text.lower()
        return " ".join(_APART.split(self.text.lower()))  # a phrase's words one space apart


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


class _Reader:
    def __init__(self, text: str, knobs: Mapping[str, Sequence[str]]) -> None:
        self.text = text.replace("’", "'").replace("‘", "'")
        self.knobs = knobs
        self.by_lower = {name.lower(): name for name in knobs}
        self.tokens = _joined([_Token(m.lastgroup or "", m.group(), m.start())
                               for m in _TOKEN.finditer(self.text)], self.text)
        self.request = KnobRequest()
        self.named = False

    def knob(self, token: _Token) -> str | None:
        return self.by_lower.get(token.low) if token.kind == "word" else None

    def known(self, token: _Token) -> bool:
        return (token.low in _KNOWN or self.knob(token) is not None
                or any(token.text in choices for choices in self.knobs.values()))

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
        self.request.once = any(t.low in _ONCE for t in self.tokens)
        if self.request.once and any(t.low == "then" for t in self.tokens):
            self.request.problems.append("it reads one step's request, not a sequence "
                                         "(first ..., then ...): send the next one after it")
        self.check()
        return self.request

    def clause(self, tokens: list[_Token]) -> None:
        if not tokens:
            return
        words = self.text[tokens[0].start:tokens[-1].start + len(tokens[-1].text)]
        if judgements := _judgements(tokens):
            self.judged(tokens, judgements, words)
            return
        unknown = [t.text for t in tokens if t.kind == "word" and not self.known(t)]
        problems = self.request.problems
        if not any(self.knob(t) for t in tokens):
            if unknown:  # "UNROLL=8. Thanks, as ever" is not half read
                problems.append(f"cannot tell what {words!r} asks")
            return
        before = len(problems)
        self.instructed(tokens, words)
        if unknown and len(problems) == before:  # "UNROLL=8 since v3" is not half read
            problems.append(f"cannot tell what {words!r} asks: it does not read "
                            f"{', '.join(map(repr, unknown))}")

    def instructed(self, tokens: list[_Token], words: str) -> None:
        """Read a clause that asks something of the knobs it names (no judgement)."""
        mode: Mode | None = None
        negated = False
        # A bare knob name is one to vary only among words that set nothing: never beside a
        # word that keeps, avoids or negates ("UNROLL, keep it"), nor one not known at all.
        bare_ok = all(self.knob(t) or t.low in _FILLER | _VARY | _ONLY | _ONCE
                      for t in tokens if t.kind == "word")
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

    def judged(self, tokens: list[_Token], judgements: list[_Judgement], words: str) -> None:
        """Read a clause that judges values: as avoiding them where it says they are bad,
        else refused (praise is no request to keep a value, "not bad" asks nothing)."""
        verdicts = {j.verdict for j in judgements}
        name, value = self.example(tokens)
        if not any(self.knob(t) for t in tokens):  # "BLOCK_K=16. It was slow."
            self.request.problems.append(f"{words!r} judges no knob it names: say it of the "
                                         "values, 'UNROLL=8 is slow'")
            return
        self.named = True
        if Verdict.GOOD in verdicts:
            self.request.problems.append(
                f"{words!r} praises, and praise is not read as a request: say 'keep {name} at "
                f"{value}' for every step, or 'try {name}={value} next' for one")
        elif Verdict.NOT_BAD in verdicts:
            self.request.problems.append(
                f"{words!r} says what is not bad, which asks nothing for sure: say 'avoid "
                f"{name} {value}' or 'keep {name} at {value}'")
        else:
            self.avoid_judged(tokens, set().union(*(j.indices for j in judgements)), words)

    def avoid_judged(self, tokens: list[_Token], judging: set[int], words: str) -> None:
        """Avoid the values a bad judgement names, each after its knob; refused whole where
        a word asks more than the judgement, or a knob is judged with no value."""
        away = any(tokens[i].low == "away from" for i in judging)
        agreeing = _FILLER | _MODAL | _JUDGING | _AVOID | (_KEEPING_AWAY if away else set())
        judged: dict[str, list[str]] = {}
        knob: str | None = None
        for i, token in enumerate(tokens):
            if i in judging or token.kind == "comma" or token.text in {"=", ":", "=="}:
                continue
            if (name := self.knob(token)) is not None:
                judged.setdefault(name, [])
                knob = name
                continue
            if knob is not None and token.text in self.knobs[knob]:
                judged[knob].append(token.text)
            elif knob is not None and token.kind == "num":
                self.request.problems.append(f"{knob}={token.text} is not a declared value "
                                             f"({' '.join(self.knobs[knob])})")
                return
            elif token.kind != "word" or token.low not in agreeing:
                self.request.problems.append(
                    f"cannot tell what {words!r} asks: beside the judgement it says "
                    f"{token.text!r} (a judgement alone reads as avoiding: 'UNROLL=8 is slow')")
                return
        if unvalued := [name for name, values in judged.items() if not values]:
            self.request.problems.append(
                f"{words!r} judges {', '.join(unvalued)} but names no value to avoid "
                f"(say '{unvalued[0]}=V is slow')")
            return
        for name, values in judged.items():
            self.request.avoid.setdefault(name, set()).update(values)

    def example(self, tokens: list[_Token]) -> tuple[str, str]:
        """The first knob a clause names and the value after it, for a refusal's example."""
        for i, token in enumerate(tokens):
            if (name := self.knob(token)) is not None:
                values = [t.text for t in tokens[i + 1:] if t.text in self.knobs[name]]
                return name, values[0] if values else "V"
        return "KNOB", "V"

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


class Verdict(Enum):
    BAD = "bad"  # "is slow", "hurt", "didn't help", "no gain"
    GOOD = "good"  # "is good", "was fast"
    NOT_BAD = "not bad"  # "is not bad", "didn't hurt"


@dataclass(frozen=True)
class _Judgement:
    verdict: Verdict
    indices: frozenset[int]  # its judging word, and the negation that binds it


def _judgements(tokens: list[_Token]) -> list[_Judgement]:
    """The judgements of a clause, each with its verdict."""
    found = []
    for i, token in enumerate(tokens):
        if token.low not in _BAD | _GOOD or (i and tokens[i - 1].text in {"=", "=="}):
            continue  # "UNROLL=fast" sets a value (one not declared), it judges none
        negation = _bound_negation(tokens, i)
        bad = token.low in _BAD
        if negation is None:
            found.append(_Judgement(Verdict.BAD if bad else Verdict.GOOD, frozenset({i})))
        else:
            found.append(_Judgement(Verdict.NOT_BAD if bad else Verdict.BAD,
                                    frozenset({i, negation})))
    return found


def _bound_negation(tokens: list[_Token], i: int) -> int | None:
    """The index of the negation of the judgement at ``tokens[i]`` ("was not slow"), if any."""
    j = i - 1
    while j >= 0 and tokens[j].low in _BETWEEN:
        j -= 1
    return j if j >= 0 and tokens[j].low in _NEGATIONS | _STATEMENT_NEGATIONS else None


def _joined(tokens: list[_Token], text: str) -> list[_Token]:
    """``tokens`` (of ``text``) with each phrase (_PHRASES) made one word token."""
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        phrase = next((p for p in _PHRASES
                       if tuple(t.low for t in tokens[i:i + len(p)]) == p
                       and all(t.kind == "word" for t in tokens[i:i + len(p)])), None)
        if phrase is None:
            out.append(tokens[i])
            i += 1
            continue
        parts = tokens[i:i + len(phrase)]
        end = parts[-1].start + len(parts[-1].text)
        out.append(_Token("word", text[parts[0].start:end], parts[0].start))
        i += len(phrase)
    return out


def _is_value(tokens: list[_Token], j: int) -> bool:
    return j < len(tokens) and tokens[j].kind in ("num", "word")

"""The reader behind hints.read_knob_request: one clause at a time, each knob with what is said
of it, before or after its name. hints.py says what it reads and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from . import hint_words as w
from .hint_judgements import JUDGING, KEEPING_AWAY, Verdict, judgements
from .knob_request import KnobRequest, spoken
from .knob_sets import compared, ranged


class Mode(Enum):
    KEEP = "keep"  # a value if one follows, else as it is
    HOLD = "hold"  # as it is (a negated change)
    VARY = "vary"
    AVOID = "avoid"  # the values that follow; a knob with none is held
    UNREAD = "unread"  # a negated verb whose sense is not clear ("don't keep")


@dataclass
class _Said:
    """What is said of one knob right after its name."""

    values: list[str] = field(default_factory=list)  # named: "UNROLL 4 or 8"
    allowed: set[str] | None = None  # allowed by a comparison or a range: "UNROLL > 2"
    end: int = 0  # the index after what was read
    against: bool = False  # "UNROLL != 8", "UNROLL not above 4"
    joined_by_and: bool = False  # "UNROLL 4 and 8": one of them, or both in turn?
    problem: bool = False  # noted; nothing is asked of the knob

    @property
    def anything(self) -> bool:
        return bool(self.values) or self.allowed is not None


class Reader:
    def __init__(self, text: str, knobs: Mapping[str, Sequence[str]]) -> None:
        self.text = text.replace("’", "'").replace("‘", "'")
        self.knobs = knobs
        self.by_lower = {name.lower(): name for name in knobs}
        self.tokens = w.tokens_of(self.text, ())
        self.request = KnobRequest()
        self.named = False

    def knob(self, token: w.Token) -> str | None:
        """The knob a word names, its plural or singular included ("8 threads", "1 stage")."""
        if token.kind != "word":
            return None
        low = token.low
        return (self.by_lower.get(low) or self.by_lower.get(low + "s")
                or (self.by_lower.get(low[:-1]) if low.endswith("s") else None))

    def known(self, token: w.Token) -> bool:
        return (token.low in w.KNOWN or self.knob(token) is not None
                or any(token.text in choices for choices in self.knobs.values()))

    def read(self) -> KnobRequest:
        clause: list[w.Token] = []
        for token in self.tokens:
            if token.kind == "stop" or token.low in w.CLAUSE:
                asked = "?" in token.text
                self.clause(clause, asked, end=token.end if asked else None)
                clause = []
            else:
                clause.append(token)
        self.clause(clause, asked=False, end=None)
        if not self.named:
            self.request.problems.insert(0, "it names no knob of this kernel")
        once = [t.low for t in self.tokens if t.low in w.ONCE]
        self.request.once = bool(once)
        # "UNROLL=8 first, BLOCK_K=32 next" is two steps' requests, not one step's both
        if once and (len(set(once)) > 1 or any(t.low == "then" for t in self.tokens)):
            self.request.problems.append("it reads one step's request, not a sequence "
                                         "(first ..., then ...): send the next one after it")
        self.request.settle(self.knobs)
        return self.request

    def clause(self, tokens: list[w.Token], asked: bool, end: int | None) -> None:
        if not tokens:
            return
        words = self.text[tokens[0].start:tokens[-1].end if end is None else end].strip()
        problems = self.request.problems
        named = [name for t in tokens if (name := self.knob(t))]
        self.named |= bool(named)
        if other := next((t for t in tokens if t.kind == "other"), None):
            problems.append(f"cannot tell what {words!r} asks: it does not read {other.text!r}")
            return
        if asked or tokens[0].low in w.ASKING:
            example = named[0] if named else "KNOB"
            problems.append(f"{words!r} is a question, and a question is not read as a "
                            f"request: say what to do, e.g. 'keep {example} at V' or 'try "
                            f"{example}=V next'")
            return
        if any(t.low in w.UNSURE for t in tokens):
            problems.append(f"{words!r} is unsure, and is not read as a request: say what to "
                            "do, or nothing")
            return
        tokens = self.knob_first(tokens)
        if found := judgements(tokens):
            self.judged(tokens, found, words)
            return
        unknown = [t.text for t in tokens if t.kind == "word" and not self.known(t)]
        if not named:
            if unknown or any(t.kind in ("num", "op") for t in tokens):
                problems.append(f"cannot tell what {words!r} asks: it names no knob")
            return
        before = len(problems)
        self.instructed(tokens, words)
        if unknown and len(problems) == before:  # "UNROLL=8 since v3" is not half read
            problems.append(f"cannot tell what {words!r} asks: it does not read "
                            f"{', '.join(map(repr, unknown))}")

    # -- a value before its knob --------------------------------------------------------------

    def knob_first(self, tokens: list[w.Token]) -> list[w.Token]:
        """``tokens`` with each value said before its knob moved after it: "avoid 8 threads"
        as "avoid threads 8", "at least 64 for BLOCK_K" as "BLOCK_K at least 64"."""
        out: list[w.Token] = []
        for token in tokens:
            name = self.knob(token)
            start = len(out) if name is None else self.said_before(out, name)
            group = [t for t in out[start:] if t.low not in w.BEFORE_KNOB]
            del out[start:]
            out += [token, *group] if name is not None else [token]
        return out

    def said_before(self, out: list[w.Token], name: str) -> int:
        """Where in ``out`` the values said of knob ``name`` before its name begin (len(out):
        none). A value right after another knob is that knob's ("UNROLL=8 and 4 threads")."""
        j = len(out) - (bool(out) and out[-1].low in w.BEFORE_KNOB)
        j -= j > 0 and out[j - 1].low in w.AFTER  # "4 or more threads"
        if j == 0 or not self.could_be(out, j - 1, name, first=True):
            return len(out)
        start = p = j - 1
        while p > 0:
            t = out[p - 1]
            if t.low in w.BEFORE or t.low in w.RANGE or t.low in w.SET_WORDS:
                start = p = p - 1
            elif (t.kind == "comma" or t.low in {"or", "and", "nor"}) and p > 1 and (
                    self.could_be(out, p - 2, name, first=False)):
                start = p = p - 2
            else:
                break
        return start

    def could_be(self, out: list[w.Token], q: int, name: str, first: bool) -> bool:
        """Whether ``out[q]`` may be a value of ``name`` said before it: a number (the first
        one even if not declared, to be refused as such) or a declared value, not another
        knob's."""
        token = out[q]
        declared = token.text in self.knobs[name] and self.knob(token) is None
        if not (declared or (first and token.kind == "num")):
            return False
        owner = q - (q > 0 and out[q - 1].low in w.VALUE_OPS)
        return not (owner > 0 and self.knob(out[owner - 1]) and owner != q) and not (
            q > 0 and self.knob(out[q - 1]))

    # -- a clause that asks something ---------------------------------------------------------

    def instructed(self, tokens: list[w.Token], words: str) -> None:
        """Read a clause that asks something of the knobs it names (no judgement)."""
        mode: Mode | None = None
        negated = False
        unbound: w.Token | None = None  # a negation no verb or knob has taken yet
        # A bare knob name is one to vary only among words that set nothing: never beside a
        # word that keeps, avoids or negates ("UNROLL, keep it"), nor one not known at all.
        bare_ok = all(self.knob(t) or t.low in w.FILLER - {"more"} | w.VARY | w.ONLY | w.ONCE
                      for t in tokens if t.kind == "word")  # "more threads": more than what?
        i = 0
        while i < len(tokens):
            token = tokens[i]
            low = token.low
            name = self.knob(token)
            if name is not None:
                i = self.one_knob(name, tokens, i + 1, (mode, negated), bare_ok, words)
                negated, unbound = (False if mode is not None else negated), None
                continue
            if token.kind == "num" or token.low in w.BEFORE | w.AFTER.keys() | w.RANGE or (
                    token.kind == "op"):
                self.request.problems.append(f"cannot tell what {words!r} asks: which knob "
                                             f"is {token.text!r} for?")
                return
            if low in w.NEGATIONS:
                negated, unbound = True, token
            elif low in w.KEEP | w.USE and mode == Mode.AVOID and not negated:
                pass  # "avoid using 8 threads" avoids them
            elif low in w.KEEP:
                mode, negated = (Mode.UNREAD if negated else Mode.KEEP), False
            elif low in w.USE:
                mode, negated = (Mode.AVOID if negated else Mode.KEEP), False
            elif low in w.VARY:
                mode, negated = (Mode.HOLD if negated else Mode.VARY), False
            elif low in w.AVOID:
                mode, negated = (Mode.UNREAD if negated else Mode.AVOID), False
            elif low in w.ONLY and mode is None:
                mode = Mode.VARY
            if low in w.KEEP | w.USE | w.VARY | w.AVOID:
                unbound = None
            i += 1
        if unbound is not None:  # "THREADS 8 never": what does it negate?
            self.request.problems.append(f"cannot tell what {words!r} asks: what does "
                                         f"{unbound.text!r} negate?")

    def one_knob(self, name: str, tokens: list[w.Token], i: int,
                 how: tuple[Mode | None, bool], bare_ok: bool, words: str) -> int:
        """Read what is asked of ``name``, whose mention ends before ``tokens[i]`` (``how``:
        the clause's verb so far, and whether a negation waits); the index after it."""
        mode, negated = how
        while i < len(tokens) and tokens[i].low in {"knob", "value", "values"}:
            i += 1
        said = self.said(name, tokens, i, words)
        if not said.anything and not said.problem:
            after, j = self.after(tokens, i)
            if after is not None:
                if mode == Mode.VARY and after == Mode.AVOID:  # "vary THREADS except 8"
                    self.request.focus.add(name)
                mode, negated = after, False
                said = self.said(name, tokens, j, words)
                said.end = max(said.end, j)
        if said.problem:
            return said.end
        inverted = said.against or (negated and said.anything)
        if inverted and mode == Mode.AVOID:  # "avoid UNROLL != 8", "avoid no more than 4"
            self.request.problems.append(f"cannot tell what {words!r} asks of {name}: it "
                                         "avoids a negation")
            return said.end
        if inverted:  # "use no more than 4 threads", "no UNROLL below 4"
            mode = Mode.AVOID
        elif negated and mode is None:
            mode = Mode.HOLD
        self.ask(name, said, mode, bare_ok, words)
        return said.end

    def ask(self, name: str, said: _Said, mode: Mode | None, bare_ok: bool, words: str) -> None:
        """Note in the request what ``said`` asks of ``name`` under ``mode``."""
        request, choices = self.request, self.knobs[name]
        if mode == Mode.UNREAD:
            request.problems.append(f"cannot tell what {words!r} asks of {name}")
        elif said.allowed is not None:
            request.allow(name, said.allowed if mode != Mode.AVOID
                          else set(choices) - said.allowed)
            if mode == Mode.VARY:
                request.focus.add(name)
        elif said.values and mode == Mode.AVOID:
            request.avoid.setdefault(name, set()).update(said.values)
        elif len(said.values) > 1 and said.joined_by_and:
            request.problems.append(
                f"cannot tell whether {words!r} asks {name} to be one of {spoken(said.values)} "
                f"or each in turn: say '{name} one of {spoken(said.values)}'")
        elif len(said.values) > 1:
            request.allow(name, set(said.values))
        elif said.values:
            if request.pins.get(name, said.values[0]) != said.values[0]:
                request.problems.append(f"{name} is asked to be both {request.pins[name]} and "
                                        f"{said.values[0]}")
            request.pins[name] = said.values[0]
        elif mode in (Mode.KEEP, Mode.HOLD, Mode.AVOID):
            request.held.add(name)
        elif mode == Mode.VARY or (mode is None and bare_ok):
            request.focus.add(name)
        else:
            request.problems.append(f"cannot tell what {words!r} asks of {name} "
                                    f"(choices {' '.join(choices)})")

    def said(self, name: str, tokens: list[w.Token], i: int, words: str) -> _Said:
        """What is said of ``name`` from ``tokens[i]``: values, a comparison or a range."""
        choices = self.knobs[name]
        n = len(tokens)
        said = _Said(end=i)
        j = i
        if j < n and (tokens[j].low in w.NOT_OPS or (
                tokens[j].low in w.NEGATIONS and _is_value(tokens, j + 1))):
            said.against, j = True, j + 1
        symbol = False  # "UNROLL=fast": a value meant, but not one the knob declares
        if j < n and tokens[j].low in w.VALUE_OPS:
            symbol, j = tokens[j].kind == "op", j + 1
        j += j < n and tokens[j].low in w.SET_WORDS
        if j < n and (tokens[j].low in w.BEFORE or tokens[j].low in w.RANGE):
            return self.bounded(name, tokens, j, said, words)
        if not _is_value(tokens, j) or self.knob(tokens[j]):
            return _Said(end=i)
        value = tokens[j].text
        if value not in choices:
            if tokens[j].kind == "num" or (symbol and tokens[j].low not in w.KNOWN):
                return self.problem(said, j + 1, f"{name}={value} is not a declared value "
                                                 f"({' '.join(choices)})")
            return _Said(end=i)
        said.values, said.end = [value], j + 1
        return self.more(name, tokens, said, words)

    def more(self, name: str, tokens: list[w.Token], said: _Said, words: str) -> _Said:
        """After a knob's first value: "or more", a range's end, or more values listed."""
        choices, j, n = self.knobs[name], said.end, len(tokens)
        if j < n and tokens[j].low in w.AFTER:
            return self.limited(name, said, w.AFTER[tokens[j].low], said.values[0], j + 1)
        if j < n and tokens[j].text in {"..", "-"} and _is_value(tokens, j + 1):
            return self.spanned(name, said, (said.values[0], tokens[j + 1].text), j + 2)
        if j < n and tokens[j].low == "to" and _is_value(tokens, j + 1):
            return self.problem(said, j + 2, f"cannot tell whether {words!r} is a range or a "
                                f"change: say '{name} between {said.values[0]} and "
                                f"{tokens[j + 1].text}' for a range, or '{name}="
                                f"{tokens[j + 1].text}' for one value")
        while j < n:
            joiner = tokens[j].kind == "comma" or tokens[j].low in {"or", "and", "nor"}
            k = j + joiner
            if k >= n or self.knob(tokens[k]) or (tokens[k].kind != "num"
                                                  and tokens[k].text not in choices):
                break
            if tokens[k].text not in choices:
                return self.problem(said, k + 1, f"{name}={tokens[k].text} is not a declared "
                                                 f"value ({' '.join(choices)})")
            said.joined_by_and |= tokens[j].low == "and"
            said.values.append(tokens[k].text)
            j = k + 1
        said.end = j
        return said

    def bounded(self, name: str, tokens: list[w.Token], j: int, said: _Said,
                words: str) -> _Said:
        """A comparison ("> 2", "at least 4") or a range ("between 2 and 8") at ``tokens[j]``."""
        if tokens[j].low in w.RANGE:
            if (j + 3 < len(tokens) + 1 and _is_value(tokens, j + 1) and j + 2 < len(tokens)
                    and tokens[j + 2].low in {"and", "to"} and _is_value(tokens, j + 3)):
                return self.spanned(name, said, (tokens[j + 1].text, tokens[j + 3].text), j + 4)
        elif _is_value(tokens, j + 1) and not self.knob(tokens[j + 1]):
            said = self.limited(name, said, w.BEFORE[tokens[j].low], tokens[j + 1].text, j + 2)
            return self.also(name, tokens, said)
        return self.problem(said, j + 1, f"cannot tell what {words!r} asks of {name}")

    def also(self, name: str, tokens: list[w.Token], said: _Said) -> _Said:
        """A comparison joined to the one read: "at least 32 and at most 64"."""
        j = said.end
        while (not said.problem and said.allowed is not None and j + 2 < len(tokens)
               and tokens[j].low in {"and", ","} and tokens[j + 1].low in w.BEFORE
               and _is_value(tokens, j + 2)):
            first = said.allowed
            said = self.limited(name, said, w.BEFORE[tokens[j + 1].low], tokens[j + 2].text,
                                j + 3)
            if said.allowed is not None and not said.problem:
                said.allowed &= first
                if not said.allowed:
                    return self.problem(said, said.end, f"{name}: the comparisons together "
                                        f"allow none of its declared values "
                                        f"({' '.join(self.knobs[name])})")
            j = said.end
        return said

    def limited(self, name: str, said: _Said, op: str, bound: str, end: int) -> _Said:
        allowed, problem = compared(name, self.knobs[name], op, bound, said.against)
        return self.bounds(said, allowed, problem, end)

    def spanned(self, name: str, said: _Said, ends: tuple[str, str], end: int) -> _Said:
        allowed, problem = ranged(name, self.knobs[name], ends, said.against)
        return self.bounds(said, allowed, problem, end)

    def bounds(self, said: _Said, allowed: set[str], problem: str | None, end: int) -> _Said:
        if problem:
            return self.problem(said, end, problem)
        said.values, said.allowed, said.against, said.end = [], allowed, False, end
        return said

    def problem(self, said: _Said, end: int, why: str) -> _Said:
        self.request.problems.append(why)
        said.problem, said.end = True, end
        return said

    def after(self, tokens: list[w.Token], i: int) -> tuple[Mode | None, int]:
        """What the words right after a knob ask: "must stay", "should not change", "must
        not exceed", "should never be", "avoid"."""
        j = i + (i < len(tokens) and tokens[i].text in {":", "-", "->"})
        negated = False
        while j < len(tokens) and tokens[j].kind == "word":
            low = tokens[j].low
            if low in w.BEFORE:
                return (Mode.AVOID if negated else Mode.KEEP), j
            if low in w.NEGATIONS:
                negated = True
            elif low in w.AVOID and not negated:
                return Mode.AVOID, j + 1
            elif low in w.STAY | w.KEEP | {"be", "is", "are"} and not negated:
                return Mode.KEEP, j + 1
            elif low in w.CHANGED | w.VARY and negated:
                return Mode.HOLD, j + 1
            elif low not in w.MODAL and low not in {"as", "it", "is", "do", "does", "be"}:
                break
            j += 1
        if negated and _is_value(tokens, j) and tokens[j].kind == "num":
            return Mode.AVOID, j  # "UNROLL should never be 8", "BLOCK_K: never 128"
        return None, i

    # -- a clause that judges values ----------------------------------------------------------

    def judged(self, tokens: list[w.Token], found: list[tuple[Verdict, frozenset[int]]],
               words: str) -> None:
        """Read a clause that judges values: as avoiding them where it says they are bad,
        else refused (praise is no request to keep a value, "not bad" asks nothing). A
        refusal's example is never a value the same words call bad (issue 87)."""
        verdicts = {verdict for verdict, _ in found}
        if not any(self.knob(t) for t in tokens):  # "BLOCK_K=16. It was slow."
            self.request.problems.append(f"{words!r} judges no knob it names: say it of the "
                                         "values, 'UNROLL=8 is slow'")
            return
        bad_at = min((min(at) for verdict, at in found if verdict == Verdict.BAD), default=-1)
        for verdict, at in found:
            if verdict == Verdict.BAD:
                continue
            name, value = self.example(tokens, min(at), bad_at)
            if verdict == Verdict.GOOD:
                self.request.problems.append(
                    f"{words!r} praises, and praise is not read as a request: say 'keep {name} "
                    f"at {value}' for every step, or 'try {name}={value} next' for one")
            else:
                self.request.problems.append(
                    f"{words!r} says what is not bad, which asks nothing for sure: say 'avoid "
                    f"{name} {value}' or 'keep {name} at {value}'")
            return
        if Verdict.BAD in verdicts:
            self.avoid_judged(tokens, set().union(*(at for _, at in found)), words)

    def example(self, tokens: list[w.Token], at: int, bad_at: int) -> tuple[str, str]:
        """The knob named last before ``tokens[at]`` and its value there, for a refusal's
        example; "V" for a value also said before the bad judgement at ``bad_at``."""
        for i in range(at - 1, -1, -1):
            if (name := self.knob(tokens[i])) is not None:
                values = [t.text for t in tokens[i + 1:at] if t.text in self.knobs[name]]
                said_bad = any(t.text in values for t in tokens[:max(bad_at, 0)])
                return name, values[0] if values and not said_bad else "V"
        return "KNOB", "V"

    def avoid_judged(self, tokens: list[w.Token], judging: set[int], words: str) -> None:
        """Avoid the values a bad judgement names, each after its knob; refused whole where
        a word asks more than the judgement, or a knob is judged with no value."""
        away = any(tokens[i].low == "away from" for i in judging)
        agreeing = w.FILLER | w.MODAL | JUDGING | w.AVOID | (KEEPING_AWAY if away else set())
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


def _is_value(tokens: list[w.Token], j: int) -> bool:
    return j < len(tokens) and tokens[j].kind in ("num", "word")

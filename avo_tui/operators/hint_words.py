"""The words and symbols a hint is read with (hints.py), and the tokens a hint is cut into.

Every character of a hint is a token or space: a symbol the reader does not know is a token of
its own (``other``), which the reader refuses, so nothing is skipped unread (issue 87: "UNROLL
> 2" lost its ">" and was read as "UNROLL=2")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"(?P<num>(?:(?<![\w.])[-+])?\d+(?:\.\d+)?)(?![A-Za-z_])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:'[A-Za-z]+)?)"
    r"|(?P<op>(?:!=|==|>=|<=|=<|->|→|≠|≥|≤|(?<=\d)(?:\.\.|-)(?=\s*\d)|[=:<>])(?![=<>!]))"
    r"|(?P<stop>[;.!?\n()]+)"
    r"|(?P<comma>[,/&])"
    # quotes around a name, braces around a set ("UNROLL in {4, 8}"), a hyphen in "dead-end"
    r"|(?P<skip>[\"'`“”{}]|(?<=[A-Za-z])-(?=[A-Za-z]))"
    r"|(?P<other>[^\w\s]+)"
)

_APART = re.compile(r"[\s-]+")  # between the words of a phrase: "dead end", "dead-end"

NEGATIONS = {"not", "never", "no", "don't", "dont", "doesn't", "mustn't", "shouldn't",
             "can't", "cannot", "won't", "without", "nor"}
KEEP = {"keep", "keeps", "keeping", "kept", "hold", "holds", "holding", "held", "pin", "pins",
        "pinned", "fix", "fixes", "fixed", "lock", "locks", "locked", "freeze", "freezes",
        "frozen", "leave", "leaves", "stay", "stays", "remain", "remains", "stick", "retain",
        "preserve", "maintain"}
USE = {"set", "use", "using", "try", "put", "choose", "pick", "go", "make", "switch"}
VARY = {"vary", "varies", "varying", "tune", "tuning", "explore", "exploring", "focus",
        "search", "sweep", "mutate", "change", "changing", "adjust", "modify", "alter", "touch",
        "move", "play", "experiment", "optimize", "optimise", "randomize", "randomise"}
ONLY = {"only", "just", "solely"}
AVOID = {"avoid", "avoiding", "exclude", "excluding", "except", "skip", "ban", "forbid",
         "reject", "drop"}
CLAUSE = {"but", "while", "whereas", "then", "otherwise"}
# After a knob: "UNROLL must stay 8", "THREADS should not change", "STAGES stays as is".
MODAL = {"must", "should", "shall", "will", "has", "have", "to", "needs", "need", "always",
         "can", "may", "ever", "is", "are", "be", "being", "get", "gets"}
STAY = {"stay", "stays", "remain", "remains", "fixed", "pinned", "held", "kept", "locked",
        "frozen", "unchanged", "alone", "constant", "put", "same", "untouched"}
CHANGED = {"change", "changes", "changed", "move", "moves", "moved", "vary", "varies", "varied",
           "touched", "touch", "altered", "modified", "tuned"}
VALUE_OPS = {"=", ":", "==", "->", "→", "to", "at", "of", "on", "is", "be", "as", "by", "in",
             "from"}
NOT_OPS = {"!=", "≠", "other than"}
# Before the values of a set: "UNROLL either 4 or 8", "UNROLL one of 2, 4, 8".
SET_WORDS = {"either", "only", "one of", "any of", "just"}
# Between a value and the knob it comes before: "8 threads", "128 for BLOCK_K".
BEFORE_KNOB = {"for", "of", "on", "as"}
# Comparisons: the word or symbol, and the sense it has before a number ("UNROLL > 2") or after
# one ("UNROLL 4 or more").
BEFORE = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "=<": "<=", "≥": ">=", "≤": "<=",
          "above": ">", "over": ">", "beyond": ">", "more than": ">", "greater than": ">",
          "higher than": ">", "larger than": ">", "bigger than": ">", "exceed": ">",
          "exceeds": ">", "exceeding": ">", "below": "<", "under": "<", "less than": "<",
          "fewer than": "<", "lower than": "<", "smaller than": "<", "at most": "<=",
          "up to": "<=", "at least": ">=", "max": "<=", "maximum": "<=", "min": ">=",
          "minimum": ">=", "less than or equal to": "<=", "greater than or equal to": ">=",
          "at or below": "<=", "at or above": ">="}
AFTER = {"or more": ">=", "or higher": ">=", "or above": ">=", "or greater": ">=",
         "or larger": ">=", "or less": "<=", "or fewer": "<=", "or lower": "<=",
         "or below": "<=", "or smaller": "<="}
RANGE = {"between", "within"}
# The complement of each comparison, for a negated one ("no more than 4", "avoid UNROLL > 4").
OPPOSITE = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}
# Words that set nothing and hide nothing: a bare knob name among them is a knob to vary.
FILLER = {"the", "a", "an", "please", "knob", "knobs", "value", "values", "and", "or", "for",
          "now", "it", "its", "of", "on", "at", "to", "as", "is", "with", "all", "others",
          "other", "rest", "let", "lets", "let's", "us", "we", "you", "i", "ever", "also",
          "do", "does", "in", "from", "here", "there", "setting", "settings", "again",
          "same", "time", "be", "more", "by"}
# One step only, even in standing guidance: "try BLOCK_K=16 first" is no pin (issue 71).
ONCE = {"first", "next", "once", "this step", "one step", "next step", "this time"}
# A clause that opens with one of these asks rather than tells: "should THREADS be 4".
ASKING = {"should", "shall", "would", "could", "can", "does", "did", "is", "are", "will",
          "what", "which", "how", "why", "whether", "may", "might", "was", "were", "do you"}
UNSURE = {"maybe", "perhaps", "possibly", "probably", "might"}
# Words read together, as one ("keep UNROLL away from 8", "a dead end", "for one step").
PHRASES = tuple(sorted((
    ("away", "from"), ("dead", "end"), ("this", "step"), ("one", "step"), ("next", "step"),
    ("this", "time"), ("one", "of"), ("any", "of"), ("do", "you"), ("other", "than"),
    *(tuple(p.split()) for p in (*BEFORE, *AFTER) if " " in p)), key=len, reverse=True))
# the longest first: "less than or equal to" is one, not "less than" and three words more
KNOWN = (NEGATIONS | KEEP | USE | VARY | ONLY | AVOID | CLAUSE | MODAL | STAY | CHANGED
         | FILLER | ONCE | SET_WORDS | set(BEFORE) | set(AFTER) | RANGE | NOT_OPS)
# Numbers said in words ("at most four threads"), read as the number.
NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
                "twelve": "12", "sixteen": "16"}


@dataclass
class Token:
    kind: str  # num, word, op, stop, comma, other
    text: str
    start: int
    size: int | None = None  # in the hint, where it differs from the text's ("four": 4)

    @property
    def low(self) -> str:
        if self.kind != "word":
            return self.text.lower()
        return " ".join(_APART.split(self.text.lower()))  # a phrase's words one space apart

    @property
    def end(self) -> int:
        return self.start + (len(self.text) if self.size is None else self.size)


def tokens_of(text: str, phrases: tuple[tuple[str, ...], ...]) -> list[Token]:
    """``text`` cut into tokens, quotes and braces dropped, each of ``phrases`` (and PHRASES)
    made one word token."""
    found = [Token(m.lastgroup or "", m.group(), m.start()) for m in _TOKEN.finditer(text)
             if m.lastgroup != "skip"]
    return [Token("num", NUMBER_WORDS[t.low], t.start, len(t.text)) if t.kind == "word"
            and t.low in NUMBER_WORDS else t for t in _joined(found, text, phrases + PHRASES)]


def _joined(tokens: list[Token], text: str, phrases: tuple[tuple[str, ...], ...]) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        phrase = next((p for p in phrases
                       if tuple(t.low for t in tokens[i:i + len(p)]) == p
                       and all(t.kind == "word" for t in tokens[i:i + len(p)])), None)
        if phrase is None:
            out.append(tokens[i])
            i += 1
            continue
        parts = tokens[i:i + len(phrase)]
        out.append(Token("word", text[parts[0].start:parts[-1].end], parts[0].start))
        i += len(phrase)
    return out

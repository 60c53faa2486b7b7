"""What an outline is made of: pieces of a source with their line ranges, the tokens and
declaration heads they are read from, and the limits that scanning, naming and printing share."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_NAMES = 200  # kept by one "#define A, B, ..." line; the rest only counted
WIDTH = 100  # characters of one entry's description
MAX_HEAD_TOKENS = 80  # of a declaration's head: enough to name it
# Like pieces side by side become one line ("#define A, B, C").
LISTS = {
    "knobs": "knobs (avo:knob):", "avo": "avo: declarations:", "define": "#define",
    "include": "#include", "preprocessor": "preprocessor:", "declarations": "declarations:",
}


@dataclass
class Piece:
    start: int
    end: int
    kind: str
    label: str = ""
    name: str = ""
    names: list[str] = field(default_factory=list)  # what a list or a folded run holds
    hidden: int = 0  # names past MAX_NAMES
    members: int = 1  # pieces folded into this one
    children: list[Piece] = field(default_factory=list)


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    line: int
    end_line: int
    gap: bool  # whitespace or a comment came before it


@dataclass
class Head:
    """The tokens of the declaration being read at a scope's level, up to its ``{`` or ``;``."""

    start: int = 0
    tokens: list[Token] = field(default_factory=list)
    count: int = 0

    def add(self, token: Token) -> None:
        if not self.count:
            self.start = token.line
        self.count += 1
        if len(self.tokens) < MAX_HEAD_TOKENS:
            self.tokens.append(token)


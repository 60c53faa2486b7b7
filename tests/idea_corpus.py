"""Pairs of ideas for the shared vocabulary (issue 86), labelled one experiment ('same') or two
('different'), in two styles: short, and in the style of an agent's own notes (code
identifiers of the mha seed, kernels/cuda/attention_wgmma.cu, PTX terms, numbers with units).

Each idea carries the four fields as an agent would fill them from that idea's own words:
its own name for the technique, its own words for the place, its own direction word and its
own way of writing the value. Nothing here is in the vocabulary's normal form: the mapping
(operators/agent/vocabulary.py) must bring them there.

The pairs are in tests/fixtures/idea_corpus.txt, written before the vocabulary and the
free-text check were tuned. TUNED is the half the tuning looked at; HELD_OUT was written at
the same time and is never tuned against (only measured, in tests/unit/test_agent_vocabulary.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "idea_corpus.txt"


@dataclass(frozen=True)
class Idea:
    text: str
    technique: str
    place: str
    direction: str
    value: str


@dataclass(frozen=True)
class Pair:
    same: bool
    a: Idea
    b: Idea


def _idea(line: str) -> Idea:
    text, _, fields = line.partition(" || ")
    technique, place, direction, value = (part.strip() for part in fields.split("|"))
    return Idea(text.strip(), technique, place, direction, value)


def _pairs(block: str) -> list[Pair]:
    """``same:`` or ``diff:`` then two ideas, one a line: ``words || technique | place |
    direction | value``; a blank line between pairs."""
    found = []
    for chunk in block.strip().split("\n\n"):
        if chunk.lstrip().startswith("#"):
            continue
        label, a, b = (line.strip() for line in chunk.strip().splitlines())
        found.append(Pair(label == "same:", _idea(a), _idea(b)))
    return found


def _halves(text: str) -> dict[str, list[Pair]]:
    """The file's halves by their heading (``== NAME: ...``)."""
    parts = re.split(r"^== (\w+):[^\n]*$", text, flags=re.MULTILINE)
    return {name: _pairs(body) for name, body in zip(parts[1::2], parts[2::2], strict=True)}


_HALVES = _halves(CORPUS.read_text())
TUNED = _HALVES["TUNED"]
HELD_OUT = _HALVES["HELD_OUT"]
PAIRS = TUNED + HELD_OUT

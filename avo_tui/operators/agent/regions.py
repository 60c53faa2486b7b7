"""The kernel's own named regions, and the place an idea names matched to one of them.

A kernel names its parts with ``// avo:region NAME: what it holds`` and ``// avo:end NAME``
(regions may nest; a region without its end runs to the end of the file). They are the places
of the shared vocabulary (vocabulary.py): the brief lists them, and a place the agent writes
in its own words ("the rescale() of the O accumulator", "softmax_step", "the online softmax")
is matched to a region by the kernel's text, not by its spelling:

- the region that *defines* an identifier the place names (``rescale(`` in softmax), else the
  regions that use it, counted;
- then the words: the region's name, its description and its comments and identifiers split
  into words, each of the place's words found there counting once;
- ties go to the smaller region (the more exact place).

The operands a place names (Q, K, V, O, P, S: "the next K tile", ``k_tiles``) are kept beside
the region, so two places in one region that name other operands stay two places.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

_MARK = re.compile(r"//[ \t]*avo:(region|end)[ \t]+([A-Za-z_]\w*)[ \t]*:?[ \t]*(.*)$")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
OPERANDS = frozenset("qkvops")
REGION_TAG = "@"  # a place matched to a region is kept as '@NAME' (then its operands)
# Words of a place that name no part of a kernel.
_STOP = frozenset(re.findall(r"\w+", """the a an of in on at to for by from with and or its this
    that into out before after between per each every all one code part kernel function
    path step""" ))


@dataclass(frozen=True)
class Region:
    name: str
    about: str
    file: str
    spans: tuple[tuple[int, int], ...]  # the 1-based lines of each piece's markers
    text: str = field(repr=False)

    @property
    def size(self) -> int:
        return sum(last - first + 1 for first, last in self.spans)

    @cached_property
    def identifiers(self) -> Counter[str]:
        """The identifiers of its code, with how often each occurs."""
        return Counter(i.lower() for i in _IDENT.findall(_COMMENT.sub(" ", self.text)))

    @cached_property
    def defined(self) -> frozenset[str]:
        """The functions and types the region defines."""
        code = _COMMENT.sub(" ", self.text)
        found = re.findall(r"\b(?:struct|class|namespace)\s+(\w+)", code)
        found += re.findall(r"\b\w[\w:<>,\s*&]*?\s[*&]?(\w+)\s*\([^;{]*\)\s*(?:const\s*)?\{",
                            code)
        return frozenset(f.lower() for f in found)

    @cached_property
    def words(self) -> Counter[str]:
        """Every word of its name, description, comments and identifiers (split on _), with
        how often it occurs."""
        return Counter(_stem(w) for w in re.findall(r"[a-z0-9]+", " ".join(
            [self.name, self.about, self.text]).lower().replace("_", " ")))

    def line(self) -> str:
        """How the brief lists it."""
        lines = ", ".join(f"{first}-{last}" for first, last in self.spans)
        return f"- {self.name} ({self.file} lines {lines}): {self.about}"


def regions(files: Mapping[str, str]) -> list[Region]:
    """The regions the kernel's files declare, in file and line order; the pieces of one
    name in one file are one region."""
    found: dict[tuple[str, str], Region] = {}
    for name, text in sorted(files.items()):
        lines = text.splitlines()
        opened: list[tuple[str, str, int]] = []
        pieces: list[tuple[str, str, int, int]] = []
        for number, line in enumerate(lines, 1):
            mark = _MARK.search(line)
            if mark is None:
                continue
            kind, region, about = mark.groups()
            if kind == "region":
                opened.append((region, about.strip(), number))
                continue
            at = next((i for i in range(len(opened) - 1, -1, -1) if opened[i][0] == region),
                      None)
            if at is not None:
                region, about, first = opened.pop(at)
                pieces.append((region, about, first, number))
        pieces += [(region, about, first, len(lines)) for region, about, first in opened]
        for region, about, first, last in sorted(pieces, key=lambda p: p[2]):
            text_of = "\n".join(lines[first - 1:last])
            old = found.get((name, region))
            found[(name, region)] = Region(region, about, name, ((first, last),), text_of) \
                if old is None else Region(region, old.about, name, (*old.spans, (first, last)),
                                           f"{old.text}\n{text_of}")
    return sorted(found.values(), key=lambda r: (r.file, r.spans[0]))


def _stem(word: str) -> str:
    """A word without its ending: schedule, scheduler and scheduling are one."""
    for end in ("ing", "er", "ed", "es", "s", "e"):
        if len(word) > len(end) + 3 and word.endswith(end) and not word.endswith("ss"):
            return word[:-len(end)]
    return word


def _operands(place: str) -> frozenset[str]:
    """The operands a place names: single letters standing alone ('K tile', 'K/V') or as a
    part of an identifier (k_tiles, load_q), and the words for them (key, query, output)."""
    parts = re.findall(r"[a-z0-9]+", place.lower().replace("_", " "))
    return frozenset(_OPERAND_WORDS.get(p, p) for p in parts
                     if p in OPERANDS or p in _OPERAND_WORDS)


# (and the two GEMMs by their operands: the QK^T loop is not the PV loop)
_OPERAND_WORDS = {"key": "k", "keys": "k", "query": "q", "queries": "q", "output": "o",
                  "qk": "qk", "pv": "pv"}
CLOSE = 0.6  # a region scoring this share of the best is as likely, where words alone match


def place(text: str, found: list[Region]) -> str:
    """``text`` as a place: '@REGION' (with the operands it names, '@kv_ring k') where the
    kernel's text matches it surely to a region; '@A,B' where two regions score alike and
    neither surely (words, or an identifier both use); else its words in a normal form."""
    scored = _scores(text, found)
    if not scored:
        words = {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
                 if w not in _STOP}
        return " ".join(sorted(words))
    (best, strong, region), *rest = scored
    close = [region.name] + ([] if strong else [r.name for score, _, r in rest
                                                if score >= CLOSE * best])
    return " ".join([REGION_TAG + ",".join(sorted(set(close))), *sorted(_operands(text))])


def match(text: str, found: list[Region]) -> Region | None:
    """The region ``text`` names (module docstring); None when none matches."""
    scored = _scores(text, found)
    return scored[0][2] if scored else None


def _scores(text: str, found: list[Region]) -> list[tuple[float, bool, Region]]:
    """The regions ``text`` may name, best first: (score, sure: the region defines an
    identifier it names or is named by it, region); those it cannot name are left out."""
    lowered = text.lower()
    idents = {i.lower() for i in _IDENT.findall(re.sub(r"(\w)::(\w)", r"\1 \2", text))
              if "_" in i or f"{i.lower()}(" in lowered.replace(" ", "")
              or any(i.lower() in r.defined for r in found)}
    words = {_stem(w) for w in re.findall(r"[a-z0-9]+", lowered.replace("_", " "))
             if w not in _STOP}
    if not found or not (idents or words):
        return []
    average = sum(r.size for r in found) / len(found)
    most = {i: max(r.identifiers[i] for r in found) for i in idents}
    scored = []
    for region in found:
        # An identifier the region defines, else one it uses most often of all the regions.
        by_name = sum(3 * (i in region.defined) + 2 * region.identifiers[i] / most[i]
                      for i in idents if most[i])
        named = words >= {_stem(w) for w in region.name.split("_")}
        held = [w for w in words if region.words[w]]
        # BM25 over the regions: a word that every region holds says little.
        by_words = sum(_idf(w, found) * region.words[w] * 2.2 / (
            region.words[w] + 1.2 * (0.25 + 0.75 * region.size / average)) for w in held)
        if by_name > 0 or named or 2 * len(held) > len(words) >= 1:
            defines = any(i in region.defined for i in idents)
            scored.append((by_name + 2 * named + by_words, defines or named, region))
    return sorted(scored, key=lambda t: (-t[0], t[2].size))


def _idf(word: str, found: list[Region]) -> float:
    held = sum(1 for r in found if r.words[word])
    return math.log(1 + (len(found) - held + 0.5) / (held + 0.5))


def same_place(a: str, b: str) -> bool:
    """Two places in normal form that are one: regions in common (one each where the text
    named it surely, the close ones where words alone matched) with operands that agree
    (either naming none), or the same words."""
    if a == b:
        return True
    if not (a.startswith(REGION_TAG) and b.startswith(REGION_TAG)):
        return False
    (ra, *oa), (rb, *ob) = a.split(), b.split()
    common = set(ra[1:].split(",")) & set(rb[1:].split(","))
    return bool(common) and (not oa or not ob or set(oa) == set(ob))


def maybe_same_place(a: str, b: str) -> bool:
    """Two places in normal form that may be one: the same place, or each matched to regions
    of the kernel (which its words may have matched otherwise: "the named barriers" and "the
    consumer warpgroups' turns") with operands that agree. Places no region matched, in other
    words, are two (the inner loop, the outer loop)."""
    if same_place(a, b):
        return True
    if not (a.startswith(REGION_TAG) and b.startswith(REGION_TAG)):
        return False
    oa, ob = a.split()[1:], b.split()[1:]
    return not oa or not ob or set(oa) == set(ob)


def listing(found: list[Region]) -> str:
    """The regions as the brief shows them, a line each."""
    return "\n".join(r.line() for r in found)

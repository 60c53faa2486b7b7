"""What a candidate changes, as a structure: a technique, where, which way, to what value.

Free text says one experiment in many ways and two experiments in nearly the same words, so
`evaluate` takes, beside its idea, the change in four fields, read into the shared
vocabulary (vocabulary.py, regions.py): a technique from the knowledge base's closed list,
the place as a region of the kernel, a direction from a fixed set and a value in its normal
form (stated). Knob changes are read from the diff itself, exactly: each `#define` or knob
whose value differs from the base is one change (technique `knob`, the knob's name, up or
down, its new value). The changes ride with the idea as tags at its front
(`[change: tile size | @kv_ring k | increase | 128]`), so the attempt, the step's log and the
ledger keep them with no field of their own; two ideas that both carry tags are one
experiment when their changes agree (same), and the free-text check (repeats.py) is the
fallback for ideas without them.

The diff counts first, whatever the fields or words say: two candidates whose diffs set the
same knobs to the same values are one experiment, stated fields or not. Knob tags alone
would hide every other edit (two candidates that set BLOCK_N 128 and differ everywhere else
would be one experiment), so beside the knobs the rest of the diff (every changed line but
the knobs' own) rides along as one more change (``other code | outside the knobs | set |
<its hash>``): the diff's knob tags make a repeat only where the rest of the diff is the
same too.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ...evaluation.declarations import contract
from . import regions, vocabulary

MAX_TAGS = 8  # changes kept with one idea (the agent's, the diff's knobs and the rest of it)
_TAG = re.compile(r"\[change: ([^\]|]*)\|([^\]|]*)\|([^\]|]*)\|([^\]|]*)\]\s*")


@dataclass(frozen=True, order=True)
class Change:
    technique: str
    place: str
    direction: str
    value: str

    @classmethod
    def of(cls, technique: str, place: str, direction: str, value: str) -> Change:
        """A change in its normal form: lower case, single spaces, no article, no brackets or
        bars (they delimit the tag), a number's "x" or unit dropped ("4x" is 4)."""
        return cls(*(_normal(part) for part in (technique, place, direction, value)))

    def tag(self) -> str:
        return f"[change: {self.technique} | {self.place} | {self.direction} | {self.value}]"


def stated(technique: str, place: str, direction: str, value: str,
           found: list[regions.Region], device: str | None = None) -> Change:
    """The change an agent states on a target of ``device``, in the shared vocabulary: the
    technique (among that device's) and direction as the vocabulary names them
    (VocabularyError for a name it cannot read), the place as the kernel region ``found``
    matches it to, the value in its normal form."""
    way = vocabulary.direction(direction or "set")
    return Change(vocabulary.technique(technique, device),
                  _normal(regions.place(place, found)), way,
                  _normal(vocabulary.value(value, way)))


def agree(a: Change, b: Change) -> bool:
    """Two stated changes that are one: the same technique and direction, one place (one
    region, operands that agree), one value (8.0 and 8, a PTX instruction with or without
    its qualifiers)."""
    return (a.technique == b.technique and vocabulary.same_direction(a.direction, b.direction,
                                                                     a.value and b.value)
            and regions.same_place(a.place, b.place) and vocabulary.same_value(a.value, b.value))


def _normal(text: str) -> str:
    text = re.sub(r"[\[\]|]", " ", text.lower())
    text = re.sub(r"\b(\d+(?:\.\d+)?)\s*(?:x|b|bytes?|-?way)\b", r"\1", text)
    words = [w for w in text.split() if w not in ("the", "a", "an")]
    return " ".join(words)


def tagged(idea: str, changes: Iterable[Change]) -> str:
    """``idea`` with ``changes`` as tags at its front (sorted: the order says nothing); the
    idea as it is when there are none."""
    # Past MAX_TAGS the last knobs go, never the stated change or the rest of the diff.
    kept = sorted(set(changes), key=lambda c: (c.technique == "knob", c))[:MAX_TAGS]
    found = sorted(kept)
    return " ".join([*(c.tag() for c in found), idea]) if found else idea


def read(idea: str) -> frozenset[Change] | None:
    """The changes ``idea`` is tagged with; None when it carries none."""
    found = frozenset(Change.of(*m.groups()) for m in _TAG.finditer(idea))
    return found or None


def untagged(idea: str) -> str:
    """The free text of ``idea``, its tags taken out."""
    return _TAG.sub("", idea).strip()


def tags(idea: str) -> str:
    return " ".join(m.group(0).strip() for m in _TAG.finditer(idea))


DIFF_TECHNIQUES = frozenset({"knob", "other code"})  # read from the diff, never stated


def same(a: str, b: str) -> bool | None:
    """Whether two tagged ideas are one experiment; None unless both carry tags.

    What the diffs say comes first, whatever the fields or the words: two candidates whose
    diffs set the same knobs to the same values and change nothing else alike are one
    experiment; one knob at two values is two. Then the stated fields: one experiment when
    each of technique, place, direction and value agrees; two when any tells them apart
    (another technique, direction or value, another place in words); the words judge where
    only the kernel regions their places were matched to, or a value one leaves out, differ.
    Two diffs that differ (other knobs, or other lines beside them), with nothing stated on
    both sides to link them, are two experiments; an idea without tags on one side is left
    to the words."""
    ca, cb = read(a), read(b)
    if ca is None or cb is None:
        return None
    (ka, ra, sa), (kb, rb, sb) = _parts(ca), _parts(cb)
    if ka and kb:
        if any(ka[knob] != kb[knob] for knob in ka.keys() & kb.keys()):
            return False
        if ka == kb and ra == rb:
            return True
    if sa and sb:
        if _matched(sa, sb, agree):
            return True
        if not _matched(sa, sb, _near):
            return False
        # One technique, one way, no two values: only the regions each idea's words matched,
        # or a value one side leaves out, differ. The words judge (repeats.py).
    if (ka or ra) and (kb or rb):
        return False
    return None


def _matched(a: frozenset[Change], b: frozenset[Change],
             alike: Callable[[Change, Change], bool]) -> bool:
    """Whether each change of ``a`` is ``alike`` one of ``b``, and each of ``b`` one of ``a``."""
    return all(any(alike(x, y) for y in b) for x in a) and all(
        any(alike(x, y) for y in a) for x in b)


def _near(a: Change, b: Change) -> bool:
    """Two stated changes that the fields alone do not tell apart: one technique, directions
    that agree, places that may be one (regions.maybe_same_place) and no two values (where
    only one gives a value, the value cannot say)."""
    return (a.technique == b.technique and regions.maybe_same_place(a.place, b.place)
            and vocabulary.same_direction(a.direction, b.direction, a.value and b.value)
            and (not a.value or not b.value or vocabulary.same_value(a.value, b.value)))


def _parts(found: frozenset[Change]) -> tuple[dict[str, str], frozenset[Change],
                                              frozenset[Change]]:
    """A tag set's knobs read from the diff ({name: value}: the value is the experiment, not
    the base it moved from), the rest of its diff, and the changes stated."""
    knobs = {c.place: c.value for c in found if c.technique == "knob"}
    rest = frozenset(c for c in found if c.technique == "other code")
    return knobs, rest, frozenset(c for c in found if c.technique not in DIFF_TECHNIQUES)


def from_diff(old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    """Each knob or simple ``#define`` whose value differs between the base's files and the
    candidate's, as a change: exact, whatever the idea says."""
    found = []
    for name, text in new.items():
        before, after = _settings(old.get(name, "")), _settings(text)
        for knob, value in after.items():
            was = before.get(knob)
            if was is not None and was != value:
                found.append(Change.of("knob", knob, _direction(was, value), value))
    return found


def rest_of_diff(old: Mapping[str, str], new: Mapping[str, str],
                 knobs: Iterable[Change]) -> Change:
    """Every line the candidate changes from the base's files outside the lines that set
    ``knobs`` (from_diff's), as one change named by their hash ('none': nothing else)."""
    names = {c.place for c in knobs}
    changed = []
    for name in sorted({*old, *new}):
        diff = difflib.unified_diff(old.get(name, "").splitlines(),
                                    new.get(name, "").splitlines(), lineterm="", n=0)
        changed += [f"{name}:{line}" for line in diff
                    if line[:1] in "+-" and not line.startswith(("+++", "---"))
                    and _set_knob(line[1:]) not in names]
    digest = hashlib.sha256("\n".join(changed).encode()).hexdigest()[:10] if changed else "none"
    return Change("other code", "outside the knobs", "set", digest)


_DEFINE = re.compile(r"\s*#\s*define\s+(\w+)\s")


def _set_knob(line: str) -> str | None:
    """The knob or ``#define`` a source line sets, in a change's normal form; None: none."""
    found = _DEFINE.match(line + " ")
    return _normal(found.group(1)) if found else None


def _settings(source: str) -> dict[str, str]:
    try:
        parsed = contract.parse(source)
    except Exception:  # a file the contract cannot read declares no knobs to compare
        return {}
    return {**parsed.defines, **{k.name: k.value for k in parsed.knobs}}


def _direction(was: str, now: str) -> str:
    try:
        return "increase" if float(now) > float(was) else "decrease"
    except ValueError:
        return "set"

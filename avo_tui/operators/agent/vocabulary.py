"""The shared vocabulary of an idea's fields: technique, direction and value in one form each.

An agent fills the fields from its own words: "loop unrolling" or "unroll", "raise" or
"increase", "128B" or "128 B", "8.0" or "8", "log2(e)" or "1.4426950408889634". Compared as
strings, the same experiment was never caught (issue 86: 0 of 57 pairs). So each field is read
into one form before it is kept:

- *technique*: a closed list kept in the knowledge base (knowledge/techniques.md), each entry
  with its synonyms, some for one kind of device only; a name neither an entry nor a synonym
  is read as the closest in spelling, or refused with the list (VocabularyError). On a
  target, only the entries for its device are offered, read or listed.
- *direction*: a fixed set (DIRECTIONS), each with the words that say it.
- *value*: numbers with their units in one form (bytes counted as bytes, counts as numbers),
  named constants as their value, words without case, articles or hyphens.

Places are the kernel's own regions (regions.py).
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..._data import KNOWLEDGE, data_folder, missing

VOCABULARY_FILE = "techniques.md"
SPELLING = 0.82  # how close in spelling an unknown technique must be to an entry's name


class VocabularyError(ValueError):
    """A name the vocabulary cannot read; its message lists what it can."""


# The devices a technique can be for, as the file marks them and as a target names them.
DEVICES = {"GPU": "cuda", "CPU": "cpu"}


@dataclass(frozen=True)
class Technique:
    name: str
    synonyms: tuple[str, ...]
    device: str | None  # the one device it is for ("cuda", "cpu"), or None for any

    def applies(self, device: str | None) -> bool:
        """Whether it is offered on a target of ``device`` (None: every entry, any target)."""
        return device is None or self.device is None or self.device == device


_ENTRY = re.compile(r"^- \*\*(?P<name>[^*]+)\*\*(?: \((?P<only>GPU|CPU)\))?: (?P<synonyms>.*)$")


def parse(text: str) -> tuple[Technique, ...]:
    """The entries of a techniques file, in its first section whose heading names the list:
    ``- **name**: synonym, synonym``, or ``- **name** (GPU): ...`` for one device only."""
    found: list[Technique] = []
    listing = False
    for line in text.splitlines():
        if line.startswith("## "):
            if found:
                break
            listing = "list" in line.lower()
        entry = _ENTRY.match(line.strip()) if listing else None
        if entry:
            synonyms = tuple(s.strip() for s in entry["synonyms"].split(",") if s.strip())
            only = DEVICES[entry["only"]] if entry["only"] else None
            found.append(Technique(entry["name"].strip(), synonyms, only))
    return tuple(found)


@lru_cache(maxsize=1)
def techniques() -> tuple[Technique, ...]:
    """The knowledge base's list of techniques."""
    folder = data_folder(KNOWLEDGE)
    path = folder / VOCABULARY_FILE if folder else None
    if path is None or not path.is_file():
        raise VocabularyError(f"{missing(KNOWLEDGE)} (or it has no {VOCABULARY_FILE})")
    return parse(Path(path).read_text())


HARNESS_ONLY = frozenset({"knob"})  # read from the diff by the harness, never stated


def offered(device: str | None = None) -> tuple[str, ...]:
    """The techniques an agent on a target of ``device`` may state: the entries for that
    device (every entry for None) but the harness's own."""
    return tuple(t.name for t in techniques()
                 if t.applies(device) and t.name not in HARNESS_ONLY)


def _key(text: str) -> str:
    """A name as it is compared: lower case, words split on spaces, hyphens and underscores,
    British and American spellings one, a plural's s dropped."""
    text = text.lower().replace("ization", "isation").replace("izing", "ising")
    words = re.findall(r"[a-z0-9.:]+", text.replace("_", " ").replace("-", " "))
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
                    for w in words)


@lru_cache(maxsize=4)
def _by_key(device: str | None) -> dict[str, str]:
    """The names an agent on ``device`` may say, by key, and the entry each names."""
    found: dict[str, str] = {}
    for entry in techniques():
        if entry.applies(device) and entry.name not in HARNESS_ONLY:
            for name in (entry.name, *entry.synonyms):
                found.setdefault(_key(name), entry.name)
    return found


def technique(name: str, device: str | None = None) -> str:
    """The entry for ``device`` (None: any) that ``name`` says: itself, a synonym's entry, or
    the closest in spelling; VocabularyError (with the list for that device) for a name close
    to none. On a CPU target a GPU technique's name is read among the CPU's, or refused."""
    key = _key(name)
    known = _by_key(device)
    if key in known:
        return known[key]
    # A name that holds an entry or synonym as a phrase ("ping pong scheduling"): the longest.
    held = [k for k in known if f" {k} " in f" {key} "]
    if held:
        return known[max(held, key=len)]
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=SPELLING)
    if close:
        return known[close[0]]
    raise VocabularyError(f"technique {name.strip()[:40]!r} is not in the knowledge base's list "
                          f"(knowledge/{VOCABULARY_FILE}); use one of: "
                          f"{', '.join(offered(device))}")


DIRECTIONS = ("increase", "decrease", "enable", "disable", "add", "remove", "move in",
              "move out", "replace", "set")
_DIRECTION_WORDS: dict[str, str] = {
    **dict.fromkeys(("increase", "raise", "more", "higher", "larger", "bigger", "grow", "up",
                     "widen", "deepen", "double", "lengthen", "extend"), "increase"),
    **dict.fromkeys(("decrease", "lower", "less", "fewer", "smaller", "shrink", "reduce", "cut",
                     "halve", "down", "narrow", "shorten"), "decrease"),
    **dict.fromkeys(("enable", "on", "turn on", "switch on", "use", "apply", "introduce"),
                    "enable"),
    **dict.fromkeys(("disable", "off", "turn off", "switch off", "no", "avoid", "stop"),
                    "disable"),
    **dict.fromkeys(("add", "insert", "put"), "add"),
    **dict.fromkeys(("remove", "drop", "delete", "eliminate", "omit"), "remove"),
    **dict.fromkeys(("move in", "into", "sink", "inside", "move into", "push in"), "move in"),
    **dict.fromkeys(("move out", "out of", "hoist", "outside", "move out of", "pull out",
                     "lift"), "move out"),
    **dict.fromkeys(("replace", "swap", "switch", "switch to", "change to", "substitute"),
                    "replace"),
    **dict.fromkeys(("set", "choose", "pick", "select", "tune", "change"), "set"),
}


# The directions that are two sides of one choice, whatever the value: on or off, added or
# removed, moved in or out.
_OPPOSITES = frozenset({frozenset({"enable", "disable"}), frozenset({"add", "remove"}),
                        frozenset({"move in", "move out"})})
_TOWARDS = frozenset({"increase", "decrease", "set", "replace", "enable"})


def same_direction(a: str, b: str, valued: object = False) -> bool:
    """Two directions that are one experiment: the same; or, where both changes give one
    value (``valued``), two ways of saying "to that value" (raise to 4, set to 4, enable 4):
    the value is the experiment, the way there depends on the base. Opposites never are."""
    if a == b:
        return True
    if frozenset({a, b}) in _OPPOSITES:
        return False
    return bool(valued) and a in _TOWARDS and b in _TOWARDS


def direction(word: str) -> str:
    """The fixed set's direction ``word`` says; VocabularyError (with the set) otherwise."""
    key = " ".join(word.lower().replace("-", " ").replace("_", " ").split())
    if key in _DIRECTION_WORDS:
        return _DIRECTION_WORDS[key]
    raise VocabularyError(f"direction {word.strip()[:40]!r} is not one of: "
                          f"{', '.join(DIRECTIONS)}")


# Named constants, by their value: a constant written by name or by value is one value.
_CONSTANTS: tuple[tuple[str, str], ...] = (
    # By name, or by value to four or more digits, rounded or cut (1.4427f, 1.442695).
    (r"m_log2e|log2 ?\( ?e ?\)|log2e|1 ?/ ?ln ?\(? ?2 ?\)?|1\.44(?:27|269\d*)f?", "1.4427"),
    (r"m_ln2|ln ?\( ?2 ?\)|ln2|0\.693(?:1|15|14\d*)f?", "0.69315"),
    (r"-?inf(?:inity)?|-?infinity", "inf"),
    (r"longest[- ]processing[- ]time(?: first)?|longest first|heaviest first", "lpt"),
)
_CONSTANT_RES = tuple((re.compile(rf"(?<![\w.])(?:{p})(?![\w])"), v) for p, v in _CONSTANTS)
def constants(text: str) -> str:
    """``text`` (lower case) with each named constant written as its value."""
    for pattern, constant in _CONSTANT_RES:
        text = pattern.sub(constant, text)
    return text


_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "six": "6", "eight": "8", "sixteen": "16", "none": "", "n/a": "", "-": ""}
# Values named by what they are: a vector type by its width, a layout by either property.
_NAMED_VALUES = tuple((re.compile(rf"(?<![\w.])(?:{p})(?![\w])"), v) for p, v in (
    # (not int4 alone: a 4-bit integer is a precision, not a width)
    (r"uint4|float4", "16 b"),
    (r"uint2|float2", "8 b"),
    (r"(?:k|column|col) major|transposed?", "transposed"),
    (r"(?:row|mn) major", "row major"),
))
_BYTES = {"b": 1, "byte": 1, "bytes": 1, "kb": 1024, "kib": 1024, "k": 1024, "mb": 1 << 20,
          "mib": 1 << 20}
_BITS = ("bit", "bits")
# Units that only count what the number counts: the number alone says it.
_COUNTS = ("x", "way", "fold", "reg", "regs", "register", "registers", "cta", "ctas", "stage",
           "stages", "slot", "slots", "warp", "warps", "warpgroup", "warpgroups", "thread",
           "threads", "block", "blocks", "tile", "tiles", "buffer", "buffers", "split", "splits",
           "group", "groups")
_QUANTITY = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*([a-z]+)?(?![\w.])")
# Words that say nothing of the value: "last block only" is "last block".
_FILLER = frozenset({"the", "a", "an", "only", "just", "of", "per"})
# Values of a switch that restate its direction (enable 1 is enable).
_SWITCH = frozenset({"1", "0", "on", "off", "true", "false", "yes", "no"})


def _quantity(match: re.Match[str]) -> str:
    number, unit = match.group(1), (match.group(2) or "")
    amount = float(number)
    if unit in _BYTES:
        amount *= _BYTES[unit]
        unit = ""
    elif unit in _BITS:
        amount /= 8
        unit = ""
    elif unit in _COUNTS:
        unit = ""
    shown = f"{amount:.6g}" if amount != int(amount) else str(int(amount))
    return f"{shown} {unit}".strip()


def value(text: str, direction_said: str = "") -> str:
    """``text`` as a value in one form: '8.0' and '8'; '128 B', '128B' and '1024 bits';
    '16 KB' and '16384'; '4x', '4-way' and 'four'; 'log2(e)' and '1.4426950408889634'.
    Under enable or disable, a switch's value (1, on, true) says nothing more: ''."""
    text = constants(" ".join(text.lower().replace("×", "x").split()))
    text = re.sub(r"\(\)", "", text).strip(" .;()")
    text = re.sub(r"(?<=[a-z])[-_](?=[a-z])", " ", text)
    for pattern, plain in _NAMED_VALUES:
        text = pattern.sub(plain, text)
    words = [_NUMBER_WORDS.get(w, w) for w in text.split()]
    text = " ".join(w for w in words if w and w not in _FILLER)
    text = _QUANTITY.sub(_quantity, text)
    text = re.sub(r"\s*([*/+=,])\s*", r"\1", text)
    if direction_said in ("enable", "disable") and text in _SWITCH:
        return ""
    return text.strip()


_QUALIFIERS = frozenset({"shared", "cta", "cluster", "global", "sync", "aligned", "b64", "u32",
                         "f32", "approx", "ftz"})


def same_value(a: str, b: str) -> bool:
    """Two values in normal form that are one: equal, or one PTX instruction written with and
    without its state-space and type qualifiers (fence.proxy.async and
    fence.proxy.async.shared::cta)."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if not short or not long.startswith(short + "."):
        return False
    return all(part in _QUALIFIERS for part in re.split(r"[.:]+", long[len(short):]) if part)


def mapped(arguments: object, device: str | None = None) -> object:
    """An evaluate call's input on a target of ``device`` with its technique and direction
    as the vocabulary names them, where it can read them ("loop unrolling" is unrolling,
    "raise" is increase); a name it cannot read is left for the schema's check to refuse
    with the list."""
    if not isinstance(arguments, dict):
        return arguments
    found = dict(arguments)
    readers: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("technique", lambda said: technique(said, device)), ("direction", direction))
    for key, read in readers:
        said = found.get(key)
        if isinstance(said, str) and said.strip():
            with contextlib.suppress(VocabularyError):
                found[key] = read(said)
    return found

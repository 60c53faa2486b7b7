"""Which machines a knowledge file is about, and whether it applies to the one a run targets.

A file declares it in its opening, before its first heading, with an HTML comment (markdown
renders it invisibly)::

    <!-- avo:applies-to hopper blackwell -->

A file without one is general. The tags, and the architectures they cover, are in ``TAGS``;
besides them a tag may name one architecture exactly (``sm_120``, suffixes ignored).
Architectures are spelled as the evaluator spells them: ``sm_90a``, ``sm_100a``, ``sm_120a``,
``sm_89``, or ``cpu``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

GENERAL = ("any",)

# tag: what it covers, as the agent is told
TAGS: dict[str, str] = {
    "any": "every target, CPU or GPU (a file that declares nothing)",
    "cpu": "the CPU targets (C toolchain)",
    "gpu": "every NVIDIA GPU (sm_XX)",
    "hopper": "Hopper, sm_90 (H100, H200, GH200)",
    "blackwell": (
        "Blackwell with tcgen05 and tensor memory: sm_100 (B200, GB200), sm_103 (B300, GB300), "
        "sm_101/sm_110 (Thor); not consumer Blackwell sm_120/sm_121 (RTX 50xx, GB10), which "
        "has neither"
    ),
}
LABELS = {"cpu": "CPU", "gpu": "GPU", "hopper": "Hopper", "blackwell": "Blackwell"}

DECLARATION = re.compile(r"^\s*<!--\s*avo:applies-to\b(?P<tags>.*?)-->\s*$", re.IGNORECASE)
EXACT_ARCH = re.compile(r"^sm_(\d{2,3})[a-z]?$")
HEADING_START = re.compile(r"^#{1,6}\s")
OPENING_CHARS = 4096  # the declaration sits in the first lines; never scan a whole huge file


class HasApplies(Protocol):
    @property
    def applies(self) -> tuple[str, ...]: ...


def opening_lines(text: str) -> list[str]:
    """The lines before the first heading (within the first few kilobytes)."""
    lines = []
    for line in text[:OPENING_CHARS].splitlines():
        if HEADING_START.match(line):
            break
        lines.append(line)
    return lines


def is_declaration(line: str) -> bool:
    return DECLARATION.match(line) is not None


def declared_tags(text: str) -> tuple[str, ...] | None:
    """The tags a file declares, as written (lower case), or None where it declares none."""
    for line in opening_lines(text):
        match = DECLARATION.match(line)
        if match:
            return tuple(t for t in re.split(r"[\s,]+", match.group("tags").lower()) if t)
    return None


def known_tag(tag: str) -> bool:
    return tag in TAGS or EXACT_ARCH.match(tag) is not None


def applicability(text: str) -> tuple[str, ...]:
    """The file's known tags; ``GENERAL`` where it declares none, or none that we know (a typo
    must not hide a file from every run)."""
    tags = tuple(dict.fromkeys(t for t in declared_tags(text) or () if known_tag(t)))
    return tags or GENERAL


def applies_to(entry: HasApplies | Iterable[str] | str, arch: str | None) -> bool:
    """Whether a file (an outline entry, a section, a hit, or its tags) is about ``arch``.

    ``arch`` as the evaluator spells it (``sm_90a``, ``sm_100a``, ``cpu``); None means the CPU,
    as a CPU device has no architecture. An architecture we cannot read applies to everything:
    better a file too many than a file hidden.
    """
    tags = _tags(entry)
    if "any" in tags:
        return True
    machine = (arch or "cpu").strip().lower()
    if machine == "cpu":
        return "cpu" in tags
    number = _sm_number(machine)
    if number is None:
        return True
    return any(_covers(tag, number) for tag in tags)


def label(entry: HasApplies | Iterable[str] | str) -> str:
    """A few words for the agent beside a file or a hit: "Blackwell only", "Hopper, Blackwell
    only"; "" for a general file."""
    tags = _tags(entry)
    if "any" in tags:
        return ""
    return ", ".join(LABELS.get(t, t) for t in tags) + " only"


def _tags(entry: HasApplies | Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(entry, str):
        raw: Iterable[str] = re.split(r"[\s,]+", entry)
    elif hasattr(entry, "applies"):
        raw = entry.applies
    else:
        raw = entry
    tags = tuple(t.lower() for t in raw if t and known_tag(t.lower()))
    return tags or GENERAL


def _sm_number(arch: str) -> int | None:
    match = EXACT_ARCH.match(arch)
    return int(match.group(1)) if match else None


def _covers(tag: str, number: int) -> bool:
    major = number // 10
    if tag == "gpu":
        return True
    if tag == "hopper":
        return major == 9
    if tag == "blackwell":
        return major in (10, 11)  # the tcgen05 designs; 12.x (sm_120, sm_121) lacks tcgen05
    return _sm_number(tag) == number

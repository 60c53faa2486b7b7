"""Reading a person's hint or guidance as knob requests, for operators that only turn knobs.

Understood forms, case-insensitive on the knob name: ``BLOCK_Q=64``, ``BLOCK_Q: 64``,
``BLOCK_Q to 64``, ``BLOCK_Q 64`` (pin a value), or the bare name ``BLOCK_Q`` (vary this knob).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VALUE = re.compile(r"\s*(?:=|:|\bto\b|->|→)?\s*([-+]?[A-Za-z0-9_.]+)")


@dataclass
class KnobRequest:
    pins: dict[str, str] = field(default_factory=dict)  # knob -> value to use
    focus: set[str] = field(default_factory=set)  # knobs to vary
    problems: list[str] = field(default_factory=list)  # named knobs with undeclared values

    @property
    def usable(self) -> bool:
        return bool(self.pins or self.focus)

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.pins.items()]
        parts += [f"vary {k}" for k in sorted(self.focus - self.pins.keys())]
        return ", ".join(parts)


def read_knob_request(text: str, knobs: Mapping[str, Sequence[str]]) -> KnobRequest:
    """What ``text`` asks of the knobs ``knobs`` (name -> declared choices)."""
    by_lower = {name.lower(): name for name in knobs}
    request = KnobRequest()
    for match in _WORD.finditer(text):
        name = by_lower.get(match.group().lower())
        if name is None:
            continue
        choices = knobs[name]
        value = _VALUE.match(text, match.end())
        if value and value.group(1) in choices:
            request.pins[name] = value.group(1)
        elif value and _explicit(text, match.end()):
            request.problems.append(
                f"{name}={value.group(1)} is not a declared value ({' '.join(choices)})"
            )
        else:
            request.focus.add(name)
    return request


def _explicit(text: str, end: int) -> bool:
    """Whether the word after a knob name was clearly meant as its value (``=``, ``:``, ``to``)."""
    return bool(re.match(r"\s*(=|:|to\b|->|→)", text[end:]))

"""What a hint or guidance asks of a kernel's knobs, once read (hints.py): values to keep, knobs
to hold or vary, values to avoid, and the sets of values a comparison allows ("UNROLL > 2":
UNROLL one of 4 8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class KnobRequest:
    pins: dict[str, str] = field(default_factory=dict)  # knob -> value to use
    focus: set[str] = field(default_factory=set)  # the only knobs to vary
    held: set[str] = field(default_factory=set)  # knobs kept as the version built on has them
    avoid: dict[str, set[str]] = field(default_factory=dict)  # knob -> values never to use
    allowed: dict[str, set[str]] = field(default_factory=dict)  # knob -> the only values to use
    problems: list[str] = field(default_factory=list)  # what could not be read for sure
    once: bool = False  # for one step only ("first", "next", "once"), even as guidance

    @property
    def usable(self) -> bool:
        asked = self.pins or self.focus or self.held or self.avoid or self.allowed
        return bool(asked) and not self.problems

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.pins.items()]
        parts += [f"{k} as it is" for k in sorted(self.held - self.pins.keys())]
        parts += [f"{k} {'only' if len(v) == 1 else 'one of'} {spoken(v)}"
                  for k, v in sorted(self.allowed.items())]
        parts += [f"{k} never {spoken(v)}" for k, v in sorted(self.avoid.items())]
        if focus := sorted(self.focus - self.pins.keys()):
            parts.append(f"vary {', '.join(focus)}")
        return ", ".join(parts)

    def fixed(self, current: Mapping[str, str]) -> dict[str, str]:
        """The values every candidate has: the pinned ones and the held knobs' ``current``."""
        return {k: current[k] for k in self.held if k in current} | self.pins

    def permitted(self, name: str, choices: Sequence[str]) -> list[str]:
        """The values of knob ``name`` (declared ``choices``) a candidate may have."""
        allowed = self.allowed.get(name)
        return [c for c in choices if c not in self.avoid.get(name, ())
                and (allowed is None or c in allowed)]

    def allow(self, name: str, values: set[str]) -> None:
        """Allow only ``values`` of ``name``, within what is allowed already."""
        self.allowed[name] = self.allowed.get(name, values) & values

    def merge(self, other: KnobRequest) -> None:
        self.pins |= other.pins
        self.focus |= other.focus
        self.held |= other.held
        for name, values in other.avoid.items():
            self.avoid.setdefault(name, set()).update(values)
        for name, values in other.allowed.items():
            self.allow(name, values)

    def settle(self, knobs: Mapping[str, Sequence[str]]) -> None:
        """Fold each knob's avoided values into its allowed set, and note what contradicts."""
        for name in sorted(self.allowed.keys() & self.avoid.keys()):
            self.allowed[name] -= self.avoid.pop(name)
        for name, choices in knobs.items():
            kept = self.pins.get(name)
            if kept is not None and kept in self.avoid.get(name, ()):
                self.problems.append(f"{name}={kept} is both kept and avoided")
            elif kept is not None and name in self.allowed and kept not in self.allowed[name]:
                self.problems.append(f"{name}={kept} is kept but allowed are only "
                                     f"{spoken(self.allowed[name]) or 'none'}")
            elif (name in self.avoid or name in self.allowed) and not self.permitted(name,
                                                                                   choices):
                ruled = spoken(self.avoid.get(name, set()) | (set(choices) - self.allowed.get(
                    name, set(choices))))
                self.problems.append(f"ruling out {ruled} leaves {name} no value")
        for name in sorted(self.focus & (self.held | self.pins.keys())):
            self.problems.append(f"{name} is asked to vary and to stay")


def spoken(values: set[str] | Sequence[str]) -> str:
    """Values in their natural order, one space apart."""
    return " ".join(sorted(values, key=_order))


def _order(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)

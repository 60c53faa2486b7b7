"""Where the Hopper seed stands against FA3 and FA4, read from standing.toml: the one source of
those figures for the brief (stronger.py) and for the docs (tests/unit/test_standing.py checks
them against it, and it against benchmarks/RESULTS.md).

Two readings of the same kernel are kept, because they disagree: the evaluator's interleaved
bar (launch by launch beside the baselines) and each kernel alone back to back at the power
limit, as users run attention."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

RESULTS = "benchmarks/RESULTS.md"
INTERLEAVED = "interleaved"
BACK_TO_BACK = "back to back"
# The figures of a target, as standing.toml names them; "x_" + a baseline is its ratio.
FIGURES = ("tflops", "x_fa3", "x_fa4", "x_best", "worst_x_best")


@dataclass(frozen=True)
class Standing:
    """One target's figures in one reading; a figure absent was not measured."""

    tflops: float | None = None
    x_fa3: float | None = None
    x_fa4: float | None = None
    x_best: float | None = None
    worst: str = ""
    worst_x_best: float | None = None

    def ratio(self, baseline: str) -> float | None:
        """The seed's ratio to ``baseline`` (``fa3``, ``fa4``, ``best``), if measured."""
        value = getattr(self, f"x_{baseline}", None)
        return value if isinstance(value, float) else None

    def figures(self) -> dict[str, float]:
        """Every figure measured, by its name in standing.toml."""
        return {name: value for name in FIGURES
                if isinstance(value := getattr(self, name), float)}


@dataclass(frozen=True)
class Reading:
    """One dated measurement of the seed beside the baselines, recorded in RESULTS.md's
    ``section``."""

    name: str
    date: str
    machine: str
    kernel: str
    section: str
    how: str
    targets: dict[str, Standing]

    def source(self) -> str:
        """Where and when it was measured, and where RESULTS.md records it."""
        return (f"{self.date}, an {self.machine}, the seed at {self.kernel}; {RESULTS}, "
                f"{self.section}")


@cache
def readings() -> tuple[Reading, ...]:
    """Every reading of standing.toml, in its order."""
    text = files(__package__).joinpath("standing.toml").read_text()
    return tuple(
        Reading(name=r["name"], date=r["date"], machine=r["machine"], kernel=r["kernel"],
                section=r["section"], how=" ".join(r["how"].split()),
                targets={t: _standing(doc) for t, doc in r["targets"].items()})
        for r in tomllib.loads(text)["reading"])


def _standing(doc: dict[str, object]) -> Standing:
    def figure(name: str) -> float | None:
        value = doc.get(name)
        return float(value) if isinstance(value, int | float) else None

    return Standing(tflops=figure("tflops"), x_fa3=figure("x_fa3"), x_fa4=figure("x_fa4"),
                    x_best=figure("x_best"), worst=str(doc.get("worst", "")),
                    worst_x_best=figure("worst_x_best"))


def reading(name: str) -> Reading:
    """The reading called ``name`` (``INTERLEAVED``, ``BACK_TO_BACK``)."""
    return next(r for r in readings() if r.name == name)

"""Repeat detection (issue 54): precision and recall of the local check (repeats.py) on the
pair set in tests/fixtures/repeat_pairs.json, one experiment in other words ('same') and two
experiments ('different'), kernel-optimisation ideas as an agent words them.

    .venv/bin/python benchmarks/repeat_detection.py [--show]

The pair set's 'held_out' pairs were written after the check was tuned on the others, and are
reported apart.

No model is asked: the check is deterministic and local (docs/agent.md says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from avo_tui.operators.agent import repeats

PAIRS = Path(__file__).parents[1] / "tests" / "fixtures" / "repeat_pairs.json"


@dataclass(frozen=True)
class Measured:
    true_pos: int
    false_neg: int
    false_pos: int
    true_neg: int
    misses: tuple[tuple[str, str, str, float], ...]  # (kind, a, b, likeness) judged wrong

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_pos / (self.true_pos + self.false_neg)


def load(path: Path = PAIRS, held_out: bool = False) -> dict[str, list[tuple[str, str]]]:
    """The pairs the check was tuned on, or (``held_out``) those written after, never tuned
    on."""
    doc = json.loads(path.read_text())
    prefix = "held_out_" if held_out else ""
    return {kind: [(a, b) for a, b in doc[prefix + kind]] for kind in ("same", "different")}


def measure(pairs: dict[str, list[tuple[str, str]]]) -> Measured:
    """Each pair judged both ways round (the check must not depend on which came first)."""
    counts = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    misses = []
    for kind, listed in pairs.items():
        for a, b in listed:
            flagged = repeats.same(a, b)
            if flagged != repeats.same(b, a):
                raise AssertionError(f"asymmetric: {a!r} / {b!r}")
            key = ("tp" if flagged else "fn") if kind == "same" else ("fp" if flagged else "tn")
            counts[key] += 1
            if key in ("fn", "fp"):
                misses.append((kind, a, b, repeats.likeness(a, b)))
    return Measured(counts["tp"], counts["fn"], counts["fp"], counts["tn"], tuple(misses))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="list the pairs judged wrong")
    args = parser.parse_args()
    for title, held_out in (("the pair set", False), ("held out", True)):
        pairs = load(held_out=held_out)
        found = measure(pairs)
        print(f"{title}: {len(pairs['same'])} same experiment, {len(pairs['different'])} "
              f"different; flagged {found.true_pos} of the same, {found.false_pos} of the "
              f"different; precision {found.precision:.3f}, recall {found.recall:.3f}")
        if args.show:
            for kind, a, b, score in found.misses:
                print(f"  {kind} ({score:.2f}): {a!r} / {b!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

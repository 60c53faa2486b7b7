"""Repeat detection (issue 54): precision and recall of the local check (repeats.py) on the
pair set in tests/fixtures/repeat_pairs.json, one experiment in other words ('same') and two
experiments ('different'), kernel-optimisation ideas as an agent words them; and (issue 86) on
the idea corpus of tests/idea_corpus.py, each half with the four fields filled from each idea's
own words and with free text alone, all pairs and by style (short: both ideas under
SHORT characters; notes: the rest, an agent's notes with identifiers, PTX and units).

    .venv/bin/python benchmarks/repeat_detection.py [--show]

The pair set's 'held_out' pairs were written after the check was tuned on the others, and are
reported apart; so is the corpus's HELD_OUT half.

No model is asked: the check is deterministic and local (docs/agent.md says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from avo_tui.operators.agent import changes, regions, repeats

ROOT = Path(__file__).parents[1]
PAIRS = ROOT / "tests" / "fixtures" / "repeat_pairs.json"
SEED = ROOT / "kernels" / "cuda" / "attention_wgmma.cu"  # the corpus's notes name its code
SHORT = 60
sys.path.insert(0, str(ROOT / "tests"))  # the idea corpus and its reader
import idea_corpus  # noqa: E402


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


def _with_fields(idea: idea_corpus.Idea, found: list[regions.Region]) -> str:
    """The idea as evaluate keeps it when the agent fills the four fields from its words."""
    change = changes.stated(idea.technique, idea.place, idea.direction, idea.value, found)
    return changes.tagged(idea.text, [change])


def measure_corpus(pairs: list[idea_corpus.Pair], *, fields: bool) -> Measured:
    """Each pair of the idea corpus judged both ways round, with its fields or by its words."""
    found = regions.regions({SEED.name: SEED.read_text()}) if fields else []
    return measure({kind: [(_with_fields(p.a, found), _with_fields(p.b, found)) if fields
                           else (p.a.text, p.b.text) for p in pairs if p.same == (kind == "same")]
                    for kind in ("same", "different")})


def short(pair: idea_corpus.Pair) -> bool:
    return max(len(pair.a.text), len(pair.b.text)) < SHORT


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
    print("idea corpus (tests/idea_corpus.py):")
    for half, listed in (("tuned", idea_corpus.TUNED), ("held out", idea_corpus.HELD_OUT)):
        for style, chosen in (("all", listed), ("short", [p for p in listed if short(p)]),
                              ("notes", [p for p in listed if not short(p)])):
            for fields in (True, False):
                got = measure_corpus(chosen, fields=fields)
                print(f"  {half}, {style} ({got.true_pos + got.false_neg} same, "
                      f"{got.false_pos + got.true_neg} different), "
                      f"{'fields' if fields else 'free text'}: precision "
                      f"{got.precision:.3f}, recall {got.recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

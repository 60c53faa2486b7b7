#!/usr/bin/env python3
"""Each attention target's seed scored by the code of two revisions, side by side in one run:
do the targets score the same after a change to how they are built (issue 41: the attention
targets became shipped target files)?

    python benchmarks/targets_side_by_side.py --old main                   # GPU targets
    python benchmarks/targets_side_by_side.py --old main --targets cpu-attention --rounds 2
    python benchmarks/targets_side_by_side.py --old main --new HEAD --rounds 5 --json

--old (and --new, where given; else this checkout as it is) is checked out with ``git worktree
add`` into a temporary folder; a folder holding a checkout is taken as it is (on a machine
with no git history: ``--old /tmp/main``). Each side is a process of its own, started with its
checkout first on PYTHONPATH and as its working folder, which keeps one warm evaluation worker
per device of that checkout's code (checked: the side says where its avo_tui was imported
from).
Both sides evaluate the same kernel, the new side's seed for the target on this machine (its
knobs applied), with the same evaluation seed in a round; after one discarded evaluation per
side (compiles, baseline timings), the rounds interleave old, new, new, old, ... so that drift
falls on both alike.

Per target: the median score of each side over the rounds (the geometric mean over the grid
in the target's unit, as `avo eval` prints it), new/old as the median of each round's ratio,
the spread of those ratios (max - min, in percent of their median), and whether both sides
timed the same configurations, by name, and found the seed correct on every round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("mha", "gqa", "gqa-4", "mha-d64")
SIDES = ("old", "new")


def serve() -> int:
    """One side: JSON requests on stdin, one JSON answer a line on stdout, evaluated by this
    process's avo_tui (the checkout on PYTHONPATH) in a warm worker per device."""
    import avo_tui
    from avo_tui.engine.launch import choose_seed, gpu_arch
    from avo_tui.evaluation import EvalRequest, Worker, get_target

    workers: dict[str, Worker] = {}

    def worker(device: str) -> Worker:
        if device not in workers:
            workers[device] = Worker(device).__enter__()
        return workers[device]

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        target = get_target(request["target"])
        if request["op"] == "seed":
            choice = choose_seed(target, gpu_arch(target, worker(target.device).wait_ready))
            return {"kernel": choice.seed.kernel, "sources": choice.files}
        result = worker(target.device).evaluate(EvalRequest(
            target.ref, request["sources"], quick=request["quick"], seed=request["seed"]))
        return {"correct": result.correct, "failure": str(result.failure or ""),
                "score": result.geomean, "unit": target.unit,
                "configs": [c.name for c in result.timed]}

    print(json.dumps({"avo_tui": str(Path(avo_tui.__file__).resolve().parents[1])}), flush=True)
    try:
        for line in sys.stdin:
            print(json.dumps(answer(json.loads(line))), flush=True)
    finally:
        for each in workers.values():
            each.__exit__(None, None, None)
    return 0


class Side:
    """A serving process of one checkout's code."""

    def __init__(self, checkout: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(checkout), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=checkout, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started = self._read()
        if Path(started["avo_tui"]) != checkout.resolve():
            raise SystemExit(f"the side of {checkout} imported avo_tui from "
                             f"{started['avo_tui']}")

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a side stopped (exit status {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=120)


@contextmanager
def checkout(rev: str | None) -> Iterator[Path]:
    """This checkout (``rev`` None), a checkout's folder (where no git history is at hand),
    or ``rev`` checked out in a temporary worktree."""
    if rev is None or (Path(rev) / "avo_tui").is_dir():
        yield ROOT if rev is None else Path(rev).resolve()
        return
    with tempfile.TemporaryDirectory(prefix="avo-side-") as folder:
        path = Path(folder) / "checkout"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path),
                        rev], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                           check=False)


def compare(sides: dict[str, Side], name: str, rounds: int, quick: bool, seed: int
            ) -> dict[str, Any]:
    """One target's rounds, interleaved, and their figures."""
    sources = sides["new"].ask(op="seed", target=name)
    evals: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for side in SIDES:  # compiles and baseline timings, discarded
        sides[side].ask(op="eval", target=name, sources=sources["sources"], quick=quick,
                        seed=seed)
    for index in range(rounds):
        for side in SIDES if index % 2 == 0 else SIDES[::-1]:
            result = sides[side].ask(op="eval", target=name, sources=sources["sources"],
                                     quick=quick, seed=seed + 1 + index)
            evals[side].append(result)
            print(f"# {name} {side} round {index + 1}/{rounds}: {result['score']:.4g} "
                  f"{result['unit']}{'' if result['correct'] else ' FAILED: ' + result['failure']}",
                  file=sys.stderr, flush=True)
    ratios = [new["score"] / old["score"] if old["score"] else 0.0
              for old, new in zip(evals["old"], evals["new"], strict=True)]
    median = statistics.median(ratios)
    return {
        "kernel": sources["kernel"],
        "unit": evals["new"][0]["unit"],
        "old": statistics.median(r["score"] for r in evals["old"]),
        "new": statistics.median(r["score"] for r in evals["new"]),
        "ratio": median,
        "spread_pct": (max(ratios) - min(ratios)) / median * 100 if median else None,
        "correct": all(r["correct"] for side in SIDES for r in evals[side]),
        "same_configs": all(o["configs"] == n["configs"]
                            for o, n in zip(evals["old"], evals["new"], strict=True)),
        "rounds": {side: [r["score"] for r in evals[side]] for side in SIDES},
        "ratios": ratios,
    }


def table(report: dict[str, Any]) -> str:
    rows = [("target", "unit", "old", "new", "new/old", "spread", "correct", "same configs")]
    for name, r in report["targets"].items():
        spread = "-" if r["spread_pct"] is None else f"{r['spread_pct']:.2f}%"
        rows.append((name, r["unit"], f"{r['old']:.4g}", f"{r['new']:.4g}",
                     f"{r['ratio']:.4f}", spread, "yes" if r["correct"] else "NO",
                     "yes" if r["same_configs"] else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]
    return "\n".join([f"old {report['old']}, new {report['new']}, {report['rounds']} rounds",
                      *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", metavar="REV", help="the revision compared, or a checkout's "
                        "folder (required)")
    parser.add_argument("--new", metavar="REV",
                        help="the revision or folder compared with it (default: this checkout "
                             "as it is)")
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS), metavar="T",
                        help=f"default: {' '.join(DEFAULT_TARGETS)}")
    parser.add_argument("--rounds", type=int, default=3, metavar="N")
    parser.add_argument("--quick", action="store_true", help="each target's short grid")
    parser.add_argument("--seed", type=int, default=1, help="of the first evaluation")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if not args.old:
        parser.error("give --old REV: the revision compared")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    report: dict[str, Any] = {"old": args.old, "new": args.new or "this checkout",
                              "rounds": args.rounds, "quick": args.quick, "targets": {}}
    with ExitStack() as stack:
        sides = {}
        for side, rev in (("old", args.old), ("new", args.new)):
            sides[side] = Side(stack.enter_context(checkout(rev)))
            stack.callback(sides[side].close)
        for name in args.targets:
            report["targets"][name] = compare(sides, name, args.rounds, args.quick, args.seed)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

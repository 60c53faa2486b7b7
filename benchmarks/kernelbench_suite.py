#!/usr/bin/env python3
"""Real KernelBench problems through the real commands (issue 68): a random sample of a
KernelBench checkout's level 1-3 problems, each through ``avo targets import`` (its duration
and its longest silence), ``avo targets check``, and ``avo eval`` of its seed (correct or
not; the timed shape's measured launch time against the one the import states). Prints one
row per problem, then the counts the issue's bar is stated in.

    python benchmarks/kernelbench_suite.py --problems ~/KernelBench/KernelBench --sample 40 --seed 7
    python benchmarks/kernelbench_suite.py --problems DIR --only level1/23_Softmax.py --json

KernelBench itself is not part of avo-tui: point --problems at a checkout of it (its folder
that holds level1/, level2/ and level3/). Each problem is copied into a scratch folder
(--work, else a temporary one), so nothing is written beside the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ("level1", "level2", "level3")
IMPORT_LIMIT_S = 600.0
SILENCE_BAR_S = 10.0  # the issue's: no import is silent longer than this
LAUNCH_BAR = 2.0  # the issue's: every timed launch within 2x of what the import states
STATED = re.compile(r"takes about ([\d.,]+) (ms|s)\b")  # "1,098 ms"


def environment() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))


def avo(*args: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avo_tui.cli", *args], cwd=cwd,
                          env=environment(), capture_output=True, text=True, timeout=timeout)


def watched_import(problem: Path, cwd: Path) -> tuple[int | None, str, float, float]:
    """``avo targets import`` of ``problem``: its exit status (None: killed at the limit),
    its output, its duration and the longest time it printed nothing (from its start)."""
    start = last = time.monotonic()
    silence = 0.0
    lines: list[str] = []
    child = subprocess.Popen([sys.executable, "-m", "avo_tui.cli", "targets", "import",
                              problem.name, "--force"], cwd=cwd, env=environment(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        now = time.monotonic()
        silence, last = max(silence, now - last), now
        lines.append(line)
        if now - start > IMPORT_LIMIT_S:
            child.kill()
            break
    code = child.wait()
    end = time.monotonic()
    silence = max(silence, end - last)
    return (None if end - start > IMPORT_LIMIT_S else code), "".join(lines), end - start, \
        silence


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].removeprefix("avo: error: ") if lines else ""


def one(problem: Path, level: str, work: Path) -> dict[str, Any]:
    folder = work / level / problem.stem
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(problem, folder / problem.name)
    row: dict[str, Any] = {"problem": f"{level}/{problem.name}"}
    code, out, seconds, silence = watched_import(folder / problem.name, folder)
    row.update(import_s=round(seconds, 1), silent_s=round(silence, 1))
    if code != 0:
        row.update(imported="refused" if code is not None else "killed", why=last_line(out))
        return row
    row["imported"] = "seed" if "the importer's" in out else "no seed"
    row["cases"] = re.findall(r"^  hostile case (\w+):", out, re.MULTILINE)
    stated = STATED.search(out)
    if stated:
        row["stated_s"] = (float(stated.group(1).replace(",", ""))
                           / (1000 if stated.group(2) == "ms" else 1))
    target = f"{problem.stem}_target.py"
    checked = avo("targets", "check", target, cwd=folder)
    row["check"] = "ok" if checked.returncode == 0 else last_line(checked.stderr or
                                                                 checked.stdout)
    if row["imported"] != "seed" or checked.returncode != 0:
        return row
    scored = avo("eval", "--target", target, "--json", "--no-baseline", cwd=folder)
    try:
        result = json.loads(scored.stdout)
    except json.JSONDecodeError:
        row["seed_correct"] = False
        row["seed_failure"] = last_line(scored.stderr)
        return row
    row["seed_correct"] = bool(result["correct"])
    if not result["correct"]:
        row["seed_failure"] = str(result.get("failure"))
    timed = [c for c in result["configs"] if not c["edge"] and c.get("timing")]
    if timed:
        row["measured_s"] = timed[0]["timing"]["median_s"]
    return row


def sample(folder: Path, count: int | None, seed: int, only: list[str] | None
           ) -> list[tuple[str, Path]]:
    problems = [(level, p) for level in LEVELS for p in sorted((folder / level).glob("*.py"))]
    if only:
        problems = [(lv, p) for lv, p in problems if f"{lv}/{p.name}" in only]
    if count is not None and count < len(problems):
        problems = sorted(random.Random(seed).sample(problems, count))
    return problems


def launch_ratio(row: dict[str, Any]) -> float | None:
    if "stated_s" not in row or "measured_s" not in row or not row["stated_s"]:
        return None
    ratio: float = row["measured_s"] / row["stated_s"]
    return ratio


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| problem | import (s, longest silence) | check | seed | launch measured / "
             "stated | hostile cases |", "|---|---|---|---|---|---|"]
    for r in rows:
        imported = r["imported"] if r["imported"] in ("seed", "no seed") else \
            f"{r['imported']}: {r['why']}"
        seed = "-" if "seed_correct" not in r else (
            "correct" if r["seed_correct"] else f"wrong: {r.get('seed_failure', '')[:80]}")
        ratio = launch_ratio(r)
        launch = "-" if ratio is None else \
            f"{r['measured_s'] * 1e3:.3g} / {r['stated_s'] * 1e3:.3g} ms ({ratio:.2f}x)"
        lines.append(f"| {r['problem']} | {imported} ({r['import_s']}, {r['silent_s']}) | "
                     f"{r.get('check', '-')} | {seed} | {launch} | "
                     f"{', '.join(r.get('cases', [])) or '-'} |")
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [x for r in rows if (x := launch_ratio(r)) is not None]
    return {
        "problems": len(rows),
        "imported_and_checked": sum(r.get("check") == "ok" for r in rows),
        "seeded": sum(r["imported"] == "seed" for r in rows),
        "correct_seeds": sum(bool(r.get("seed_correct")) for r in rows),
        "launches_within_2x": f"{sum(1 / LAUNCH_BAR <= x <= LAUNCH_BAR for x in ratios)} "
                              f"of {len(ratios)}",
        "imports_silent_over_10s": [r["problem"] for r in rows
                                    if r["silent_s"] > SILENCE_BAR_S],
        "with_hostile_cases": sum(bool(r.get("cases")) for r in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=Path, required=True,
                        help="a KernelBench checkout's folder of level1/ level2/ level3/")
    parser.add_argument("--sample", type=int, default=None, help="problems drawn at random")
    parser.add_argument("--seed", type=int, default=0, help="the draw's seed")
    parser.add_argument("--only", nargs="*", default=None, help="level1/NAME.py ...")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    parser.add_argument("--json", action="store_true", help="rows and summary as JSON")
    args = parser.parse_args()
    if not all((args.problems / level).is_dir() for level in LEVELS):
        parser.error(f"{args.problems} holds no level1/, level2/ and level3/ folders")
    work = args.work or Path(tempfile.mkdtemp(prefix="kernelbench-suite-"))
    rows = []
    for level, problem in sample(args.problems, args.sample, args.seed, args.only):
        rows.append(one(problem, level, work))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary(rows)}, indent=2))
    else:
        print(table(rows))
        print()
        print(json.dumps(summary(rows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

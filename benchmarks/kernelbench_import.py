#!/usr/bin/env python3
"""Every KernelBench-style problem of examples/kernelbench/ through the whole path, by the real
commands: ``avo targets import``, ``avo targets check``, ``avo eval`` of the seed, and a short
headless tuner run (issue 56). Prints one row per problem: whether it imported whole (a seed),
without a seed (the first agent step writes one) or was refused, whether the check passed, the
seed's score and its ratio to eager torch, and what the tuner committed.

    python benchmarks/kernelbench_import.py                    # every example, 4 tuner steps
    python benchmarks/kernelbench_import.py --steps 6 --only level1_relu level1_softmax
    python benchmarks/kernelbench_import.py --json
    python benchmarks/kernelbench_import.py --no-seed          # import and check only

Each problem is copied into a scratch folder (--work, else a temporary one), so nothing is
written beside the examples; the sessions go there too, and each tuner run's output
(tuner.log in the problem's folder). The tuner runs with --rng-seed 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "kernelbench"


def avo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    return subprocess.run([sys.executable, "-m", "avo_tui.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else ""


def one(problem: Path, work: Path, steps: int, seeded: bool = True) -> dict[str, Any]:
    folder = work / problem.stem
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(problem, folder / problem.name)
    row: dict[str, Any] = {"problem": problem.name}
    imported = avo("targets", "import", problem.name, "--force",
                   *(() if seeded else ("--no-seed",)), cwd=folder)
    if imported.returncode != 0:
        row.update(imported="refused", why=last_line(imported).removeprefix("avo: error: "))
        return row
    seedless = "no seed" in imported.stdout
    row["imported"] = "no seed" if seedless else re.search(
        r"the importer's (\w+) seed", imported.stdout).group(1)  # type: ignore[union-attr]
    row["notes"] = [line.removeprefix("  --  ") for line in imported.stdout.splitlines()
                    if line.startswith("  --  ")]
    target = f"{problem.stem}_target.py"
    checked = avo("targets", "check", target, cwd=folder)
    row["check"] = "ok" if checked.returncode == 0 else last_line(checked)
    if seedless or checked.returncode != 0:
        return row
    scored = avo("eval", "--target", target, "--json", cwd=folder)
    result = json.loads(scored.stdout)
    row.update(seed=result["geomean"], unit=result["unit"], seed_ratio=result["ratio"],
               correct=result["correct"])
    if steps == 0:
        return row
    run = avo("--sessions-dir", str(work / "sessions"), "run", "--target", target,
              "--session", problem.stem.replace("_", "-"), "--headless", "--operator",
              "tuner", "--max-steps", str(steps), "--rng-seed", "1", cwd=folder)
    (folder / "tuner.log").write_text(run.stdout + run.stderr)
    commits = re.findall(r"^commit\s+(v\d+) from v\d+ by tuner: .*  tuner: (.*)$", run.stdout,
                         re.MULTILINE)
    best = re.search(r"^best: (v\d+) ([\d.]+) (\S+)(?: \(([\d.]+)x)?", run.stdout, re.MULTILINE)
    row.update(tuner_steps=steps, commits=len(commits),
               committed=[f"{version} {change}" for version, change in commits])
    if best:
        row.update(best=best.group(1), best_score=float(best.group(2)),
                   best_ratio=float(best.group(4)) if best.group(4) else None)
    if run.returncode != 0:
        row["tuner_error"] = last_line(run)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| problem | import | check | seed (`avo eval`) | tuner | best |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        seed = (f"{r['seed']:.3g} {r['unit']}, {r['seed_ratio']:.2f}x eager"
                if "seed" in r else "-")
        tuner = (f"{r['commits']} commit(s) in {r['tuner_steps']} steps"
                 + (f": {'; '.join(r['committed'])}" if r["committed"] else "")
                 if "commits" in r else "-")
        best = (f"{r['best']} {r['best_score']:.3g} {r['unit']}"
                + (f", {r['best_ratio']:.2f}x eager" if r.get("best_ratio") else "")
                if "best" in r else "-")
        imported = r["imported"] if r["imported"] != "refused" else f"refused: {r['why']}"
        lines.append(f"| {r['problem']} | {imported} | {r.get('check', '-')} | {seed} | "
                     f"{tuner} | {best} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4,
                        help="tuner steps per problem (0: no tuner run)")
    parser.add_argument("--only", nargs="*", default=None, help="problems by stem")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    parser.add_argument("--json", action="store_true", help="rows as JSON")
    parser.add_argument("--no-seed", action="store_true",
                        help="import with no seed: each row stops at check")
    args = parser.parse_args()
    problems = sorted(EXAMPLES.glob("level*.py"))
    if args.only:
        problems = [p for p in problems if p.stem in args.only]
    work = args.work or Path(tempfile.mkdtemp(prefix="kernelbench-"))
    rows = []
    for problem in problems:
        rows.append(one(problem, work, args.steps, seeded=not args.no_seed))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

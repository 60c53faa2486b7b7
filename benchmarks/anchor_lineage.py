#!/usr/bin/env python3
"""A lineage's recorded scores against a rescore of every version (issue 69).

    python3 benchmarks/anchor_lineage.py                       # cpu-attention, 10 versions
    python3 benchmarks/anchor_lineage.py --target mha --versions 10 --json

A score is a version's rate over the anchor's (engine/scores.py), measured in the sweeps of
the decision that recorded it. This builds a lineage of ``--versions`` real kernels on the
target's quick grid: v0 the target's seed, scored as ``avo run`` scores it, and each later
version the seed with 0, 1 or 2 steps of extra work (by turns; the seeds' AVO_EXTRA_WORK
hook, as benchmarks/gate_power.py uses it: a step is about 5% on cpu-attention, 2% on mha),
its score recorded as the gate records it, from its evaluation beside the version before it,
on the real worker. Then every version is rescored as ``avo rescore``
measures it (engine/rescore.py: on its own beside the anchor), and each recorded score is
held against its rescore:

    recorded, rescored   the version's rate over the anchor's, with the standard error of its
                         log
    change_pct           rescored over recorded, in percent
    allowed_pct          how far apart the two may be: t99 (for the rescore's degrees of
                         freedom) times their combined standard error, plus the session's
                         noise, as the incumbent check allows (engine/anchor_check.py)
    agrees               |log(rescored / recorded)| within that

Chained scores (before anchors) carried each link's error into every later score, a random
walk down the lineage; anchored ones carry none, so the change does not grow with the
version's depth. The exit status is 1 where a version does not agree.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

from avo_tui.engine import Evaluator, RunSettings, create_session, seed_files
from avo_tui.engine.gate import NoiseEstimate
from avo_tui.engine.rescore import Rescorer
from avo_tui.engine.scores import anchor_ratio, anchored_score
from avo_tui.evaluation import get_target
from avo_tui.evaluation.paired import GatePlan, futile_z
from avo_tui.pool import evaluation_pool
from avo_tui.store import Score, Session

# A step of extra work, in the seeds' AVO_EXTRA_WORK units (benchmarks/gate_power.py's
# calibration copy: about 5% on cpu-attention, 2% on the mha grid of an H200).
STEP_UNITS = {"c": 3000, "cuda": 128}
MARK = {"c": "int avo_anchor_lineage_{n} = {n};\n",
        "cuda": "__device__ int avo_anchor_lineage_{n} = {n};\n"}


def version_files(seed: dict[str, str], toolchain: str, number: int) -> dict[str, str]:
    """Version ``number``: the seed with ``number % 3`` steps of extra work, and a mark of its
    own (another kernel at the same work)."""
    main_file = next(iter(seed))
    units = (number % 3) * STEP_UNITS[toolchain]
    extra = f"#define AVO_EXTRA_WORK {units}\n" if units else ""
    return {**seed, main_file: extra + seed[main_file] + "\n" + MARK[toolchain].format(n=number)}


def build(session: Session, evaluator: Evaluator, count: int, plan: GatePlan) -> None:
    """v1 .. v{count - 1}: each recorded from its evaluation beside the version before it."""
    seed = session.read_files("v0")
    root = session.lineage.root()
    assert root is not None
    for number in range(1, count):
        files = version_files(seed, evaluator.target.toolchain, number)
        parent = session.version("head")
        result = evaluator.evaluate(files, incumbent=session.read_files(parent), gate=plan,
                                    fresh_baselines=True, anchor=seed)
        score = anchored_score(result, root.score)
        if score is None:
            raise SystemExit(f"v{number} failed: {result.failure}")
        session.commit(files, author="tuner", message=f"{number % 3} steps of extra work",
                       score=score)
        print(f"v{number}: recorded {anchor_ratio(score):.4g}x {score.anchor}", flush=True)


def compare(session: Session, rescored: dict[str, Score]) -> list[dict[str, object]]:
    noise = NoiseEstimate.from_doc(session.run_state.noise).pct
    rows = []
    for version in session.lineage:
        was, now = version.score, rescored.get(version.id)
        if was is None or now is None:
            continue
        before, after = anchor_ratio(was), anchor_ratio(now)
        assert before and after, "every score here is measured against the anchor"
        se = math.hypot(was.anchor_se or 0.0, now.anchor_se or 0.0)
        dof = 2 * len(now.anchor_ratios)  # three rounds per configuration alone
        allowed = futile_z(dof) * se + math.log1p(noise / 100)
        change = math.log(after / before)
        rows.append({"version": version.id, "recorded": round(before, 4),
                     "recorded_se": was.anchor_se, "rescored": round(after, 4),
                     "rescored_se": now.anchor_se, "change_pct": round(100 * math.expm1(change), 2),
                     "allowed_pct": round(100 * math.expm1(allowed), 2),
                     "agrees": abs(change) <= allowed})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--gate-cap", type=float, default=None, metavar="S",
                        help="seconds each recorded decision may measure (the target's cap)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    target = get_target(args.target)
    plan = GatePlan(cap_s=args.gate_cap or target.gate_cap_s)
    with tempfile.TemporaryDirectory() as folder, evaluation_pool(target) as pool:
        evaluator = Evaluator(target, pool, quick=True)
        session = create_session(Path(folder) / "lineage", target, RunSettings(quick=True),
                                 seed_files(target), evaluator)
        with session:
            build(session, evaluator, args.versions, plan)
            report = Rescorer(session, evaluator, say=print).run(list(session.lineage))
            rows = compare(session, {c.version: c.now for c in report.changes})
    if args.json:
        print(json.dumps({"target": target.name, "versions": rows}, indent=1))
    else:
        print(f"{'version':<8} {'recorded':>9} {'rescored':>9} {'change':>8} {'allowed':>8}")
        for row in rows:
            print(f"{row['version']:<8} {row['recorded']:>9} {row['rescored']:>9} "
                  f"{row['change_pct']:>+7.2f}% {row['allowed_pct']:>7.2f}%"
                  + ("" if row["agrees"] else "  DOES NOT AGREE"))
    failed = [row["version"] for row in rows if not row["agrees"]]
    if report.failed or failed or len(rows) < args.versions:
        print(f"not every version agrees: {failed}, failed: {report.failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where a record's roughness comes from: the kernel, the best beside it, or the machine.

    python3 benchmarks/record_roughness.py --target cpu-attention --quick --load 3
    python3 benchmarks/record_roughness.py --target mha --decisions 4 --json

A commit's record is its rate over the anchor's, from the gate's sweeps; a record rougher than
RECORD_SE at the cap is refused unless the anchor alone jittered nearly as much in the same
sweeps (engine/anchor_check.rough_record). Each decision here is a gate's measurement on the
real worker, run to its cap (``--cap-s``): the target's seed as the candidate, beside a copy
doing ``--extra`` units of extra work (the seeds' AVO_EXTRA_WORK) as the best, the anchor
timed beside both. ``--load`` starts that many busy processes for the run, a loaded machine.
For each decision the table gives the standard error (of the log, in percent) of

    pair        the candidate's gain over the best, block by block
    cand/anc    the candidate's rate over the anchor's: the record it would get
    best/anc    the best's rate over the anchor's, read beside it
    anc alone   what the anchor's own jitter gives a rate over it (EvalResult.anchor_jitter_se)

and ``x anc``, the record's error over the anchor's alone, which rough_record excuses up to
MACHINE_ROUGHNESS (2x); and ``gap``, the log of cand/anc over best/anc less the pair's log gain
(in percent, signed), which is 0 where the two rates over the anchor agree with the gain timed
between them (on four H200s, 8 of 8 gates on a two-configuration grid read +0.1% to +4.7%, with
the candidate checked 3.3 times as often as the best). On a loaded CPU the anchor, a multi-
threaded torch kernel, is what jitters: the pair stays steady while both rates over the anchor
are rough by as much as the anchor alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from common.gate_copies import CALIBRATION_UNITS, Copies, marked
from common.tables import cell, fixed

from avo_tui.engine import seed_files
from avo_tui.engine.anchor_check import MACHINE_ROUGHNESS
from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target
from avo_tui.evaluation.paired import RECORD_SE, GatePlan, PairedGain

BUSY = "while True: pass"


def errors(result: EvalResult) -> dict[str, Any]:
    """The decision's four standard errors (logs) and what rough_record makes of them."""
    paired = PairedGain({c.name: list(c.block_gains) for c in result.timed})
    record, best = result.versus_anchor, result.incumbent_versus_anchor
    record_se = record.se if record is not None else None
    jitter = result.anchor_jitter_se
    times = record_se / jitter if record_se is not None and jitter else None
    return {
        "sweeps": result.beside.get("sweeps"), "seconds": result.beside.get("seconds"),
        "pair_se": paired.se, "record_se": record_se,
        "gap": (record.log_gain - best.log_gain - paired.log_gain
                if record is not None and best is not None else None),
        "best_se": best.se if best is not None else None, "anchor_alone_se": jitter,
        "record_over_anchor_alone": times,
        "recordable": record_se is not None and (
            record_se <= RECORD_SE or (times is not None and times <= MACHINE_ROUGHNESS)),
    }


def pct(value: float | None) -> str:
    return f"{100 * value:.2f}" if value is not None else "-"


def table(rows: list[dict[str, Any]], load: int) -> str:
    head = ("decision", "sweeps", "s", "pair", "cand/anc", "best/anc", "anc alone", "x anc",
            "gap", "recordable")
    body = [(n, row["sweeps"], f"{row['seconds']:.1f}", pct(row["pair_se"]),
             pct(row["record_se"]), pct(row["best_se"]), pct(row["anchor_alone_se"]),
             cell(row["record_over_anchor_alone"], ".2f"),
             cell(None if row["gap"] is None else 100 * row["gap"], "+.2f"),
             "yes" if row["recordable"] else "no")
            for n, row in enumerate(rows, start=1)]
    return "\n".join([f"load: {load} busy processes; errors in percent (standard error of the log)",
                      *fixed((8, 6, 5, 6, 8, 8, 9, 6, 6, 10), [head, *body])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--quick", action="store_true", help="the target's quick grid")
    parser.add_argument("--decisions", type=int, default=4, help="gate measurements (default 4)")
    parser.add_argument("--cap-s", type=float, default=10.0,
                        help="seconds each measures to, as a gate that reaches its cap (10)")
    parser.add_argument("--extra", type=int,
                        help="units of extra work in the best (default: about 5%% on the CPU, "
                        "2%% on a GPU)")
    parser.add_argument("--load", type=int, default=0,
                        help="busy processes to run meanwhile, a loaded machine (default 0)")
    parser.add_argument("--json", action="store_true", help="the rows as JSON, not a table")
    args = parser.parse_args(argv)
    if args.decisions < 1 or args.load < 0 or not args.cap_s > 0:
        parser.error("--decisions must be 1 or more, --load 0 or more, --cap-s above 0")
    target = get_target(args.target)
    seed = seed_files(target)
    best = Copies(seed).with_extra(args.extra or CALIBRATION_UNITS[target.toolchain])
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load)]
    rows: list[dict[str, Any]] = []
    try:
        with Worker(target.device) as worker:
            worker.wait_ready()
            for n in range(args.decisions):
                request = EvalRequest(target.ref, marked(seed, target.toolchain, n),
                                      quick=args.quick, incumbent=best, anchor=seed,
                                      gate=GatePlan(cap_s=args.cap_s, early=False))
                result = worker.evaluate(request)
                if not result.correct:
                    raise SystemExit(f"decision {n + 1}: {result.summary()}")
                rows.append(errors(result))
                print(f"decision {n + 1}/{args.decisions}: record ±{pct(rows[-1]['record_se'])}%"
                      f", anchor alone ±{pct(rows[-1]['anchor_alone_se'])}%",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted: the decisions so far", file=sys.stderr)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(json.dumps(rows, indent=1) if args.json else table(rows, args.load))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Every adversarial kernel of tests/adversarial through the evaluator: what it gets, and how
fast it looks next to the honest kernel it is built on.

    python benchmarks/attacks.py --target cpu-attention
    python benchmarks/attacks.py --target mha --json

Each row is one kernel: the verdict (PASS, or the failure kind), its geometric mean, and that
over the honest kernel's, measured on the same warm worker in the same run. A cheat that gets
PASS at many times the honest speed is a hole. After each kernel the honest one is evaluated
again (`then honest`): a figure far from 1 means the kernel corrupted the harness itself, and
every later row is suspect too. Run it against another checkout of avo-tui with
``PYTHONPATH=that/checkout`` to compare evaluators: the script only uses the evaluation API
that every version has had (EvalRequest, Worker).

``writes_cache`` is given the path of the honest kernel's cached library, which it tries to
overwrite; the row after it evaluates the honest source again and says whether the bytes it
loaded were the ones the compiler wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NotRequired, TypedDict

from common import ROOT

from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target

ATTACKS = ROOT / "tests" / "adversarial"
FOLDERS = {"c": ATTACKS / "kernels", "cuda": ATTACKS / "cuda"}
HONEST = {"c": "honest.c", "cuda": "honest.cu"}
SKIP = {"naive.h", "naive.cuh", "compile_error.c", "segfault.c", "illegal_address.cu"}
HANG_TIMEOUT_S = 20.0


def sources(folder: Path, name: str, prefix: str = "") -> dict[str, str]:
    header = "naive.h" if name.endswith(".c") else "naive.cuh"
    return {name: prefix + (folder / name).read_text(), header: (folder / header).read_text()}


class Row(TypedDict):
    kernel: str
    verdict: str  # PASS, or the failure kind
    geomean: float
    x_honest: float | None  # over the honest kernel's geomean
    then_honest_x: NotRequired[float | None]  # the honest kernel evaluated right after
    detail: str


def verdict(result: EvalResult) -> str:
    return "PASS" if result.failure is None else str(result.failure.kind)


def artifact(result: EvalResult) -> Path | None:
    """The library (or cubin) the kernel compiled to, where it compiled."""
    return result.compile.artifact if result.compile is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args(argv)
    target = get_target(args.target)
    folder, honest_name = FOLDERS[target.toolchain], HONEST[target.toolchain]
    names = sorted(p.name for p in folder.iterdir() if p.name not in SKIP and p.is_file())
    rows: list[Row] = []

    with Worker(target.device) as worker:

        def run(name: str, prefix: str = "") -> EvalResult:
            request = EvalRequest(target.ref, sources(folder, name, prefix), quick=True,
                                  measure_baselines=False)
            return worker.evaluate(request, timeout_s=HANG_TIMEOUT_S)

        honest = run(honest_name)
        if honest.failure is not None:
            print(f"the honest kernel failed: {honest.failure}", file=sys.stderr)
            return 1
        base = honest.geomean
        for name in names:
            if name == honest_name:
                continue
            prefix = ""
            if name.startswith("writes_cache"):
                prefix = f'#define CACHED_LIBRARY "{artifact(honest)}"\n'
            result = run(name, prefix)
            after = run(honest_name)
            rows.append({"kernel": name, "verdict": verdict(result),
                         "geomean": round(result.geomean, 4),
                         "x_honest": round(result.geomean / base, 2) if base else None,
                         "then_honest_x": round(after.geomean / base, 2) if base else None,
                         "detail": str(result.failure or "")[:160]})
            print(f"{name}: {rows[-1]['verdict']}", file=sys.stderr, flush=True)
            if name.startswith("writes_cache"):
                again = run(honest_name)
                loaded = artifact(again)
                planted = loaded is not None and loaded.exists() and (
                    b"planted" in loaded.read_bytes())
                rows.append({"kernel": f"{honest_name} after {name}", "verdict": verdict(again),
                             "geomean": round(again.geomean, 4),
                             "x_honest": round(again.geomean / base, 2) if base else None,
                             "detail": "loaded the planted file" if planted
                             else str(again.failure or "")[:160]})

    report = {"target": target.name, "honest_geomean": base, "unit": target.unit, "rows": rows}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{target.name}: honest {base:.4g} {target.unit}")
    print(f"{'kernel':36} {'verdict':20} {'x honest':>9} {'then honest':>11}  detail")
    for row in rows:
        ratio = f"{row['x_honest']:.2f}" if row["x_honest"] is not None else "-"
        then = row.get("then_honest_x")
        then_text = f"{then:.2f}" if then is not None else ""
        print(f"{row['kernel']:36} {row['verdict']:20} {ratio:>9} {then_text:>11}  "
              f"{row['detail'][:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The exported operator (avo export --torch) beside the evaluator, target by target.

    python benchmarks/export_speed.py --targets cpu-attention rmsnorm-cpu --rounds 3
    python benchmarks/export_speed.py --targets mha gqa mha-d64 --out /tmp/exports --json f.json

Each target's seed is exported as a package (avo export --target T --torch DIR), then checked
as `avo export --check DIR --rounds N` checks it, in a fresh process that imports the package
from DIR: correct against the float64 reference on the grid, the edge shapes, drawn shapes and
hostile input cases; the same output through torch.compile(fullgraph=True) and (on a GPU) a
CUDA graph replayed on new inputs; a warning and a correct fallback on a head dim it was not
verified on; and per configuration the throughput through torch beside the evaluator's own
kernel, launched one by one in the same sequence of the evaluator's loop (CUDA events after an
L2 flush, or the wall clock on the CPU), and beside the evaluator's score of the kernel from
its worker, the medians of N rounds. `x kernel` is the geomean ratio op / the evaluator's
kernel side by side (1.0: the op costs nothing over the evaluator's launch); `x score` the
ratio to the evaluator's score, timed apart (a GPU at its power limit reads that one high).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401  (avo_tui and tests/ on sys.path)


def software() -> dict[str, object]:
    import torch

    facts: dict[str, object] = {"python": platform.python_version(), "torch": torch.__version__,
                                "cpu": platform.processor() or platform.machine()}
    if torch.cuda.is_available():
        from cuda.bindings import driver

        _, version = driver.cuDriverGetVersion()
        facts |= {"gpu": torch.cuda.get_device_name(), "cuda": torch.version.cuda,
                  "cudnn": torch.backends.cudnn.version(),
                  "driver_cuda": f"{version // 1000}.{version % 1000 // 10}"}
        from avo_tui.evaluation.devices.gpu import _nvidia_driver

        facts["driver"] = _nvidia_driver()
    return facts


def export_and_check(target: str, out: Path, rounds: int, quick: bool) -> dict[str, Any]:
    from avo_tui.cli import main
    from avo_tui.commands.export_check import run_check

    folder = out / target
    if main(["export", "--target", target, "--torch", str(folder), "--force"]) != 0:
        return {"target": target, "failures": ["the export failed"]}
    figures = out / f"{target}.json"
    code = run_check(folder, quick=quick, json_out=figures, rounds=rounds)
    report: dict[str, Any] = (json.loads(figures.read_text()) if figures.exists()
                              else {"target": target, "failures": [f"the check exited {code}"]})
    return report


def row(report: dict[str, Any]) -> str:
    timing = report.get("timing") or {}
    rows = report.get("correctness") or []
    correct = f"{sum(r['passed'] for r in rows)}/{len(rows)}"
    ratio = timing.get("geomean_ratio")
    score = timing.get("geomean_ratio_score")
    fallback = (report.get("fallback") or {}).get("warning") is not None
    graph = report.get("cuda_graph")
    return (f"{report['target']:<14}{report.get('version') or '-':<7}{correct:>9}"
            f"{'yes' if report.get('torch_compile_fullgraph') else 'NO':>9}"
            f"{'-' if graph is None else 'yes' if graph else 'NO':>7}"
            f"{'yes' if fallback else 'NO':>10}"
            f"{(f'{ratio:.3f}' if ratio else '-'):>10}{(f'{score:.3f}' if score else '-'):>9}"
            f"   {len(report['failures'])} failure(s), {report.get('seconds')} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=["cpu-attention", "rmsnorm-cpu"])
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 21), metavar="N")
    parser.add_argument("--quick", action="store_true", help="the targets' quick grids")
    parser.add_argument("--out", type=Path, default=Path("/tmp/avo-exports"))
    parser.add_argument("--json", type=Path, help="write every report here too")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = software()
    reports = []
    for target in args.targets:  # the figures kept after each target: a cut run keeps them
        started = time.perf_counter()
        reports.append(export_and_check(target, args.out, args.rounds, args.quick))
        reports[-1]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"# {target}: {reports[-1]['seconds']} s", flush=True)
        if args.json:
            args.json.write_text(json.dumps({"software": facts, "reports": reports}, indent=1))
    print(f"\n{'target':<14}{'kernel':<7}{'correct':>9}{'compile':>9}{'graph':>7}"
          f"{'fallback':>10}{'x kernel':>10}{'x score':>9}")
    for report in reports:
        print(row(report))
    print("\n" + ", ".join(f"{k} {v}" for k, v in facts.items()))
    return 1 if any(r["failures"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

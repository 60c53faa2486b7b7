#!/usr/bin/env python3
"""Kernels side by side against cuDNN and FlashAttention-2, -3 and -4, through the real evaluator.

    python benchmarks/kernel_vs_baselines.py                    # each target's seed
    python benchmarks/kernel_vs_baselines.py --quick --json
    python benchmarks/kernel_vs_baselines.py --repeat 3 --out figures.json   # tables + JSON
    python benchmarks/kernel_vs_baselines.py my.cu --targets mha mha-d64
    python benchmarks/kernel_vs_baselines.py seed seed:BLOCK_N=128 \
        kernels/cuda/attention_wgmma.cu:OVERLAP=0,PINGPONG=0    # a file under other knob values

Every kernel is evaluated on every target exactly as `avo eval FILE --target T --json` does
(the same worker process, checks and timing): correctness on every configuration and edge
shape, then timing on the target's grid (--quick: its short grid). Needs a CUDA GPU. Figures,
per target and configuration, all in TFLOP/s (4*B*Hq*S^2*D FLOPs, halved for causal, over
the median time):

    kernel          the kernel's throughput; 0 when it failed anywhere (it is then rejected)
    cudnn, flash    torch SDPA pinned to the cuDNN / FlashAttention-2 backend, timed in
                    alternating rounds with the first kernel of the run; later kernels on the
                    same worker reuse those baseline timings, so every kernel is compared
                    with the same baseline figures
    fa4             FlashAttention-4 (flash_attn.cute) in its own [B, S, H, D] layout, timed
                    the same way where it is installed; "-" where it is not
    fa3             FlashAttention-3's forward (fa3_fwd_interface, the fa3-fwd wheel), likewise
    x_cudnn, x_flash, x_fa4, x_fa3    kernel / baseline
    x_best_fa       kernel / the faster of FA3 and FA4, configuration by configuration (their
                    geomean: the bar the seed must clear)
    x_cudnn_by_mask     the geomean of x_cudnn over the non-causal and the causal configurations
    geomean         per target, the geometric mean over the grid of each column (the score
                    `avo eval` prints), and the ratios of those geomeans
    regs, spills    registers per thread and spilled bytes (stores + loads) from ptxas
    correct         whether every configuration and edge shape passed; else the failure

Two kernels a percent or two apart cannot be told apart by one run: the same kernel's figure
moves by 2-3% between runs. --repeat N evaluates every kernel N times, in an order rotated each
round (round r starts with the r-th kernel), after one discarded warm-up evaluation that takes
the baselines' timing and compiles; each kernel's figures are then those of its median round,
and a table gives every round's geomean, the spread, and the ratio of medians to the first
kernel listed:

    python benchmarks/kernel_vs_baselines.py NEW.cu OLD.cu --targets mha --repeat 3

That is the interleaved reading: each launch beside the baselines'. Users run attention back to
back with the GPU at its power limit, where a kernel that spends more energy per FLOP runs at a
lower clock (issue 70). --sustained adds that reading, after the evaluation (a kernel that
failed it is not timed): on every configuration each correct kernel and each baseline alone,
back to back for --seconds after --warmup, --rounds rounds each in a fresh random order (--seed
reproduces them), medians of rounds; TFLOP/s, the mean SM clock and board power (NVML), TFLOP/kJ,
the ratios as above, and the two readings side by side (benchmarks/common/sustained.py):

    python benchmarks/kernel_vs_baselines.py seed --targets mha --sustained
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common.kernels import SEED, Kernel
from common.progress import progress_lines
from common.sustained import reading as sustained_reading
from common.sustained import table as sustained_table
from common.tables import aligned, cell

from avo_tui.evaluation.targets.file import get_target  # no torch
from avo_tui.evaluation.targets.spec import known_names

DEFAULT_TARGETS = ("mha", "gqa", "gqa-4", "mha-d64")
DEFAULT_KERNELS = (SEED,)
BASELINES = ("cudnn", "flash", "fa4", "fa3")
STRONGEST = ("fa4", "fa3")  # x_best_fa: against the faster of these, per configuration
EXTRA = ("software", "sustained")  # the report's keys that are not targets
SUSTAINED = {"seconds": 0.5, "warmup": 0.5, "rounds": 3}  # issue 70's settings


def ratio(kernel: float, baseline: float | None) -> float | None:
    return round(kernel / baseline, 4) if baseline and kernel else None


def summarize(result: Any) -> dict[str, Any]:
    """The figures of one EvalResult (kernel x target)."""
    from avo_tui.evaluation.results import geometric_mean

    data = result.as_dict()
    configs = []
    for c in result.timed:
        row: dict[str, Any] = {"config": c.name, "causal": c.config["causal"],
                               "kernel": round(c.throughput, 2)}
        for name in BASELINES:
            base = c.baselines.get(name)
            row[name] = round(base, 2) if base else None
            row[f"x_{name}"] = ratio(c.throughput, base)
        strongest = [row[name] for name in STRONGEST if row[name]]
        row["x_best_fa"] = ratio(c.throughput, max(strongest)) if strongest else None
        configs.append(row)
    summary: dict[str, Any] = {
        "correct": result.correct,
        "failure": str(result.failure) if result.failure else None,
        "regs": data.get("regs"),
        "spills": data.get("spills"),
        "geomean": round(result.geomean, 2),
    }
    for name in BASELINES:
        values = [row[name] for row in configs]
        base = geometric_mean(values) if values and None not in values else None
        summary[name] = round(base, 2) if base else None
        summary[f"x_{name}"] = ratio(result.geomean, base)
    best = [row["x_best_fa"] for row in configs]
    summary["x_best_fa"] = (round(geometric_mean(best), 4) if best and None not in best
                            else None)
    summary["x_cudnn_by_mask"] = ratios_by_mask(configs)
    summary["configs"] = configs
    return summary


def ratios_by_mask(configs: list[dict[str, Any]], baseline: str = "cudnn") -> dict[str, float]:
    """Geomean of kernel / baseline over the non-causal and over the causal configurations
    (issue 9's bar holds for each separately); a side with a missing ratio is left out."""
    from avo_tui.evaluation.results import geometric_mean

    result = {}
    for label, causal in (("non-causal", False), ("causal", True)):
        values = [row[f"x_{baseline}"] for row in configs if row["causal"] == causal]
        if values and None not in values:
            result[label] = round(geometric_mean(values), 4)
    return result


def progress(summary: dict[str, Any]) -> str:
    """One line per evaluation, so a long run shows its figures as they come."""
    if not summary["correct"]:
        return f"FAILED: {summary['failure']}"
    return (f"{summary['geomean']:.1f} TFLOP/s, {cell(summary['x_cudnn'], '.3f')}x cuDNN, "
            f"regs {summary['regs']} spills {summary['spills']}")


def round_order(kernels: list[Kernel], round_index: int) -> list[Kernel]:
    """The kernels in the order of one round: rotated, so each kernel leads a round in turn."""
    shift = round_index % len(kernels)
    return kernels[shift:] + kernels[:shift]


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One kernel's summaries over the rounds: its median round's figures, every round's
    geomean, and their spread (max / min - 1, in percent). A failed round fails the kernel."""
    failed = [r for r in rounds if not r["correct"]]
    if failed:
        return failed[0]
    ordered = sorted(rounds, key=lambda r: r["geomean"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    geomeans = [r["geomean"] for r in rounds]
    median["rounds"] = geomeans
    median["spread_pct"] = round((max(geomeans) / min(geomeans) - 1) * 100, 2)
    return median


def run(kernels: list[Kernel], targets: list[str], quick: bool, seed: int | None,
        repeat: int = 1) -> dict[str, Any]:
    from avo_tui.evaluation import Worker

    report: dict[str, Any] = {}
    with Worker("cuda") as worker:
        for name in targets:
            if repeat > 1:  # times the baselines and compiles, so that no round does
                evaluate(worker, name, kernels[0], quick, seed, " (warm-up, discarded)")
            rounds: dict[str, list[dict[str, Any]]] = {k.display(): [] for k in kernels}
            for index in range(repeat):
                label = f" (round {index + 1}/{repeat})" if repeat > 1 else ""
                for kernel in round_order(kernels, index):
                    rounds[kernel.display()].append(
                        evaluate(worker, name, kernel, quick, seed, label))
            report[name] = {k: combine(r) if repeat > 1 else r[0] for k, r in rounds.items()}
    return report


def evaluate(worker: Any, target_name: str, kernel: Kernel, quick: bool, seed: int | None,
             label: str = "") -> dict[str, Any]:
    """One kernel on one target, as `avo eval` does it; its figures, and a progress line."""
    from avo_tui.evaluation import EvalRequest, get_target

    target = get_target(target_name)
    request = EvalRequest(target.ref, kernel.sources(target), quick=quick, seed=seed)
    summary = summarize(worker.evaluate(
        request, on_progress=progress_lines(f"{target_name} {kernel.display()}{label}")))
    print(f"# {target_name} {kernel.display()}{label}: {progress(summary)}", file=sys.stderr,
          flush=True)
    return summary


def print_tables(report: dict[str, Any]) -> None:
    header = ("config", "kernel", *BASELINES, *(f"x_{name}" for name in BASELINES), "x_best_fa")
    for target, kernels in report.items():
        if target in EXTRA:
            continue
        for kernel, s in kernels.items():
            status = "correct" if s["correct"] else f"FAILED: {s['failure']}"
            print(f"\n== {target}  {kernel}  (regs {s['regs']}, spills {s['spills']}, {status})")
            rows = [_row(c["config"], c) for c in s["configs"]]
            rows.append(_row("geomean", {**s, "kernel": s["geomean"]}))
            print("\n".join(aligned([header, *rows])))
    print("\n== geomean TFLOP/s per target (kernel, " + ", ".join(f"x_{n}" for n in BASELINES)
          + ", x_best_fa; x_cudnn by mask)")
    for target, kernels in report.items():
        if target in EXTRA:
            continue
        for kernel, s in kernels.items():
            ratios = " ".join(f"{cell(s.get(f'x_{name}'), '.3f')}x" for name in BASELINES)
            ratios += f" {cell(s.get('x_best_fa'), '.3f')}x"
            masks = " ".join(f"{k} {v:.3f}x" for k, v in s["x_cudnn_by_mask"].items())
            bases = " ".join(f"{name} {cell(s.get(name), '.1f')}" for name in BASELINES)
            print(f"{target:<8} {kernel:<36} {cell(s['geomean'], '7.1f')} {ratios} ({masks})   "
                  f"{bases}   regs {s['regs']} spills {s['spills']} "
                  f"{'correct' if s['correct'] else 'FAILED'}")
    print_rounds(report)
    print("\n" + " ".join(f"{k} {v}" for k, v in report.get("software", {}).items()))


NOISY_SPREAD_PCT = 2.0  # a round spread past this: the GPU's speed drifted during the run


def per_round_ratios(rounds: list[float], first: list[float]) -> tuple[float, float, float] | None:
    """A kernel's geomean over the first kernel's, round by round: (median, least, most). Each
    round times every kernel within minutes, so a drift of the GPU's speed over the run (clocks,
    heat, a neighbour) cancels here where it does not in a ratio of medians."""
    if len(rounds) != len(first):
        return None
    pairs = sorted(a / b for a, b in zip(rounds, first, strict=True) if a and b)
    if not pairs:
        return None
    return pairs[(len(pairs) - 1) // 2], pairs[0], pairs[-1]


def print_rounds(report: dict[str, Any]) -> None:
    """With --repeat: each kernel's geomean per round, its spread, its median over the first
    kernel's median, and the median of its ratios to the first kernel round by round; a warning
    where a spread says the GPU drifted."""
    targets = {t: k for t, k in report.items() if t not in EXTRA}
    if not any("rounds" in s for kernels in targets.values() for s in kernels.values()):
        return
    print("\n== rounds: geomean TFLOP/s per round, spread, median x the first kernel's, and "
          "x the first kernel's per round (median, least-most)")
    spreads = []
    for target, kernels in targets.items():
        first = next(iter(kernels.values()))
        for kernel, s in kernels.items():
            rounds = " ".join(f"{g:.1f}" for g in s.get("rounds", []))
            share = cell(ratio(s["geomean"], first["geomean"]), ".3f")
            paired = per_round_ratios(s.get("rounds", []), first.get("rounds", []))
            each = "-" if paired is None else f"{paired[0]:.3f} ({paired[1]:.3f}-{paired[2]:.3f})"
            spreads.append(s.get("spread_pct", 0))
            print(f"{target:<8} {kernel:<36} {rounds}  spread {s.get('spread_pct', 0):.1f}%  "
                  f"x first {share}  per round {each}")
    if max(spreads) > NOISY_SPREAD_PCT:
        print(f"! rounds spread up to {max(spreads):.1f}%: the GPU's speed drifted during the "
              "run; trust the per-round ratios over the medians, or run again")


def _row(label: str, figures: dict[str, Any]) -> tuple[str, ...]:
    return (label, cell(figures["kernel"], ".1f"),
            *(cell(figures.get(name), ".1f") for name in BASELINES),
            *(cell(figures.get(f"x_{name}"), ".3f") for name in BASELINES),
            cell(figures.get("x_best_fa"), ".3f"))


def sustained(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The back-to-back reading of each target, of the kernels correct on it."""
    import random

    rng = random.Random(args.seed)
    out = {}
    for target in args.targets:
        correct = [k for k in args.kernels if report[target][k.display()]["correct"]]
        if correct:
            out[target] = sustained_reading(correct, target, quick=args.quick, baselines=BASELINES,
                                  strongest=STRONGEST, seconds=args.seconds,
                                  warmup=args.warmup, rounds=args.rounds, rng=rng,
                                  report=lambda line: print(line, file=sys.stderr, flush=True))
    return out


def two_readings(report: dict[str, Any]) -> list[str]:
    """Each kernel's ratios interleaved (the evaluation) and back to back, side by side."""
    lines = []
    for target, reading in report.get("sustained", {}).items():
        for kernel, back in reading["ratios"].items():
            inter = report[target][kernel]
            said = [f"{key} {inter[key]:.3f} / {back[key]:.3f}"
                    for key in (*(f"x_{n}" for n in BASELINES), "x_best_fa")
                    if inter.get(key) and key in back]
            lines.append(f"{target:<8} {kernel:<36} " + ", ".join(said))
    return lines


def print_sustained(report: dict[str, Any]) -> None:
    readings = report.get("sustained", {})
    for target, reading in readings.items():
        print(f"\n{sustained_table(target, reading, reading['unit'])}")
        print(f"({reading['seconds']:g} s a subject after {reading['warmup']:g} s, medians of "
              f"{reading['rounds']} rounds in random orders)")
    if readings:
        print("\n== interleaved / back to back")
        print("\n".join(two_readings(report)))


def software() -> dict[str, str]:
    """The versions behind the figures, FA4's included (its package, when installed)."""
    from importlib import metadata

    import torch

    found = {"torch": torch.__version__, "cuda": str(torch.version.cuda),
             "cudnn": str(torch.backends.cudnn.version())}
    for package in ("flash-attn-4", "nvidia-cutlass-dsl", "fa3-fwd"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernels", nargs="*", metavar="KERNEL",
                        help="kernel sources, each FILE or FILE:KNOB=VALUE,..., or seed "
                             "(each target's seed, its knob values included) "
                             f"(default: {' '.join(DEFAULT_KERNELS)})")
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS), metavar="T",
                        help=f"GPU targets (default: {' '.join(DEFAULT_TARGETS)})")
    parser.add_argument("--quick", action="store_true", help="time the targets' short grids")
    parser.add_argument("--seed", type=int, help="input seed, to reproduce a run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="also write the figures as JSON to FILE (with the tables printed)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="evaluate every kernel N times in rotated orders and keep each "
                             "one's median round (default: 1)")
    parser.add_argument("--sustained", action="store_true",
                        help="also time each kernel and baseline alone, back to back at the "
                             "power limit (see above)")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help="with --sustained: timed seconds per subject, configuration and "
                             f"round (default: {SUSTAINED['seconds']:g})")
    parser.add_argument("--warmup", type=float, metavar="S",
                        help="with --sustained: seconds back to back before each timing "
                             f"(default: {SUSTAINED['warmup']:g})")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help=f"with --sustained: rounds (default: {SUSTAINED['rounds']})")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for name, default in SUSTAINED.items():
        value = getattr(args, name)
        if value is not None and not args.sustained:
            parser.error(f"--{name} is a setting of --sustained")
        if value is not None and (value <= 0 if name != "warmup" else value < 0):
            parser.error(f"--{name} must be {'positive' if name != 'warmup' else 'at least 0'}")
        setattr(args, name, default if value is None else value)
    args.rounds = int(args.rounds)
    gpu = [t for t in known_names() if get_target(t).device == "cuda"]
    for name in args.targets:
        if name not in gpu:
            parser.error(f"unknown GPU target {name!r} (known: {', '.join(gpu)})")
    from avo_tui.evaluation.declarations.candidate import CandidateError

    kernels = []
    for text in args.kernels or list(DEFAULT_KERNELS):
        try:
            kernel = Kernel.parse(text)
            if not kernel.is_seed and not kernel.path.is_file():
                parser.error(f"no such kernel file: {kernel.path}")
            for name in args.targets:  # an unknown knob or value is refused before GPU work
                kernel.sources(get_target(name))
        except (ValueError, CandidateError) as error:
            parser.error(str(error))
        kernels.append(kernel)
    args.kernels = kernels
    return args


def save(report: dict[str, Any], out: Path | None) -> None:
    """``report`` as JSON to ``out`` (none: nothing), whole: written beside it, then moved."""
    if out is None:
        return
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(out)


def main(argv: list[str] | None = None) -> int:
    from avo_tui.evaluation.isolation.worker import WorkerError

    args = parse_args(argv)
    try:
        report = run(args.kernels, args.targets, args.quick, args.seed, args.repeat)
    except WorkerError as error:
        print(f"kernel_vs_baselines: {error}", file=sys.stderr)
        return 2
    report["software"] = software()
    # The interleaved figures are kept and shown before the back-to-back reading, which can
    # take minutes: a device call that runs out of time in it still returns them.
    save(report, args.out)
    if not args.json:
        print_tables(report)
        sys.stdout.flush()
    if args.sustained:
        report["sustained"] = sustained(report, args)
        save(report, args.out)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_sustained(report)
    kernels = [s for t, k in report.items() if t not in EXTRA for s in k.values()]
    return 0 if all(s["correct"] for s in kernels) else 3


if __name__ == "__main__":
    sys.exit(main())

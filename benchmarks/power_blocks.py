#!/usr/bin/env python3
"""What the gate under the power limit needs measured first (docs/engine.md, "The gate under
the power limit", issue 70 item 2): on one configuration, two kernels (ours and a baseline by
default) in one continuous stream at the power limit, the GPU never idle.

    python3 benchmarks/power_blocks.py --target mha --config b8-h16-s4096-d128-full
    python3 benchmarks/power_blocks.py seed cudnn --blocks 0.05,0.1,0.2 --seconds 20 --json

1. **Settling.** A back to back for WARM_S, then B: B's launches timed one by one (a pair of
   CUDA events each) until its time per launch stays within TOLERANCE of where it ends. The
   milliseconds that took, each way: how much of a block a switch costs.
2. **Blocks in A B B A order.** For each block length: blocks of each kernel back to back
   with no idle between them, in sets A B B A (which kernel is A alternating between sets),
   each block's first SETTLE_S left out and the rest averaged per launch; each set's gain is
   log((B1 + B2) / (A1 + A2)) per launch. The gain, its standard error over the sets, and
   that error times the square root of the seconds spent, to compare with today's gate per
   second of GPU time. The same with A against itself (its copy), where the gain must be 0.

Needs a CUDA GPU. The arithmetic (``settle_index``, ``block_gain``, ``summary``) is plain and
tested on the CPU (tests/unit/test_power_blocks.py).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

WARM_S = 2.0  # A alone before the switch: the board at its limit, the clock where A holds it
TOLERANCE = 0.005  # settled: a launch's time within 0.5% of the median of the last ones
WINDOW = 8  # launches whose median is compared, so one slow launch does not read as unsettled
SETTLE_S = 0.02  # left out of each block (measured by part 1; 20 ms until it is)


def settle_index(times: Sequence[float], tolerance: float = TOLERANCE,
                 window: int = WINDOW) -> int | None:
    """The first launch from which every running median of ``window`` launches stays within
    ``tolerance`` of the median of the last quarter of ``times``; None where too few."""
    if len(times) < 4 * window:
        return None
    final = statistics.median(times[-len(times) // 4:])
    medians = [statistics.median(times[i:i + window]) for i in range(len(times) - window + 1)]
    settled = len(medians)
    for index in range(len(medians) - 1, -1, -1):
        if abs(medians[index] / final - 1.0) > tolerance:
            break
        settled = index
    return settled


def settled_mean(times: Sequence[float], leave_s: float) -> float:
    """The mean time of a block's launches after its first ``leave_s`` seconds (the whole
    block where it is shorter)."""
    elapsed, start = 0.0, 0
    for index, seconds in enumerate(times):
        if elapsed >= leave_s:
            start = index
            break
        elapsed += seconds
    kept = list(times[start:]) or list(times)
    return statistics.fmean(kept)


def block_lengths(asked: str | None, settle_s: float) -> list[float]:
    """The block lengths to time: those asked for, else 2 and 4 times the settling (on an H200
    at 700 W, cuDNN after our seed took 0.40 s to settle, longer than the fixed default of
    0.05-0.4 s this replaced, which so timed nothing)."""
    if asked:
        return [float(x) for x in asked.split(",")]
    return [round(settle_s * factor, 3) for factor in (2, 4)]


def block_gain(a1: float, b1: float, b2: float, a2: float) -> float:
    """One A B B A set's gain of A over B, from each block's mean time per launch: drifts
    linear over the set cancel."""
    return math.log((b1 + b2) / (a1 + a2))


@dataclass(frozen=True)
class Summary:
    """Sets of one block length: the mean gain of A over B (a log ratio), its standard error,
    that error scaled to one second of GPU time, the sets and the seconds."""

    block_s: float
    gain: float
    se: float
    se_per_root_s: float
    sets: int
    seconds: float


def summary(block_s: float, gains: Sequence[float], seconds: float) -> Summary:
    se = statistics.stdev(gains) / math.sqrt(len(gains)) if len(gains) > 1 else math.inf
    return Summary(block_s, statistics.fmean(gains), se, se * math.sqrt(seconds), len(gains),
                   seconds)


Launch = Callable[[], object]
Timed = list[tuple[Any, Any]]  # each launch's pair of CUDA events


class Stream:
    """Launches queued back to back on torch's stream, each between its own pair of CUDA
    events; the host synchronizes only to read a finished part, never leaving the GPU idle
    while it queues."""

    def __init__(self) -> None:
        import torch

        self.cuda = torch.cuda

    def run(self, launch: Launch, count: int) -> Timed:
        events: Timed = []
        for _ in range(count):
            start = self.cuda.Event(enable_timing=True)
            end = self.cuda.Event(enable_timing=True)
            start.record()
            launch()
            end.record()
            events.append((start, end))
        return events

    def times(self, events: Timed) -> list[float]:
        events[-1][1].synchronize()
        return [start.elapsed_time(end) / 1000.0 for start, end in events]

    def back_to_back(self, launch: Launch, seconds: float, each_s: float) -> None:
        for _ in range(2):  # in two halves: the second queued while the first runs
            self.times(self.run(launch, max(1, int(seconds / 2 / each_s))))


def each_launch_s(stream: Stream, launch: Launch) -> float:
    """A first estimate of one launch's time, back to back (for the count a block needs)."""
    stream.times(stream.run(launch, 3))
    return statistics.median(stream.times(stream.run(launch, 20)))


def settling(stream: Stream, first: Launch, then: Launch, each_s: float, probe_s: float
             ) -> dict[str, float | None]:
    """``first`` to its limit, then ``then`` timed launch by launch: how long it took to
    settle (ms) and by how much its first launches differed from its settled time."""
    stream.back_to_back(first, WARM_S, each_s)
    times = stream.times(stream.run(then, max(4 * WINDOW, int(probe_s / each_s))))
    index = settle_index(times)
    final = statistics.median(times[-len(times) // 4:])
    return {"settle_ms": None if index is None else 1000.0 * sum(times[:index]),
            "launches": index, "first_over_settled": statistics.fmean(times[:WINDOW]) / final}


def abba(stream: Stream, a: Launch, b: Launch, each: tuple[float, float], block_s: float,
         seconds: float, leave_s: float) -> Summary:
    """A B B A sets of ``block_s`` blocks for about ``seconds``, the first of each block left
    out; which kernel leads alternates between sets, the gain always of ``a`` over ``b``."""
    counts = (max(1, int(block_s / each[0])), max(1, int(block_s / each[1])))
    sets = max(2, int(seconds / (4 * block_s)))
    gains = []
    pending: list[tuple[bool, list[Timed]]] = []
    stream.back_to_back(a, WARM_S, each[0])
    for index in range(sets):
        a_leads = index % 2 == 0
        order = [(a, counts[0]), (b, counts[1])] if a_leads else [(b, counts[1]), (a, counts[0])]
        blocks = [stream.run(launch, count) for launch, count in (*order, *order[::-1])]
        pending.append((a_leads, blocks))
        if len(pending) > 1:  # read the previous set while this one runs
            gains.append(_gain(stream, *pending.pop(0), leave_s))
    gains += [_gain(stream, lead, blocks, leave_s) for lead, blocks in pending]
    return summary(block_s, gains, 4 * block_s * sets)


def _gain(stream: Stream, a_leads: bool, blocks: list[Timed],
          leave_s: float) -> float:
    first, second, third, fourth = (settled_mean(stream.times(b), leave_s) for b in blocks)
    if a_leads:
        return block_gain(first, second, third, fourth)
    return block_gain(second, first, fourth, third)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", nargs="?", default="seed",
                        help="a kernel as kernel_vs_baselines.py takes it (default: the seed)")
    parser.add_argument("b", nargs="?", default="cudnn", help="a baseline (default: cudnn)")
    parser.add_argument("--target", default="mha")
    parser.add_argument("--config", default="b8-h16-s4096-d128-full")
    parser.add_argument("--blocks", default=None,
                        help="block lengths in seconds, comma-separated (default: 2 and 4 times "
                        "the slower switch's settling, measured first)")
    parser.add_argument("--seconds", type=float, default=40.0,
                        help="per block length and pair (A/B, A/A)")
    parser.add_argument("--probe", type=float, default=0.5, help="seconds timed after a switch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 2
    from common.runners import baseline_runner, our_runner

    a, _kept = our_runner(args.a, args.target, args.config)
    copy, _also = our_runner(args.a, args.target, args.config)  # A against itself: gain 0
    b = baseline_runner(args.b, args.target, args.config)
    if isinstance(b, str):
        print(f"{args.b}: {b}", file=sys.stderr)
        return 2
    stream = Stream()
    each = (each_launch_s(stream, a), each_launch_s(stream, b))
    report: dict[str, object] = {"target": args.target, "config": args.config,
                                 "each_launch_ms": [1000 * s for s in each]}
    switches = {f"{args.b} after {args.a}": settling(stream, a, b, each[1], args.probe),
                f"{args.a} after {args.b}": settling(stream, b, a, each[0], args.probe)}
    report["settling"] = switches
    leave = max([s["settle_ms"] or 0.0 for s in switches.values()] + [1000 * SETTLE_S]) / 1000
    report["left_out_s"] = leave
    rows = []
    for block_s in block_lengths(args.blocks, leave):
        if block_s <= leave:
            print(f"# blocks of {block_s:g} s left out: no longer than a switch's settling "
                  f"({leave:.3f} s)", file=sys.stderr, flush=True)
            continue
        for pair, (x, y, ex) in {"A/B": (a, b, each), "A/A": (a, copy, (each[0], each[0]))
                                 }.items():
            result = abba(stream, x, y, ex, block_s, args.seconds, leave)
            rows.append({"pair": pair, **asdict(result)})
            print(f"# {pair} blocks of {block_s:g} s: gain {result.gain:+.4%} ± "
                  f"{result.se:.4%}, {result.se_per_root_s:.4%} per root second "
                  f"({result.sets} sets)", file=sys.stderr, flush=True)
    report["blocks"] = rows
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, found in switches.items():
            print(f"{name}: settled after {found['settle_ms']} ms ({found['launches']} "
                  f"launches), first launches {found['first_over_settled']:.4f}x settled")
        print(f"left out of each block: {1000 * leave:.1f} ms")
        print("pair  block s   gain      se        se x root s  sets")
        for row in rows:
            print(f"{row['pair']:5} {row['block_s']:<7g} {row['gain']:+.4%} {row['se']:.4%}"
                  f"   {row['se_per_root_s']:.4%}      {row['sets']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

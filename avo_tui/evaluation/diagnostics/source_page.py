"""ncu's SASS source page: the counters of every instruction (stall samples by reason, how often
it ran), the lines where warps stalled most, and the code regions, runs of instructions executed
about as often (a loop's body, a tile's prologue, its epilogue) with their share of the samples:
where the time goes per region, not per instruction (how issue 57 located the short causal
tiles' loss, docs/kernels.md). Pure parsing and formatting, for profile.py's `source` section.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

TOP_SASS = 15
TOP_REGIONS = 8
REGION_SHARE = 0.02  # of the stall samples: a region smaller is not shown
RUN_CHANGE = 2  # a change of execution count by more than this factor starts a new region
SASS_CHARS = 64


def number(text: str) -> float | None:
    """A value of ncu's CSV ("1,234.5" has thousands separators), or None (n/a, empty)."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


@dataclass
class SassLine:
    offset: int  # bytes from the kernel's first instruction
    sass: str
    samples: int
    reasons: dict[str, int] = field(default_factory=dict)
    executed: int = 0  # how often a warp executed it


@dataclass(frozen=True)
class Region:
    """A run of consecutive instructions executed about as often: a loop's body, a tile's
    prologue or epilogue, a producer's loop; how much of the time is spent where."""

    start: int  # offsets of its first and last instruction
    end: int
    instructions: int
    passes: int  # executions of its first executed instruction
    samples: int
    mma: int
    reasons: dict[str, int]


SAMPLE_COLUMNS = ("Warp Stall Sampling (All Samples)", "Warp Stall Sampling (All Cycles)")


def parse_source_csv(output: str) -> list[SassLine]:
    """ncu's source page for --print-source sass: maybe a "Kernel Name" line, a header row
    starting "Address","Source", then one row per SASS instruction with its counters."""
    table = list(csv.reader(io.StringIO(output)))
    start = next((i for i, r in enumerate(table) if r[:2] == ["Address", "Source"]), None)
    if start is None:
        return []
    header = table[start]
    column = next((header.index(c) for c in SAMPLE_COLUMNS if c in header), None)
    if column is None:
        return []
    reasons = {i: name[len("stall_"):] for i, name in enumerate(header)
               if re.fullmatch(r"stall_\w+", name)}
    executed = header.index("Instructions Executed") if "Instructions Executed" in header else None
    found: list[tuple[int, str, int, dict[str, int], int]] = []
    for row in table[start + 1:]:
        if len(row) <= column:
            continue
        try:
            address = int(row[0], 16)
        except ValueError:
            continue
        counts = {reason: int(number(row[i]) or 0) for i, reason in reasons.items()
                  if i < len(row)}
        runs = int(number(row[executed]) or 0) if executed is not None and executed < len(row) \
            else 0
        found.append((address, row[1].strip(), int(number(row[column]) or 0), counts, runs))
    if not found:
        return []
    base = min(address for address, *_ in found)
    return [SassLine(address - base, sass, samples, {k: v for k, v in counts.items() if v}, runs)
            for address, sass, samples, counts, runs in found]


def code_regions(sass: Sequence[SassLine]) -> list[Region]:
    """The kernel cut where the execution count changes by more than RUN_CHANGE times from the
    current run's (instructions never executed join the run they sit in)."""
    regions: list[Region] = []
    run: list[SassLine] = []
    passes = 0  # the run's first execution count

    def close() -> None:
        if run:
            reasons: dict[str, int] = {}
            for line in run:
                for reason, count in line.reasons.items():
                    reasons[reason] = reasons.get(reason, 0) + count
            regions.append(Region(run[0].offset, run[-1].offset, len(run), passes,
                                  sum(line.samples for line in run),
                                  sum("GMMA" in line.sass or "HMMA" in line.sass for line in run),
                                  reasons))

    for line in sass:
        within = passes / RUN_CHANGE <= line.executed <= passes * RUN_CHANGE
        if line.executed and passes and not within:
            close()
            run, passes = [], 0
        run.append(line)
        passes = passes or line.executed
    close()
    return regions


def stalled_lines(sass: Sequence[SassLine]) -> list[str]:
    """The profile's `source` section: the most stalled lines, then the code regions."""
    total = sum(line.samples for line in sass)
    if not total:
        return ["stalled SASS: n/a (no warp stall samples; the launch may be too short)"]
    lines = [f"SASS instructions where warps stalled most (share of {total} samples; offset "
             "from the kernel's start; top reasons):"]
    ranked = sorted(sass, key=lambda line: -line.samples)[:TOP_SASS]
    for line in ranked:
        if not line.samples:
            break
        top = sorted(line.reasons.items(), key=lambda item: -item[1])[:2]
        why = ", ".join(f"{reason} {100 * count / line.samples:.0f}%" for reason, count in top)
        text = line.sass if len(line.sass) <= SASS_CHARS else line.sass[:SASS_CHARS - 3] + "..."
        lines.append(f"  {100 * line.samples / total:5.1f}%  +0x{line.offset:05x}  {text}"
                     + (f"  ({why})" if why else ""))
    return lines + _regions(sass, total)


def _regions(sass: Sequence[SassLine], total: int) -> list[str]:
    """The regions holding REGION_SHARE of the samples or more, the largest TOP_REGIONS."""
    executed = sum(line.executed for line in sass)
    if not executed:
        return []
    shown = sorted((r for r in code_regions(sass) if r.samples >= REGION_SHARE * total),
                   key=lambda r: -r.samples)[:TOP_REGIONS]
    lines = [f"code regions (instructions executed about as often: a loop's body, a prologue, "
             f"an epilogue; {executed:,} warp instructions executed in all):"]
    for r in sorted(shown, key=lambda r: r.start):
        top = sorted(r.reasons.items(), key=lambda item: -item[1])[:2]
        why = ", ".join(f"{reason} {100 * count / max(1, r.samples):.0f}%" for reason, count in top)
        lines.append(f"  {100 * r.samples / total:5.1f}%  +0x{r.start:05x}-+0x{r.end:05x}  "
                     f"{r.instructions} instructions x {r.passes:,}, {r.mma} MMA"
                     + (f"  ({why})" if why else ""))
    return lines
